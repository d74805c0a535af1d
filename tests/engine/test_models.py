"""The offline model kit: tiny T5 build, tokenizer round trips, model resolution, SmolLM2 conversion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import RagdistillError
from engine.models import (
    DEFAULT_STUDENT,
    SMOLLM2,
    TINY_T5,
    cache_dir,
    cli,
    load_hf_model,
    minilm_dir,
    resolve_model,
)

PROMPT_TEXTS = [
    "[[ ## question ## ]]\nWho founded Aldermoor in 1742?\n\n[[ ## answer ## ]]\nIlse Varga\n\n[[ ## completed ## ]]",
    'Braces {"a": [1, 2], "b": {}} and <tags>, tabs\tand Ünïcödé — “quotes”.',
    "UPPER lower 0123456789\n\n\nblank lines above",
]


def test_tiny_t5_is_small_and_generates(tiny_t5_dir: Path):
    size = sum(f.stat().st_size for f in tiny_t5_dir.iterdir())
    assert size < 5_000_000
    resolved = resolve_model(str(tiny_t5_dir))
    model, tokenizer = load_hf_model(resolved, device="cpu")
    inputs = tokenizer(["Who founded Aldermoor?"], return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert output.shape == (1, 5)  # the decoder start token + 4 new tokens
    assert output[0, 0].item() == tokenizer.pad_token_id == model.config.decoder_start_token_id


@pytest.mark.parametrize("text", PROMPT_TEXTS)
def test_tiny_t5_tokenizer_round_trips(tiny_t5_dir: Path, text: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_dir)
    ids = tokenizer(text).input_ids
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_tiny_t5_tokenizer_learns_dspy_markers(tiny_t5_dir: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5_dir)
    # Trained on DSPy's prompt format, a whole marker costs a handful of tokens, not one per byte.
    assert len(tokenizer("[[ ## answer ## ]]", add_special_tokens=False).input_ids) <= 6


def test_resolve_local_dir(tiny_t5_dir: Path):
    resolved = resolve_model(str(tiny_t5_dir))
    assert resolved.path == tiny_t5_dir.resolve()
    assert resolved.family == "seq2seq"
    assert resolved.note is None


def test_resolve_tiny_t5_builds_once_into_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    resolved = resolve_model(TINY_T5)
    assert resolved.path == tmp_path / TINY_T5
    assert (resolved.path / "config.json").exists()
    assert (resolved.name_used, resolved.family) == (TINY_T5, "seq2seq")
    built_at = (resolved.path / "model.safetensors").stat().st_mtime_ns
    assert (resolve_model(TINY_T5).path / "model.safetensors").stat().st_mtime_ns == built_at


def test_resolve_unknown_hub_id_is_one_clear_error():
    with pytest.raises(RagdistillError, match="'no-such-org/no-such-model' is not a local directory"):
        resolve_model("no-such-org/no-such-model")


def test_encoder_only_model_is_refused():
    with pytest.raises(RagdistillError, match="neither seq2seq nor causal"):
        resolve_model(str(minilm_dir()))


def test_directory_without_config_is_refused(tmp_path: Path):
    with pytest.raises(RagdistillError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_cli_resolve_prints_json_and_errors_cleanly(tiny_t5_dir: Path):
    runner = CliRunner()
    result = runner.invoke(cli, ["resolve", str(tiny_t5_dir)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["family"] == "seq2seq"
    result = runner.invoke(cli, ["resolve", "no-such-model"])
    assert result.exit_code == 2
    assert result.output.startswith("error: student model 'no-such-model'")


def test_cli_builds_tiny_t5(tmp_path: Path):
    result = CliRunner().invoke(cli, ["tiny-t5", "--out", str(tmp_path / "t5"), "--vocab-size", "500"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t5" / "tokenizer.json").exists()


@pytest.mark.slow
def test_smollm2_converts_and_chats():
    resolved = resolve_model(SMOLLM2)
    assert resolved.family == "causal"
    model, tokenizer = load_hf_model(resolved, device="cpu")
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    inputs = tokenizer(prompt, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, inputs.input_ids.shape[1] :])


@pytest.mark.slow
def test_default_student_falls_back_to_smollm2_offline():
    resolved = resolve_model(DEFAULT_STUDENT)
    if resolved.note is None:
        pytest.skip(f"{DEFAULT_STUDENT} is in the local Hugging Face cache")
    assert (resolved.name_used, resolved.family) == (SMOLLM2, "causal")
    assert DEFAULT_STUDENT in resolved.note and "\n" not in resolved.note
