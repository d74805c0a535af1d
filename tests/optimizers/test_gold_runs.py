"""Gold runs: the multi-hop program re-run on world questions with every step answering its gold target."""

from __future__ import annotations

import dspy
import pytest

from data.loaders import UNANSWERABLE, WORLD_CORPUS, load_corpus, load_examples
from optimizers.gold_runs import gold_run, gold_runs
from optimizers.targets import NO_QUERY, QueryTargets
from programs.rag import MultiHopRAG
from retrieval.bm25 import BM25Retriever
from retrieval.build import build_index


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[MultiHopRAG, QueryTargets, list[dspy.Example]]:
    corpus = load_corpus(WORLD_CORPUS)
    index_dir = build_index(corpus, tmp_path_factory.mktemp("index") / "bm25", parts=["bm25"])
    program = MultiHopRAG(BM25Retriever(index_dir), k=5)
    return program, QueryTargets({passage.pid: passage for passage in corpus}), load_examples("train")


def _names(program: MultiHopRAG, trace: list[tuple]) -> list[str]:
    names = {id(predictor): name for name, predictor in program.named_predictors()}
    return [names[id(predictor)] for predictor, _, _ in trace]


def test_two_hop_gold_run_searches_the_gold_queries_and_answers_on_what_they_found(world):
    program, queries, examples = world
    example = next(e for e in examples if e.question == "In which city was the founder of Shovki Foundry born?")
    trace = gold_run(program, example, queries)
    assert _names(program, trace) == ["generate_query[0]", "generate_query[1]", "generate_answer"]
    (_, hop_1, query_1), (_, hop_2, query_2), (_, answer_inputs, answer) = trace
    assert hop_1["context"] == [] and query_1.query == "Shovki Foundry"
    # The second step sees what the gold first query found, so its target is the bridge entity.
    assert any(passage.startswith("Shovki Foundry | ") for passage in hop_2["context"])
    assert query_2.query == "Naer Kaevshork"
    assert any(passage.startswith("Naer Kaevshork | ") for passage in answer_inputs["context"])
    assert answer.answer == example.answer


def test_one_hop_gold_run_stops_after_the_first_hop_and_calls_no_lm(world):
    program, queries, examples = world
    example = next(e for e in examples if e.question == "Which country does Daithbaesholm belong to?")
    with dspy.context(lm=None):  # any LM call would fail: a gold run only searches
        trace = gold_run(program, example, queries)
    assert _names(program, trace) == ["generate_query[0]", "generate_query[1]", "generate_answer"]
    (_, _, query_1), (_, _, query_2), (_, answer_inputs, _) = trace
    # The first hop found the country's passage, so the second step says nothing is missing and no search follows.
    assert query_1.query == "Daithbaesholm" and query_2.query == NO_QUERY
    assert all(passage in trace[1][1]["context"] for passage in answer_inputs["context"])
    assert not hasattr(program.generate_answer, "forward") or "forward" not in vars(program.generate_answer)


def test_gold_runs_keep_example_indices_and_skip_examples_without_any_gold_target(world):
    program, queries, examples = world
    # Without supporting passages the query steps have no target (they search with the question itself).
    one_hop = next(e for e in examples if e.question == "Which country does Daithbaesholm belong to?")
    unlabeled = dspy.Example(question=one_hop.question, answer=one_hop.answer).with_inputs("question")
    nowhere = dspy.Example(question="Who knows?", answer="Atlantis").with_inputs("question")
    items = gold_runs(program, [(3, examples[3]), (7, unlabeled), (8, nowhere)], queries)
    assert [item["example_ind"] for item in items] == [3, 7]
    # The example without supporting passages keeps its answer step (it has a label, found by the question's
    # search) and no query step; an answer no passage holds is not taught (the student would learn to guess).
    assert _names(program, items[1]["trace"]) == ["generate_answer"]


def test_an_answer_step_is_taught_only_from_passages_that_hold_its_answer(world):
    program, queries, examples = world
    example = next(e for e in examples if e.question == "In which city was the founder of Shovki Foundry born?")
    held = gold_run(program, example, queries)
    assert _names(program, held)[-1] == "generate_answer"
    wrong = example.copy(answer="Atlantis", answers=["Atlantis"])  # the same searches; no passage says Atlantis
    assert _names(program, gold_run(program, wrong, queries)) == ["generate_query[0]", "generate_query[1]"]
    for unspelt in (UNANSWERABLE, "yes", "No"):  # answers no passage spells out are taught from any context
        answered = example.copy(answer=unspelt, answers=[unspelt])
        assert _names(program, gold_run(program, answered, queries))[-1] == "generate_answer"
