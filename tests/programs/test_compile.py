"""`python -m programs.compile` end to end on a tiny configuration, its --help, and its bad-input errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dspy.utils import DummyLM

import engine.teacher
from core.cli import build_config
from data.loaders import WORLD_CORPUS, Passage, load_corpus, load_examples
from data.world import to_jsonl
from engine.ct2 import ct2_unavailable
from finetune.config import DEFAULT_EPOCHS, LoRATrainConfig
from optimizers.traces import read_traces
from programs.compile.__main__ import main
from programs.compile.config import QA_BATCH_SIZE, QA_EPOCHS, QA_LORA_TARGETS, CompileConfig, student_training


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def tiny_options(tmp_path: Path, corpus: Path, teacher: Path) -> list[str]:
    return [
        "--out", str(tmp_path / "runs"), "--name", "tiny", "--teacher", str(teacher), "--student", "tiny-t5",
        "--retriever", "bm25", "--corpus", str(corpus), "--index-dir", str(tmp_path / "index"),
        "--train-size", "8", "--trace-size", "3", "--dev-size", "3", "--test-size", "4", "--epochs", "1",
        "--threads", "1",
    ]  # fmt: skip


def test_help_documents_every_option():
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--program", "--optimizer", "--teacher", "--student", "--retriever", "--k", "--resume"):
        assert option in result.output
    # Every student training setting is an option too, with the compile's own defaults where it has them.
    training = [field.name for field in dataclasses.fields(LoRATrainConfig) if field.name != "time_budget_s"]
    for name in training:
        assert f"--{name.replace('_', '-')} " in result.output, name
    assert "--time-budget-s" not in result.output  # the compile's cap is --train-minutes


def test_the_training_options_build_the_nested_training_config():
    defaults = build_config(CompileConfig, {})
    assert defaults.training == LoRATrainConfig(progress=True, time_budget_s=9 * 60)
    given = build_config(
        CompileConfig,
        {"epochs": 1.5, "batch_size": 2, "learning_rate": 3e-4, "seed": 7, "train_minutes": 0, "target_modules": "q,k"},
    )
    assert given.training == LoRATrainConfig(
        epochs=1.5, batch_size=2, learning_rate=3e-4, seed=7, time_budget_s=None, target_modules=("q", "k"),
        progress=True,
    )  # fmt: skip
    assert given.train_minutes == 0 and not hasattr(given, "epochs")


def test_bundled_qa_programs_train_a_causal_student_on_q_and_v_for_two_epochs_unless_told_otherwise():
    assert student_training(CompileConfig(), "causal").target_modules == QA_LORA_TARGETS["causal"]
    assert student_training(CompileConfig(), "causal").batch_size == QA_BATCH_SIZE
    assert student_training(CompileConfig(), "seq2seq").target_modules is None  # the family's own default
    assert student_training(CompileConfig(), "seq2seq").resolved_epochs() == QA_EPOCHS != DEFAULT_EPOCHS
    given = CompileConfig(training=LoRATrainConfig(target_modules=("o_proj",), epochs=3.0))
    assert student_training(given, "causal").target_modules == ("o_proj",)
    assert student_training(given, "causal").epochs == 3.0  # given, so kept although it is the library default
    users = CompileConfig(program="examples.ticket_triage.program:build")
    assert student_training(users, "causal").target_modules is None  # every linear layer
    assert student_training(users, "causal").resolved_epochs() == DEFAULT_EPOCHS
    assert student_training(users, "causal").resolved_batch_size(43) == 2  # sized from the data, not QA_BATCH_SIZE


def with_training_passages(tmp_path: Path, tiny_corpus: list[Passage]) -> Path:
    """The tiny corpus plus the gold passages of the first 32 training questions (the pool 8 balanced training
    questions are drawn from: their query targets need them)."""
    world = {passage.pid: passage for passage in load_corpus(WORLD_CORPUS)}
    gold = [world[pid] for example in load_examples("train", limit=32) for pid in example.gold_pids]
    passages = list({passage.pid: passage for passage in [*tiny_corpus, *gold]}.values())
    path = tmp_path / "corpus.jsonl"
    path.write_text(to_jsonl([dataclasses.asdict(passage) for passage in passages]), encoding="utf-8")
    return path


def test_tiny_run_end_to_end_then_resume(tmp_path, tiny_corpus, tiny_causal_dir, monkeypatch):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path / "cache"))
    corpus_path = with_training_passages(tmp_path, tiny_corpus)
    result = run(*tiny_options(tmp_path, corpus_path, tiny_causal_dir))
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "tiny"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages_done"] == ["index", "teacher", "student", "report"]
    assert manifest["student"]["model_used"] == "tiny-t5" and manifest["student"]["family"] == "seq2seq"
    expected_backend = "ct2" if ct2_unavailable() is None else "transformers"
    assert manifest["student"]["backend"] == expected_backend and manifest["student"]["compute_type"]
    assert manifest["targets"]["examples"] == 8
    # The teacher answers --trace-size questions (its traces are saved); every other one gets a gold run.
    assert manifest["targets"]["teacher_answered"] == manifest["traces"]["examples"] == 3
    assert manifest["targets"]["from_teacher"] + manifest["targets"]["from_gold"] == 8
    assert manifest["training"]["epochs_completed"] > 0 and manifest["training"]["precision"] in ("fp32", "bf16")
    assert manifest["training"]["processes"] == 1  # trained in this process
    # --program auto: the world's training questions include two-hop ones, so the multi-hop program is compiled,
    # and its query-writing steps get training targets too.
    two_hop = sum(example.hops == 2 for example in load_examples("train", limit=8))
    assert manifest["program"] == "multihop" and manifest["settings"]["program"] == "auto"
    # Its training questions are drawn half two-hop (--balance-hops): the second query learns to search and to stop;
    # the choice says both what decided it and what it trains on.
    assert manifest["program_choice"] == (
        f"auto: {two_hop} of 8 training questions have two gold passages; --balance-hops trains on 4 two-hop of 8"
    )
    assert manifest["data"]["train"] == {"source": "train", "questions": 8, "two_hop": 4}
    steps = manifest["targets"]["steps"]
    assert set(steps) == {"generate_query[0]", "generate_query[1]", "generate_answer"}
    assert sum(steps["generate_answer"].values()) == 8 and sum(steps["generate_query[0]"].values()) > 0
    assert (run_dir / "student" / "adapter_config.json").is_file()
    for name in ("teacher_program.json", "student_program.json", "report/report.json", "report/index.html"):
        assert (run_dir / name).is_file(), name
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert "student_distilled" in report["systems"] and report["program"]["name"] == "multihop"
    assert report["systems"]["student_distilled"]["engine"].startswith(expected_backend)
    distilled = report["systems"]["student_distilled"]
    assert sum(group["questions"] for group in distilled["by_hops"].values()) == 4
    # One key per hop that searched on some question (the student may stop after the first everywhere).
    assert {"hop_1", "missed"} <= set(distilled["gold_found_by_hop"]) <= {"hop_1", "hop_2", "missed"}
    assert "student_distilled" in result.output  # the summary table

    again = run(*tiny_options(tmp_path, corpus_path, tiny_causal_dir), "--resume")
    assert again.exit_code == 0, again.output
    assert again.output.count("skipped (--resume)") == 4
    assert json.loads((run_dir / "manifest.json").read_text())["timings"] == manifest["timings"]

    # The multi-hop run's traces train another student (a causal base) without a single teacher call.
    built: list[str] = []
    monkeypatch.setattr(engine.teacher, "make_teacher", lambda spec, **kwargs: built.append(spec) or DummyLM([]))
    replay = ["--name", "replayed", "--traces-from", str(run_dir), "--student", str(tiny_causal_dir)]
    replayed = run(*tiny_options(tmp_path, corpus_path, tiny_causal_dir), *replay)
    assert replayed.exit_code == 0, replayed.output
    assert built == []  # no teacher LM was even built, so none answered
    replayed_dir = tmp_path / "runs" / "replayed"
    again_manifest = json.loads((replayed_dir / "manifest.json").read_text())
    assert again_manifest["program"] == "multihop" and again_manifest["teacher"]["from_run"] == str(run_dir)
    assert again_manifest["targets"]["steps"] == steps  # the same targets for each hop's query and the answer
    assert read_traces(replayed_dir / "traces.jsonl")[1] == read_traces(run_dir / "traces.jsonl")[1]
    assert again_manifest["student"]["family"] == "causal"
    adapter = json.loads((replayed_dir / "student" / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == set(QA_LORA_TARGETS["causal"])  # a bundled QA program's LoRA targets


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--program", "tree"], "unknown program 'tree': choose auto, rag, multihop, or name your own"),
        (["--optimizer", "bootstrap,magic"], "unknown optimizer 'magic'"),
        (["--teacher", "gpt4"], "neither a LiteLLM model string"),
        (["--retriever", "grep"], "unknown retriever 'grep'"),
        (["--k", "0"], "k must be between 1 and 100"),
        (["--train", "missing.jsonl"], "missing.jsonl: no such file"),
        (["--targets", "all"], "unknown targets 'all'"),
        (["--train-processes", "0"], "--train-processes must be at least 1"),
        (["--refusal-recall", "1.5"], "--refusal-recall must be above 0 and at most 1"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run(tmp_path, options, message):
    result = CliRunner().invoke(main, ["--out", str(tmp_path / "runs"), *options])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow  # 2 training processes each import torch and load the student: ~1-2 min on 2 shared cores
def test_the_student_trains_on_two_processes(tmp_path, tiny_corpus_path, tiny_causal_dir, tiny_examples):
    """`--train-processes 2`: the student stage trains under `accelerate launch`, then goes on as in one process."""
    from safetensors.torch import load_file

    from finetune.record import read_student_record
    from programs.api import load_program

    options = [
        "--out", str(tmp_path / "runs"), "--name", "ddp", "--program", "rag", "--teacher", str(tiny_causal_dir),
        "--student", "tiny-t5", "--retriever", "bm25", "--corpus", str(tiny_corpus_path),
        "--index-dir", str(tmp_path / "index"), "--train-size", "6", "--trace-size", "2", "--dev-size", "2",
        "--test-size", "3", "--epochs", "2", "--batch-size", "2", "--threads", "1", "--train-processes", "2",
    ]  # fmt: skip
    result = run(*options)
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "ddp"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages_done"] == ["index", "teacher", "student", "report"]
    assert manifest["settings"]["train_processes"] == 2 and manifest["training"]["processes"] == 2
    assert manifest["training"]["epochs_completed"] == 2 and manifest["training"]["batch_size"] == 2
    assert read_student_record(run_dir / "student")["result"]["processes"] == 2  # what the trainer itself saw
    weights = load_file(run_dir / "student" / "adapter_model.safetensors")
    assert any(name.endswith("lora_B.weight") and bool(w.abs().sum() > 0) for name, w in weights.items())  # trained
    assert not any(entry.name.startswith(".") for entry in run_dir.iterdir())  # written atomically, no temporaries
    assert "student_distilled" in manifest["report"]["systems"]
    prediction = load_program(run_dir)(tiny_examples[0].question)  # the trained student loads and answers
    assert isinstance(prediction.answer, str) and prediction.passages
