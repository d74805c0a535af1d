"""Gold search-query targets from supporting passages, on the bundled world, hand-made and real HotpotQA questions."""

from __future__ import annotations

import dspy
import pytest

from data.loaders import SAMPLES_DIR, WORLD_CORPUS, Passage, load_corpus, load_examples
from optimizers.targets import NO_QUERY, QueryTargets, gold_outputs, mention, readable
from programs.signatures import GenerateAnswer, GenerateSearchQuery


@pytest.fixture(scope="module")
def world() -> tuple[QueryTargets, dict[str, Passage], list[dspy.Example]]:
    corpus = {passage.pid: passage for passage in load_corpus(WORLD_CORPUS)}
    return QueryTargets(corpus), corpus, load_examples("train")


def test_two_hop_bridge_question_first_names_the_question_entity_then_the_bridge(world):
    targets, corpus, examples = world
    example = next(e for e in examples if e.question == "In which city was the founder of Shovki Foundry born?")
    first, bridge = (corpus[pid] for pid in example.gold_pids)
    assert targets.query(example, {"question": example.question, "context": []}) == first.title == "Shovki Foundry"
    # The first hop found the company's passage, which names its founder: the second query is the bridge's title.
    hop_2 = targets.query(example, {"question": example.question, "context": [first.as_context()]})
    assert hop_2 == bridge.title == "Naer Kaevshork"


def test_every_two_hop_world_question_gets_its_bridge_title_once_the_first_passage_is_found(world):
    targets, corpus, examples = world
    two_hop = [e for e in examples if e.hops == 2]
    assert two_hop
    for example in two_hop:
        first, bridge = (corpus[pid] for pid in example.gold_pids)
        assert targets.query(example, {"question": example.question, "context": [first.as_context()]}) == bridge.title


def test_one_hop_question_found_by_the_first_hop_gives_the_second_step_no_target(world):
    targets, corpus, examples = world
    example = next(e for e in examples if e.hops == 1 and e.question == "Which country does Daithbaesholm belong to?")
    (passage,) = (corpus[pid] for pid in example.gold_pids)
    assert targets.query(example, {"question": example.question, "context": []}) == "Daithbaesholm"
    found = {"question": example.question, "context": [passage.as_context()]}
    assert targets.query(example, found) is None
    # No query, but a stop: the step is taught to say that nothing is missing (and the first step never is).
    assert targets.complete(example, found) and not targets.complete(example, {"question": example.question})
    assert gold_outputs(dspy.Predict(GenerateSearchQuery), found, example, targets) == {"query": NO_QUERY}


COMPARISON = [
    Passage("c1", "Varn Bridge", "Varn Bridge was opened in 1702 over the Orrin."),
    Passage("c2", "Kestrel Tower", "Kestrel Tower was finished in 1688 by the guild of masons."),
    Passage("c3", "Orrin", "The Orrin is a slow river."),
]


def test_comparison_question_gets_both_titles_one_per_hop():
    targets = QueryTargets({passage.pid: passage for passage in COMPARISON})
    example = dspy.Example(
        question="Which is older, Varn Bridge or the Kestrel Tower?", answer="Kestrel Tower", gold_pids=["c1", "c2"]
    ).with_inputs("question")
    assert targets.query(example, {"question": example.question, "context": []}) == "Varn Bridge"
    assert targets.query(example, {"question": example.question, "context": [COMPARISON[0].as_context()]}) == (
        "Kestrel Tower"
    )
    found_both = [COMPARISON[0].as_context(), COMPARISON[1].as_context()]
    assert targets.query(example, {"question": example.question, "context": found_both}) is None
    assert targets.complete(example, {"question": example.question, "context": found_both})
    assert not targets.complete(example, {"question": example.question, "context": found_both[:1]})


def test_a_title_that_cannot_be_read_is_never_guessed():
    targets = QueryTargets({passage.pid: passage for passage in COMPARISON})
    # The bridge "Orrin" is named by no input until Varn Bridge's passage is found.
    example = dspy.Example(question="How slow is the river under the bridge of Varn?", gold_pids=["c3"])
    assert targets.query(example, {"question": example.question, "context": []}) is None
    assert targets.query(example, {"question": example.question, "context": [COMPARISON[0].as_context()]}) == "Orrin"
    # Supporting passages missing from the corpus are ignored.
    absent = dspy.Example(question="Orrin?", gold_pids=["absent"])
    assert targets.query(absent, {"question": "Orrin?"}) is None
    # An example whose supporting passages are unknown never teaches a stop either.
    assert not targets.complete(absent, {"question": "Orrin?", "context": [COMPARISON[2].as_context()]})


def test_mentions_drop_parentheticals_and_possessives():
    assert mention("Kiss and Tell (1945 film)") == "Kiss and Tell"
    assert mention("(untitled)") == "(untitled)"
    assert readable("Stivdom Thaindzoun", ["What was Stivdom Thaindzoun's profession?"])
    assert readable("The Hork-Bajir Chronicles", ["A companion book: the Hork-Bajir Chronicles."])
    assert not readable("Varn", ["Varnish is sold here."])


def test_real_hotpotqa_question_names_the_film_then_the_actress():
    corpus = {p.pid: p for p in load_corpus(SAMPLES_DIR / "hotpotqa_dev_sample_corpus.jsonl")}
    example = load_examples(SAMPLES_DIR / "hotpotqa_dev_sample.jsonl", limit=1)[0]
    targets = QueryTargets(corpus)
    film = next(corpus[pid] for pid in example.gold_pids if corpus[pid].title.startswith("Kiss and Tell"))
    assert targets.query(example, {"question": example.question, "context": []}) == "Kiss and Tell"
    assert targets.query(example, {"question": example.question, "context": [film.as_context()]}) == "Shirley Temple"


def test_gold_outputs_label_the_answer_step_and_derive_query_steps():
    example = dspy.Example(question="Which is older, Varn Bridge or the Kestrel Tower?", answer="Kestrel Tower",
                           gold_pids=["c1", "c2"]).with_inputs("question")  # fmt: skip
    inputs = {"question": example.question, "context": []}
    targets = QueryTargets({passage.pid: passage for passage in COMPARISON})
    assert gold_outputs(dspy.Predict(GenerateAnswer), inputs, example, None) == {"answer": "Kestrel Tower"}
    assert gold_outputs(dspy.Predict(GenerateSearchQuery), inputs, example, targets) == {"query": "Varn Bridge"}
    assert gold_outputs(dspy.Predict(GenerateSearchQuery), inputs, example, None) is None
