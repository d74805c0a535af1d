"""`accelerate launch --multi_gpu --num_processes 2 -m finetune.train`: data-parallel training on 2 CPU processes
(DDP over gloo) gives a student as good as one process trained with the same global batch; `finetune.launch`
builds that command from a `LoRATrainConfig` and turns a failed launch into one error line.

The tiny T5 is random, so it is fully fine-tuned (`--full-finetune`): LoRA on random weights does not learn
the copy task in a minute, and the data-parallel path (sampler, gradient all-reduce, rank-0 save) is the same.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import RagdistillError
from finetune.config import LoRATrainConfig
from finetune.launch import failure_line, launch_command, train_in_processes
from finetune.lm import StudentLM
from finetune.train import main as train_main

REPO = Path(__file__).resolve().parents[2]
SETTINGS = ["--full-finetune", "--epochs", "60", "--learning-rate", "3e-3", "--val-fraction", "0", "--seed", "0"]


def write_pairs(folder: Path, pairs: tuple[tuple[str, str], ...]) -> Path:
    """`pairs` as a `finetune.train` data file."""
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in pairs))
    return path


def launch_two() -> list[str]:
    """`accelerate launch` of 2 processes (its multi-process launcher, which a CPU needs too)."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    return [accelerate, "launch", "--multi_gpu", "--num_processes", "2"]


def mean_loss(model_dir: Path, pairs: tuple[tuple[str, str], ...]) -> float:
    """The mean loss of a seq2seq model directory on `pairs`."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    batch = tokenizer([p for p, _ in pairs], return_tensors="pt", padding=True)
    labels = tokenizer([c for _, c in pairs], return_tensors="pt", padding=True)["input_ids"]
    labels[labels == tokenizer.pad_token_id] = -100
    with torch.no_grad():
        return model.eval()(**batch, labels=labels).loss.item()


def train(launcher: list[str], batch_size: int, pairs: Path, base: Path, out: Path) -> dict:
    command = [*launcher, "-m", "finetune.train", "--data", str(pairs), "--model", str(base), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as accelerate sets it per process, for a like-for-like pair
    arguments = [*command, "--batch-size", str(batch_size), *SETTINGS]
    done = subprocess.run(arguments, cwd=REPO, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one result line for the whole run, from the first process only
    return json.loads(lines[0])


@pytest.mark.slow
def test_two_cpu_processes_train_a_student_as_good_as_one(tiny_t5_dir: Path, tmp_path: Path, copy_pairs):
    pairs = write_pairs(tmp_path, copy_pairs)
    one = train([sys.executable], 4, pairs, tiny_t5_dir, tmp_path / "one")
    two = train(launch_two(), 2, pairs, tiny_t5_dir, tmp_path / "two")
    assert one["train_pairs"] == two["train_pairs"] == len(copy_pairs)
    assert one["epochs_completed"] == two["epochs_completed"] == 60 and one["batch_size"] == 2 * two["batch_size"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary left by either run

    base = mean_loss(tiny_t5_dir, copy_pairs)
    losses = {name: mean_loss(tmp_path / name, copy_pairs) for name in ("one", "two")}
    prompts, words = [p for p, _ in copy_pairs], [c for _, c in copy_pairs]
    answers = {name: StudentLM.from_trained(tmp_path / name).generate(prompts) for name in losses}
    exact = {name: sum(a == w for a, w in zip(answers[name], words, strict=True)) / len(words) for name in answers}
    speed = {name: result["examples_per_second"] for name, result in (("one", one), ("two", two))}
    print(json.dumps({"base_loss": base, "loss": losses, "exact_match": exact, "examples_per_second": speed}))
    assert losses["one"] < base / 4 and losses["two"] < base / 4  # both learned the task
    assert max(losses.values()) <= 2 * min(losses.values())  # the same global batch: alike (the order differs)
    assert exact["one"] >= 0.75 and abs(exact["two"] - exact["one"]) <= 0.25


@pytest.mark.slow
def test_two_processes_stop_together_at_the_time_budget(tiny_t5_dir: Path, tmp_path: Path, copy_pairs):
    """One process past the budget while the other is not would leave that one waiting forever in the all-reduce."""
    data = write_pairs(tmp_path, copy_pairs)
    command = [*launch_two(), "-m", "finetune.train", "--data", str(data), "--model", str(tiny_t5_dir),
               "--out", str(tmp_path / "out"), "--full-finetune", "--epochs", "1000", "--time-budget-s", "2",
               "--val-fraction", "0.25"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert 0 < result["epochs_completed"] < 1000 and result["best_val_loss"] is not None
    assert (tmp_path / "out" / "student.json").is_file()


def test_the_launch_command_gives_finetune_train_the_same_settings(tmp_path: Path):
    config = LoRATrainConfig(r=4, target_modules=("q", "v", "o"), learning_rate=3e-3, full_finetune=True, seed=7)
    command = launch_command(tmp_path / "pairs.jsonl", "tiny-t5", tmp_path / "out", config, processes=2)
    assert command[:6] == [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    assert command[6:8] == ["-m", "finetune.train"]
    params = train_main.make_context("finetune.train", command[8:]).params  # parsed as the processes parse them
    assert params.pop("data_path") == tmp_path / "pairs.jsonl" and params.pop("out_dir") == tmp_path / "out"
    assert params.pop("model") == "tiny-t5" and params.pop("target_modules") == "q,v,o"
    expected = dataclasses.asdict(config)
    del expected["target_modules"]
    assert params == expected
    with pytest.raises(RagdistillError, match="at least 2"):
        launch_command(tmp_path / "pairs.jsonl", "tiny-t5", tmp_path / "out", config, processes=1)


def test_failure_line_prefers_the_error_line_over_the_launcher_traceback():
    output = "loading\nerror: no such model\nerror: no such model\nTraceback...\nCalledProcessError: exit 2\n"
    assert failure_line(output) == "no such model"
    assert failure_line("Traceback...\nRuntimeError: gloo\n\n") == "RuntimeError: gloo"


@pytest.mark.slow
def test_a_failed_launch_is_one_error_line_and_writes_nothing(tmp_path: Path, copy_pairs):
    with pytest.raises(RagdistillError) as failed:
        absent = str(tmp_path / "absent-model")
        train_in_processes(list(copy_pairs), absent, tmp_path / "out", LoRATrainConfig(), processes=2)
    message = str(failed.value)
    assert message.startswith("training on 2 processes failed (exit status ") and "\n" not in message
    assert "absent-model" in message and "is not a local directory" in message  # the processes' own error line
    assert not (tmp_path / "out").exists()
