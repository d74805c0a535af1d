"""Answer and passage metrics on hand-worked examples."""

from __future__ import annotations

import dspy
import pytest
from dspy.evaluate.metrics import normalize_text

from optimizers.metrics import (
    METRICS,
    abstained,
    answer_exact_match,
    answer_f1,
    exact_match,
    gold_answers,
    is_unanswerable,
    passage_match,
    short_answer_exact_match,
    token_f1,
)
from retrieval.base import Hit


def test_dspy_normalization_we_score_with_follows_squad():
    assert normalize_text("The  Zorvath River!") == "zorvath river"
    assert normalize_text("an apple, a pear") == "apple pear"
    assert normalize_text("Theory") == "theory"  # "the" only goes as a whole word


def test_exact_match_takes_any_alias():
    assert exact_match("the Zorvath river.", ["Zorvath"]) is False
    assert exact_match("the Zorvath river.", ["Zorvath", "Zorvath River"]) is True
    assert exact_match("Queen Elna", "queen elna") is True


def test_token_f1_by_hand():
    # prediction tokens: queen, elna, of, zorvath (4); gold: queen, elna (2); overlap 2.
    # precision 2/4, recall 2/2 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3.
    assert token_f1("Queen Elna of Zorvath", ["Queen Elna"]) == pytest.approx(2 / 3)
    # The best alias wins: "Elna" gives precision 1/4, recall 1 -> 0.4; "Queen Elna of Zorvath" gives 1.
    assert token_f1("Queen Elna of Zorvath", ["Elna", "queen elna of zorvath"]) == 1.0
    assert token_f1("Miralune", ["glass"]) == 0.0
    assert token_f1("", ["glass"]) == 0.0
    # Repeated tokens count once per occurrence: pred (glass, glass), gold (glass): overlap 1,
    # precision 1/2, recall 1 -> 2/3.
    assert token_f1("glass glass", ["glass"]) == pytest.approx(2 / 3)


def test_yes_no_and_abstentions_only_match_exactly_as_in_the_hotpotqa_script():
    assert token_f1("yes it is", ["yes"]) == 0.0  # would be 0.5 without the rule
    assert token_f1("no", ["no way"]) == 0.0
    assert token_f1("Yes.", ["yes"]) == 1.0 and exact_match("Yes.", ["yes"])
    assert token_f1("unanswerable question", ["unanswerable"]) == 0.0
    assert token_f1("yes", ["no", "yes"]) == 1.0  # the best alias still wins
    assert abstained("Unanswerable.") and not abstained("unanswerable question")
    assert is_unanswerable(["unanswerable"]) and not is_unanswerable(["Rome"]) and not is_unanswerable([])


def example(**fields) -> dspy.Example:
    return dspy.Example(question="Who founded Zorvath?", **fields).with_inputs("question")


def test_gold_answers_prefer_the_alias_list():
    assert gold_answers(example(answer="Queen Elna", answers=["Queen Elna", "Elna"])) == ["Queen Elna", "Elna"]
    assert gold_answers(example(answer="Queen Elna")) == ["Queen Elna"]
    assert gold_answers(example(answer="Queen Elna", answers=[])) == ["Queen Elna"]


def test_dspy_answer_metrics():
    gold = example(answer="Queen Elna", answers=["Queen Elna", "Elna"])
    assert answer_exact_match(gold, dspy.Prediction(answer="elna")) is True
    assert answer_exact_match(gold, dspy.Prediction(answer="Queen Elna II")) is False
    # "Queen Elna II" vs "Queen Elna": overlap 2, precision 2/3, recall 1 -> F1 0.8.
    assert answer_f1(gold, dspy.Prediction(answer="Queen Elna II")) == pytest.approx(0.8)


def test_long_answers_are_rejected_only_while_bootstrapping():
    gold = example(answer="Queen Elna", answers=["Queen Elna", "the queen elna of the old river city zorvath"])
    long_right = dspy.Prediction(answer="The Queen Elna of the old river city Zorvath")  # 9 words
    assert short_answer_exact_match(gold, long_right) is True
    assert short_answer_exact_match(gold, long_right, trace=[]) is False
    assert short_answer_exact_match(gold, dspy.Prediction(answer="Queen Elna"), trace=[]) is True


def test_passage_match_needs_every_gold_passage():
    gold = example(answer="Miralune", gold_pids=["p1", "p2"])
    hits = [Hit("p2", "Queen Elna", "...", 2.0), Hit("p9", "Other", "...", 1.0)]
    assert passage_match(gold, dspy.Prediction(passages=hits)) is False
    assert passage_match(gold, dspy.Prediction(passages=[*hits, Hit("p1", "Zorvath", "...", 0.5)])) is True


def test_metrics_by_name():
    assert METRICS["em"] is answer_exact_match
    assert set(METRICS) == {"em", "f1", "em_short", "passage_match"}
