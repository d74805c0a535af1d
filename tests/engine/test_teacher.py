"""Teacher LMs: spec validation, field-guided decoding through DSPy, saving, and the offline SmolLM2 teacher."""

from __future__ import annotations

import time
from pathlib import Path

import dspy
import pytest

from core.errors import RagdistillError
from data.loaders import WORLD_CORPUS, load_corpus, load_examples
from engine.teacher import (
    OFFLINE_TEACHER,
    LocalChatEngine,
    LocalChatLM,
    clean_value,
    make_teacher,
    requested_output_fields,
)


def chat_prompt(signature: str) -> list[dict]:
    """The messages DSPy's ChatAdapter sends for `signature`."""
    inputs = {name: "x" for name in dspy.Signature(signature).input_fields}
    return dspy.ChatAdapter().format(dspy.Signature(signature), demos=[], inputs=inputs)


def test_litellm_string_gives_a_plain_dspy_lm():
    lm = make_teacher("openai/gpt-4o-mini", api_base="http://localhost:8000/v1")
    assert type(lm) is dspy.LM
    assert lm.model == "openai/gpt-4o-mini"
    assert lm.kwargs["api_base"] == "http://localhost:8000/v1"


@pytest.mark.parametrize("spec", ["xyz", "openai/", "gpt-4o"])
def test_unknown_format_is_refused(spec: str):
    with pytest.raises(RagdistillError, match="neither a LiteLLM model string"):
        make_teacher(spec)


def test_missing_local_dir_is_refused(tmp_path: Path):
    with pytest.raises(RagdistillError, match="does not exist"):
        make_teacher(str(tmp_path / "nowhere"))


def test_seq2seq_model_is_refused_as_teacher(tiny_t5_dir: Path):
    with pytest.raises(RagdistillError, match="seq2seq model; a local teacher must be causal"):
        make_teacher(str(tiny_t5_dir))


@pytest.mark.parametrize(
    ("signature", "fields"),
    [("context, question -> answer", ["answer"]), ("question -> reasoning, answer", ["reasoning", "answer"])],
)
def test_requested_output_fields_reads_chat_adapter_prompts(signature: str, fields: list[str]):
    assert requested_output_fields(chat_prompt(signature)[-1]["content"]) == fields


def test_requested_output_fields_is_empty_for_free_text():
    assert requested_output_fields("Say hello.") == []


@pytest.mark.parametrize(
    ("generated", "value"),
    [
        ("[2] **Dana Okoro**\n[3] x", "Dana Okoro"),
        ('"Aldermoor"', "Aldermoor"),
        (" 1742 [[ ## completed", "1742"),
        ("looping [#][#]", "looping"),
        ("", ""),
    ],
)
def test_clean_value(generated: str, value: str):
    assert clean_value(generated) == value


def test_local_lm_answers_in_chat_adapter_format(tiny_causal_dir: Path):
    lm = make_teacher(str(tiny_causal_dir), max_new_tokens=8, cache=False)
    assert isinstance(lm, LocalChatLM)
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        prediction = dspy.ChainOfThought("context, question -> answer")(context=["a | b"], question="c?")
    assert isinstance(prediction.reasoning, str) and isinstance(prediction.answer, str)
    output = lm.history[-1]["outputs"][0]
    assert output.startswith("[[ ## reasoning ## ]]\n")
    assert "\n\n[[ ## answer ## ]]\n" in output
    assert output.endswith("\n\n[[ ## completed ## ]]")


def test_local_lm_free_text_call(tiny_causal_dir: Path):
    lm = make_teacher(str(tiny_causal_dir), max_new_tokens=4, cache=False)
    [text] = lm("Say hello.")
    assert isinstance(text, str) and "[[ ##" not in text


def test_model_id_tracks_decoding_settings(tiny_causal_dir: Path):
    short, long = LocalChatLM.from_dir(tiny_causal_dir, max_new_tokens=8), LocalChatLM.from_dir(tiny_causal_dir)
    assert short.model.startswith("local/tiny-causal-")
    assert short.model != long.model  # separate DSPy cache entries


def test_local_lm_state_round_trips(tiny_causal_dir: Path):
    lm = LocalChatLM.from_dir(tiny_causal_dir, max_new_tokens=8)
    reloaded = dspy.BaseLM.load_state(lm.dump_state(), allow_custom_lm_class=True)
    assert type(reloaded) is LocalChatLM
    assert isinstance(reloaded.engine, LocalChatEngine)
    assert reloaded.engine.dump_state() == lm.engine.dump_state()
    assert reloaded.model == lm.model


@pytest.mark.slow
def test_smollm2_teacher_answers_world_questions():
    passages = {p.pid: p for p in load_corpus(WORLD_CORPUS)}
    examples = load_examples("dev", limit=3)
    lm = make_teacher(OFFLINE_TEACHER, cache=False)
    lm("Hello.")  # loads the weights, so the timing below is per question only
    predict = dspy.Predict("context, question -> answer")
    started = time.perf_counter()
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        answers = [
            predict(context=[passages[pid].as_context() for pid in ex.gold_pids], question=ex.question).answer
            for ex in examples
        ]
    seconds_per_question = (time.perf_counter() - started) / len(examples)
    print(f"SmolLM2 teacher: {seconds_per_question:.2f} s/question, answers {answers}")
    assert all(isinstance(answer, str) and answer for answer in answers)
