"""The student prompt and completion format (`finetune.prompt`): hand-worked examples, no model needed."""

from __future__ import annotations

import enum
from typing import Literal

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError
from pydantic import BaseModel

from finetune.prompt import (
    PromptField,
    StudentPrompt,
    build_prompt,
    choice_continuations,
    choices,
    format_completion,
    format_prompt,
    parse_completion,
)

ANSWER = dspy.Signature("context: list[str], question: str -> answer: str")


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Order(BaseModel):
    item: str
    quantity: int


class Triage(dspy.Signature):
    """Sort the support ticket."""

    ticket: str = dspy.InputField()
    reasoning: str = dspy.OutputField()
    category: Literal["billing", "technical"] = dspy.OutputField()
    tags: list[str] = dspy.OutputField()


class WordBudget:
    """A stand-in tokenizer budget that counts words (each word one token): a prompt's cut is checkable by hand."""

    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens

    def count(self, text: str) -> int:
        return len(text.split())

    def keep(self, text: str, tokens: int) -> str:
        return " ".join(text.split()[: max(tokens, 0)])


def test_the_answer_step_keeps_the_seed_format():
    prompt = format_prompt(ANSWER, {"question": "Who founded Aldermoor?", "context": ["A | x.", "B | y."]})
    seed = "answer the question based on the context: question: Who founded Aldermoor? context: A | x.\nB | y."
    assert prompt == seed


def test_other_signatures_carry_the_predictor_name_and_instructions():
    prompt = format_prompt(Triage, {"ticket": "I was charged twice"}, task="triage.predict")
    assert prompt == "task: triage.predict\ninstructions: Sort the support ticket.\nticket: I was charged twice"


def test_two_predictors_with_the_same_fields_get_different_prompts():
    inputs = {"ticket": "t"}
    assert format_prompt(Triage, inputs, task="first") != format_prompt(Triage, inputs, task="second")
    assert format_prompt(Triage, inputs, task="first", budget=None) == format_prompt(Triage, inputs, task="first")


def test_non_string_inputs_are_written_as_json():
    signature = dspy.Signature("order: Order, count: int, rush: bool -> note: str", custom_types={"Order": Order})
    prompt = format_prompt(signature, {"order": Order(item="chair", quantity=2), "count": 3, "rush": False})
    assert prompt.splitlines()[-3:] == ['order: {"item": "chair", "quantity": 2}', "count: 3", "rush: false"]


def test_a_long_prompt_is_cut_in_its_longest_list_field_and_keeps_the_others():
    prompt = StudentPrompt(
        (PromptField("passages", "one two three four five six", is_list=True), PromptField("question", "why so")),
        instructions="answer",
    )
    # head "instructions: answer" (2) + "passages: ..." (7) + "question: why so" (3) = 12 words; cap 9.
    assert prompt.render(WordBudget(9)) == "instructions: answer\npassages: one two three\nquestion: why so"
    assert prompt.render(WordBudget(100)) == prompt.render()


def test_without_a_list_field_the_longest_field_is_cut_never_the_head_or_the_fields_after_it():
    prompt = StudentPrompt((PromptField("a", "1 2 3 4 5 6"), PromptField("b", "x y")), instructions="do it")
    # 3 + 7 + 3 = 13 words; cap 10: the longest field loses its last 3 words.
    assert prompt.render(WordBudget(10)) == "instructions: do it\na: 1 2 3\nb: x y"


def test_a_prompt_survives_its_trip_through_a_training_record():
    prompt = build_prompt(Triage, {"ticket": "refund please"}, task="triage.predict")
    assert StudentPrompt.from_dict(prompt.to_dict()) == prompt


def test_an_unknown_predictor_name_leaves_the_name_out():
    prompt = build_prompt(Triage, {"ticket": "t"}, task="ignored", named=False)
    assert prompt.task is None and not prompt.named and not prompt.render().startswith("task:")


def test_typed_outputs_round_trip_as_json():
    outputs = {"reasoning": "it is about money", "category": "billing", "tags": ["refund", "card"]}
    completion = format_completion(Triage, outputs)
    assert completion == 'reasoning: it is about money\ncategory: billing\ntags: ["refund", "card"]'
    parsed = parse_completion(Triage, completion)
    assert parsed.values == outputs and parsed.invalid == {}


def test_every_json_type_reads_back():
    signature = dspy.Signature(
        "text -> n: int, x: float, ok: bool, level: Priority, order: Order, extra: dict[str, int]",
        custom_types={"Priority": Priority, "Order": Order},
    )
    values = {"n": 3, "x": 0.5, "ok": True, "level": Priority.HIGH, "order": Order(item="a", quantity=1),
              "extra": {"k": 2}}  # fmt: skip
    assert parse_completion(signature, format_completion(signature, values)).values == values


def test_a_choice_outside_its_values_is_reported_with_the_text_before_it():
    parsed = parse_completion(Triage, 'reasoning: money\ncategory: payments\ntags: ["x"]')
    assert parsed.values["category"] is None and parsed.values["tags"] == ["x"]
    assert parsed.invalid == {"category": "reasoning: money\ncategory: "}
    continuations, eos = choice_continuations(list(Triage.output_fields), "category", parsed.invalid["category"],
                                              choices(Triage.output_fields["category"].annotation))  # fmt: skip
    assert continuations == [f"reasoning: money\ncategory: {team}\ntags:" for team in ("billing", "technical")]
    assert eos is False


def test_a_missing_choice_field_is_reported_with_the_fields_before_it():
    parsed = parse_completion(Triage, 'reasoning: money\ntags: ["x"]')
    assert parsed.invalid["category"] == "reasoning: money\ncategory: " and parsed.values["tags"] == ["x"]


def test_choice_values_of_each_kind():
    assert choices(bool) == [("true", True), ("false", False)]
    assert choices(Priority) == [("low", Priority.LOW), ("high", Priority.HIGH)]
    assert choices(Literal[1, 2]) == [("1", 1), ("2", 2)]
    assert choices(str) is None and choices(list[str]) is None


def test_a_value_that_is_not_its_type_is_a_parse_error():
    with pytest.raises(AdapterParseError, match="tags"):
        parse_completion(Triage, "reasoning: r\ncategory: billing\ntags: 5")


def test_an_empty_text_field_is_empty_but_an_absent_typed_field_is_a_parse_error():
    assert parse_completion(ANSWER, "").values == {"answer": ""}
    typed = dspy.Signature("question -> count: int")
    assert parse_completion(typed, "3").values == {"count": 3}
    with pytest.raises(AdapterParseError, match="count"):
        parse_completion(typed, "")
    with pytest.raises(AdapterParseError, match="tags"):
        parse_completion(Triage, "reasoning: r\ncategory: billing")
