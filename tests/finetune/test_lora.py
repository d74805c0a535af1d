"""LoRA training, the trained directory, serving it, merging it, the CLI, and refusing bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError, ModelNotFoundError, RagdistillError
from finetune.config import LoRATrainConfig
from finetune.lm import StudentLM, merge
from finetune.lora import train_student
from finetune.record import STUDENT_FILE, read_student_record, trained_kind

REPO = Path(__file__).resolve().parents[2]
QUICK = LoRATrainConfig(max_steps=6, batch_size=2, learning_rate=1e-2)


@pytest.fixture(scope="module")
def lora_dir(tiny_t5_dir: Path, tmp_path_factory: pytest.TempPathFactory, copy_pairs) -> Path:
    out = tmp_path_factory.mktemp("lora") / "adapter"
    train_student(list(copy_pairs), str(tiny_t5_dir), out, QUICK)
    return out


def test_training_writes_an_adapter_and_its_record(lora_dir: Path, tiny_t5_dir: Path, copy_pairs):
    assert (lora_dir / "adapter_config.json").exists() and (lora_dir / "adapter_model.safetensors").exists()
    record = read_student_record(lora_dir)
    assert record["base_model"] == str(tiny_t5_dir) and record["family"] == "seq2seq"
    assert record["train_config"]["target_modules"] == ["q", "v"]
    assert 0 < record["result"]["trainable_share"] < 0.2
    assert record["result"]["train_pairs"] + record["result"]["val_pairs"] == len(copy_pairs)


def test_adapter_round_trip_serves_the_same_answers_as_its_merged_model(lora_dir: Path, tmp_path: Path, copy_pairs):
    prompts = [p for p, _ in copy_pairs]
    served = StudentLM.from_trained(lora_dir).generate(prompts)
    merged = merge(lora_dir, tmp_path / "merged")
    assert (merged / "config.json").exists() and not (merged / "adapter_config.json").exists()
    cap = read_student_record(lora_dir)["train_config"]["max_target_tokens"]  # the merged dir has no record
    assert StudentLM.from_base(str(merged)).student_engine.generate(prompts, cap) == served


def test_causal_student_trains_on_answer_tokens_and_generates(tiny_causal_dir: Path, tmp_path: Path, copy_pairs):
    result = train_student(list(copy_pairs[:4]), str(tiny_causal_dir), tmp_path / "causal", QUICK)
    assert result.trainable_params < result.total_params
    answers = StudentLM.from_trained(tmp_path / "causal").generate(["hello", "a longer prompt than hello"])
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)


def test_a_trained_dir_is_told_apart_as_adapter_or_whole_model(lora_dir: Path, tiny_t5_dir: Path, tmp_path: Path):
    assert trained_kind(lora_dir) == "adapter" and trained_kind(tiny_t5_dir) == "model"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="holds neither a peft adapter"):
        trained_kind(tmp_path / "empty")
    with pytest.raises(ConfigError, match="already a plain model directory"):
        merge(tiny_t5_dir, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_missing_adapter_dir_is_refused(tiny_t5_dir: Path, tmp_path: Path):
    with pytest.raises(RagdistillError, match="does not exist"):
        StudentLM.from_base(str(tiny_t5_dir), tmp_path / "nowhere")


def test_corrupt_adapter_is_refused_with_its_path(lora_dir: Path, tmp_path: Path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "adapter_config.json").write_text((lora_dir / "adapter_config.json").read_text())
    (corrupt / STUDENT_FILE).write_text((lora_dir / STUDENT_FILE).read_text())
    (corrupt / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(RagdistillError, match="cannot be loaded"):
        StudentLM.from_trained(corrupt).generate(["x"])


def test_model_that_is_neither_seq2seq_nor_causal_is_refused(tmp_path: Path, copy_pairs):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(RagdistillError, match="neither seq2seq nor causal"):
        train_student(list(copy_pairs), str(tmp_path), tmp_path / "out", QUICK)


def test_empty_pairs_are_refused(tiny_t5_dir: Path, tmp_path: Path):
    with pytest.raises(RagdistillError, match="no .*pairs"):
        train_student([], str(tiny_t5_dir), tmp_path / "out", QUICK)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "finetune.train", *args], cwd=REPO, capture_output=True, text=True)


def test_cli_help_documents_every_config_field():
    result = run_cli("--help")
    assert result.returncode == 0
    for flag in ("--learning-rate", "--full-finetune", "--max-input-tokens", "--time-budget-s", "--target-modules"):
        assert flag in result.stdout


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path: Path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"prompt": "p", "completion": "c"}\n{"prompt": 3}\n')
    result = run_cli("--data", str(bad), "--model", "tiny-t5", "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad} line 2: needs string fields 'prompt' and 'completion'"


def test_cli_trains_from_a_pairs_file(tiny_t5_dir: Path, tmp_path: Path, copy_pairs):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in copy_pairs))
    result = run_cli("--data", str(data), "--model", str(tiny_t5_dir), "--out", str(tmp_path / "a"), "--max-steps", "2")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["train_pairs"] == len(copy_pairs) - 1  # one held out for validation
    assert (tmp_path / "a" / "adapter_model.safetensors").exists()
