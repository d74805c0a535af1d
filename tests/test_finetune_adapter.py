"""The student prompt format, completion parsing and LM-class routing of `StudentAdapter` (no models needed)."""

from __future__ import annotations

import dspy
from dspy.utils import DummyLM

from finetune.adapter import StudentAdapter, format_completion, format_prompt, parse_completion

ANSWER = dspy.Signature("context, question -> answer")
QUERY = dspy.Signature("context, question -> search_query")
TWO_OUTPUTS = dspy.Signature("question -> reasoning, answer")


def test_answer_signature_uses_the_seed_format():
    prompt = format_prompt(ANSWER, {"question": "Who founded Aldermoor?", "context": ["A | x.", "B | y."]})
    assert (
        prompt == "answer the question based on the context: question: Who founded Aldermoor? context: A | x.\nB | y."
    )


def test_other_signatures_get_a_task_prefix_and_field_values():
    prompt = format_prompt(QUERY, {"context": "c", "question": "q"})
    assert prompt == "search_query from context, question: context: c question: q"


def test_single_output_is_the_whole_completion():
    assert format_completion(ANSWER, {"answer": "Ilse Varga"}) == "Ilse Varga"
    assert parse_completion(ANSWER, " Ilse Varga ") == {"answer": "Ilse Varga"}


def test_several_outputs_round_trip():
    completion = format_completion(TWO_OUTPUTS, {"reasoning": "it says so", "answer": "1742"})
    assert completion == "reasoning: it says so answer: 1742"
    assert parse_completion(TWO_OUTPUTS, completion) == {"reasoning": "it says so", "answer": "1742"}


def test_empty_or_partial_completions_do_not_crash():
    assert parse_completion(ANSWER, "") == {"answer": ""}
    assert parse_completion(TWO_OUTPUTS, "answer: 1742") == {"reasoning": "", "answer": "1742"}
    typed = dspy.Signature("question -> count: int")
    assert parse_completion(typed, "") == {"count": None}
    assert parse_completion(typed, "3") == {"count": 3}


def test_finetune_data_is_chat_format():
    record = StudentAdapter().format_finetune_data(ANSWER, [], {"context": "c", "question": "q"}, {"answer": "a"})
    assert record == {
        "messages": [
            {"role": "user", "content": "answer the question based on the context: question: q context: c"},
            {"role": "assistant", "content": "a"},
        ]
    }


def test_non_student_lms_get_the_normal_chat_adapter():
    teacher = DummyLM([{"answer": "Ilse Varga"}])
    with dspy.context(lm=teacher, adapter=StudentAdapter()):
        prediction = dspy.Predict(ANSWER)(context="c", question="q")
    assert prediction.answer == "Ilse Varga"
    assert "[[ ## question ## ]]" in teacher.history[-1]["messages"][-1]["content"]
