"""RAG, MultiHopRAG and ClosedBook over a tiny keyword retriever, with DummyLM as the LM.

`KeywordRetriever`, `PASSAGES` and `EXAMPLES` are shared with the optimizer and API tests.
"""

from __future__ import annotations

import copy
import json
import re

import dspy
import pytest
from dspy.dsp.utils import dotdict
from dspy.utils.dummies import DummyLM

from core.errors import RagdistillError
from data.loaders import load_examples
from programs.rag import (
    PROGRAMS,
    RAG,
    ClosedBook,
    MultiHopRAG,
    PassageSearch,
    balanced_by_hops,
    build_program,
    choose_program,
    hit_from_colbertv2,
)
from retrieval.base import Hit, Retriever

PASSAGES = [
    Hit("p1", "Zorvath", "Zorvath is a river city founded by Queen Elna.", 0.0),
    Hit("p2", "Queen Elna", "Queen Elna was born in Miralune.", 0.0),
    Hit("p3", "Miralune", "Miralune is a mountain village known for glass.", 0.0),
    Hit("p4", "Kestrel Bridge", "Kestrel Bridge crosses the Zorvath river.", 0.0),
    Hit("p5", "Glassworks", "The glassworks of Miralune employ forty people.", 0.0),
]

_STOPWORDS = {"a", "an", "the", "is", "was", "of", "by", "in", "for", "who", "what", "where", "does"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower())) - _STOPWORDS


class KeywordRetriever:
    """A real, tiny retriever: ranks passages by how many query words they share (ties by pid)."""

    def __init__(self, passages: list[Hit]):
        self.passages = passages
        self.queries: list[str] = []

    def search(self, query: str, k: int = 5) -> list[Hit]:
        self.queries.append(query)
        scored = [(len(_words(query) & _words(p.as_context())), p) for p in self.passages]
        ranked = sorted(scored, key=lambda pair: (-pair[0], pair[1].pid))[:k]
        return [Hit(p.pid, p.title, p.text, float(score)) for score, p in ranked]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        return [self.search(query, k) for query in queries]


def make_example(qid: str, question: str, answers: list[str], gold_pids: list[str]) -> dspy.Example:
    return dspy.Example(
        id=qid, question=question, answer=answers[0], answers=answers, gold_pids=gold_pids, hops=len(gold_pids)
    ).with_inputs("question")


EXAMPLES = [
    make_example("q1", "Who founded Zorvath?", ["Queen Elna", "Elna"], ["p1"]),
    make_example("q2", "Where was Queen Elna born?", ["Miralune"], ["p2"]),
    make_example("q3", "What is Miralune known for?", ["glass"], ["p3"]),
    make_example("q4", "What does Kestrel Bridge cross?", ["the Zorvath river", "Zorvath river"], ["p4"]),
    make_example("q5", "Where was the founder of Zorvath born?", ["Miralune"], ["p1", "p2"]),
]


@pytest.fixture
def retriever() -> KeywordRetriever:
    return KeywordRetriever(PASSAGES)


def test_keyword_retriever_follows_the_protocol(retriever):
    assert isinstance(retriever, Retriever)
    assert [hit.pid for hit in retriever.search("Who founded Zorvath?", k=2)] == ["p1", "p4"]


def test_rag_answers_from_the_top_k_passages(retriever):
    lm = DummyLM([{"answer": "Queen Elna"}])
    with dspy.context(lm=lm):
        prediction = RAG(retriever, k=2)(question="Who founded Zorvath?")
    assert prediction.answer == "Queen Elna"
    assert prediction.context == [
        "Zorvath | Zorvath is a river city founded by Queen Elna.",
        "Kestrel Bridge | Kestrel Bridge crosses the Zorvath river.",
    ]
    assert [hit.pid for hit in prediction.passages] == ["p1", "p4"]
    assert prediction.hop_pids == [["p1", "p4"]]
    prompt = lm.history[-1]["messages"][-1]["content"]
    assert "Zorvath is a river city founded by Queen Elna." in prompt
    assert "Answer the question with a short phrase taken from the context." in lm.history[-1]["messages"][0]["content"]


def test_multihop_writes_two_queries_and_deduplicates_context(retriever):
    lm = DummyLM([{"query": "Zorvath founder"}, {"query": "Queen Elna born Zorvath"}, {"answer": "Miralune"}])
    program = MultiHopRAG(retriever, k=2, hops=2, fusion="off")
    with dspy.context(lm=lm, trace=[]):
        prediction = program(question="Where was the founder of Zorvath born?")
        trace = list(dspy.settings.trace)
    assert retriever.queries == ["Zorvath founder", "Queen Elna born Zorvath"]
    # Hop 1 finds p1, p4; hop 2 finds p1 (again) and p2: p1 is kept once, and the latest hop's passages lead.
    assert [hit.pid for hit in prediction.passages] == ["p2", "p1", "p4"]
    assert prediction.hop_pids == [["p1", "p4"], ["p1", "p2"]]
    assert prediction.context == [hit.as_context() for hit in prediction.passages]
    assert prediction.answer == "Miralune"
    # The second query writer saw what the first hop found; the trace keeps what each step saw (distillation
    # trains on it), so the first step's context stays empty.
    assert "Kestrel Bridge crosses the Zorvath river." in lm.history[1]["messages"][-1]["content"]
    assert [len(inputs["context"]) for _, inputs, _ in trace] == [0, 2, 3]


@pytest.mark.parametrize("stop", ["none", "None.", ""])
def test_multihop_stops_searching_when_the_query_writer_says_nothing_is_missing(retriever, stop):
    lm = DummyLM([{"query": "Zorvath founder"}, {"query": stop}, {"answer": "Queen Elna"}])
    with dspy.context(lm=lm):
        prediction = MultiHopRAG(retriever, k=2, hops=2, fusion="off")(question="Who founded Zorvath?")
    assert retriever.queries == ["Zorvath founder"]
    assert prediction.hop_pids == [["p1", "p4"]]
    assert [hit.pid for hit in prediction.passages] == ["p1", "p4"]
    assert prediction.answer == "Queen Elna"


def test_multihop_fuses_each_written_query_with_the_question_and_what_is_known(retriever):
    # The written queries are bad ("glass", "bridge"): fusion keeps the passage the question itself finds.
    lm = DummyLM([{"query": "glass"}, {"query": "bridge"}, {"answer": "Queen Elna"}])
    question = "Who founded Zorvath?"
    with dspy.context(lm=lm):
        prediction = MultiHopRAG(retriever, k=1, hops=2)(question=question)
    # Hop 2's anchors: the question plus the lead sentence of hop 1's best passage, and plus the written query.
    anchor = f"{question} Zorvath: Zorvath is a river city founded by Queen Elna."
    assert retriever.queries == ["glass", question, "bridge", anchor, f"{question} bridge"]
    assert prediction.query_pids == [["p3"], ["p4"]]  # what the written queries alone found
    # Each hop: rankings of one passage each, all at rank 1 (1/61 each): the question's ranking wins the tie.
    assert prediction.hop_pids == [["p1"], ["p1"]]
    assert [hit.pid for hit in prediction.passages] == ["p1"]


def test_a_later_hop_keeps_the_bridge_passage_that_the_question_and_the_written_query_rank_first():
    # Queen Elna has two passages; her name alone ranks Zorvath's passage (read at hop 1) and her crowning above
    # the asked fact (where she was raised), third.
    facts = {
        "a1": ("Zorvath", "Zorvath is a river city. It was founded by Queen Elna."),
        "b1": ("Queen Elna", "Queen Elna was crowned in spring."),
        "c1": ("Count Orvo", "Count Orvo was raised in Tallow."),
        "c2": ("Lady Mirn", "Lady Mirn was raised in Oskar."),
        "q2": ("Queen Elna", "Queen Elna was raised in Miralune."),
    }
    retriever = KeywordRetriever([Hit(pid, title, text, 0.0) for pid, (title, text) in facts.items()])
    question = "Where was the founder of Zorvath raised?"
    lm = DummyLM([{"query": "Zorvath"}, {"query": "Queen Elna"}, {"answer": "Miralune"}])
    with dspy.context(lm=lm):
        prediction = MultiHopRAG(retriever, k=3, hops=2)(question=question)
    assert retriever.queries[2:] == ["Queen Elna", f"{question} Zorvath: Zorvath is a river city.",
                                     f"{question} Queen Elna"]  # fmt: skip
    assert prediction.query_pids[1] == ["a1", "b1", "q2"]  # the name alone: the asked fact third
    # The lead-sentence anchor ranks a1, c1, c2; with the written query's ranking alone the top 3 would be a1, c1,
    # b1 (all read at hop 1). The question with the name ranks q2 second, so q2, counted twice, is kept.
    assert prediction.hop_pids == [["a1", "c1", "b1"], ["a1", "q2", "b1"]]
    assert [hit.pid for hit in prediction.passages] == ["q2", "a1", "c1", "b1"]
    assert prediction.answer == "Miralune"


def test_without_fusion_the_written_query_alone_searches(retriever):
    lm = DummyLM([{"query": "glass"}, {"query": "bridge"}, {"answer": "Queen Elna"}])
    with dspy.context(lm=lm):
        prediction = MultiHopRAG(retriever, k=1, hops=2, fusion="off")(question="Who founded Zorvath?")
    assert retriever.queries == ["glass", "bridge"]
    assert prediction.hop_pids == prediction.query_pids == [["p3"], ["p4"]]
    assert [hit.pid for hit in prediction.passages] == ["p4", "p3"]  # Zorvath's founding passage is lost


@pytest.mark.parametrize("copy_check", [True, False])
def test_copy_checks_snap_a_misspelt_query_and_answer_to_what_was_read(retriever, copy_check):
    lm = DummyLM([{"query": "Zorvath"}, {"query": "Quen Elna"}, {"answer": "Miralun"}])
    program = MultiHopRAG(retriever, k=2, hops=2, fusion="off", copy_check=copy_check)
    with dspy.context(lm=lm):
        prediction = program(question="Where was the founder of Zorvath born?")
    if copy_check:  # "Queen Elna" is in hop 1's passage about Zorvath; "Miralune" in hop 2's about her
        assert (retriever.queries, prediction.answer) == (["Zorvath", "Queen Elna"], "Miralune")
    else:
        assert (retriever.queries, prediction.answer) == (["Zorvath", "Quen Elna"], "Miralun")


def test_unknown_fusion_is_refused(retriever):
    with pytest.raises(RagdistillError, match="unknown fusion 'max': choose one of rrf, off"):
        build_program("multihop", retriever, fusion="max")


def test_closed_book_answers_without_retrieval():
    with dspy.context(lm=DummyLM([{"answer": "Queen Elna"}])):
        prediction = ClosedBook()(question="Who founded Zorvath?")
    assert (prediction.answer, prediction.context, prediction.passages) == ("Queen Elna", [], [])


def test_saved_state_round_trips_demos_and_leaves_the_retriever_out(retriever, tmp_path):
    program = MultiHopRAG(retriever, k=3)
    program.generate_answer.demos = [EXAMPLES[0]]
    program.generate_query[1].signature = program.generate_query[1].signature.with_instructions("Search better.")
    path = tmp_path / "program.json"
    program.save(str(path))

    state = json.loads(path.read_text())
    assert set(state) == {"generate_query[0]", "generate_query[1]", "generate_answer", "metadata"}
    assert "Zorvath is a river city" not in path.read_text()

    restored = MultiHopRAG(KeywordRetriever(PASSAGES), k=3)
    restored.load(str(path))
    assert restored.generate_answer.demos[0]["answer"] == "Queen Elna"
    assert restored.generate_query[1].signature.instructions == "Search better."


def test_copies_share_the_retriever(retriever):
    program = RAG(retriever)
    assert program.deepcopy().search.retriever is retriever
    assert copy.deepcopy(program).search.retriever is retriever
    assert program.reset_copy().search.retriever is retriever


def test_hits_from_colbertv2_results_keep_the_title():
    ours = dotdict(pid=7, title="Miralune", long_text="Miralune | A village.", score=3.5)
    hosted = dotdict(pid=12, long_text="Zorvath | A river city.", score=1.0)
    untitled = dotdict(pid=3, long_text="no title here", score=0.5)
    assert hit_from_colbertv2(ours) == Hit("7", "Miralune", "A village.", 3.5)
    assert hit_from_colbertv2(hosted) == Hit("12", "Zorvath", "A river city.", 1.0)
    assert hit_from_colbertv2(untitled) == Hit("3", "", "no title here", 0.5)


def test_a_url_becomes_a_colbertv2_client():
    search = PassageSearch("http://localhost:8893/api/search")
    assert isinstance(search.retriever, dspy.ColBERTv2)
    assert search.retriever.url == "http://localhost:8893/api/search"


def test_build_program_by_name(retriever):
    assert PROGRAMS == ("rag", "multihop", "closedbook")
    assert isinstance(build_program("rag", retriever, k=3), RAG)
    assert build_program("multihop", retriever, k="2").k == 2
    assert isinstance(build_program("closedbook", None), ClosedBook)
    with pytest.raises(RagdistillError, match="unknown program 'baleen'"):
        build_program("baleen", retriever)
    with pytest.raises(RagdistillError, match="needs a retriever"):
        build_program("rag", None)
    with pytest.raises(RagdistillError, match="cannot search with int"):
        build_program("rag", 42)
    with pytest.raises(RagdistillError, match="k must be between"):
        build_program("rag", retriever, k=0)


def test_auto_program_is_multihop_on_the_world_and_rag_on_single_hop_data(tiny_examples):
    world = load_examples("train", limit=100)
    two_hop = sum(example.hops == 2 for example in world)
    assert 0 < two_hop < 100
    assert choose_program(world) == ("multihop", f"auto: {two_hop} of 100 training questions have two gold passages")
    assert choose_program(tiny_examples) == ("rag", "auto: 0 of 12 training questions have two gold passages")
    assert choose_program(EXAMPLES)[0] == "multihop"  # q5 has two gold passages


def test_balanced_training_questions_are_half_two_hop_in_file_order():
    pool = load_examples("train", limit=160)
    chosen = balanced_by_hops(pool, 40)
    assert len(chosen) == 40 and sum(example.hops == 2 for example in chosen) == 20
    assert [example.id for example in chosen] == sorted(example.id for example in chosen)
    # Each kind is taken from the start of the file: the first 20 two-hop questions of the pool are all there.
    assert [e.id for e in chosen if e.hops == 2] == [e.id for e in pool if e.hops == 2][:20]
    # Where one kind runs short, the other fills in.
    few = [e for e in pool if e.hops == 1][:30] + [e for e in pool if e.hops == 2][:3]
    assert sum(example.hops == 2 for example in balanced_by_hops(few, 20)) == 3
    assert len(balanced_by_hops(few, 20)) == 20
