"""`python -m programs.compile` end to end on a tiny configuration, its --help, and its bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.ct2 import ct2_unavailable
from programs.compile.__main__ import main


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


def test_tiny_run_end_to_end_then_resume(tmp_path, tiny_corpus_path, tiny_causal_dir, monkeypatch):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path / "cache"))
    result = run(*tiny_options(tmp_path, tiny_corpus_path, tiny_causal_dir))
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "tiny"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages_done"] == ["index", "teacher", "student", "report"]
    assert manifest["student"]["model_used"] == "tiny-t5" and manifest["student"]["family"] == "seq2seq"
    expected_backend = "ct2" if ct2_unavailable() is None else "transformers"
    assert manifest["student"]["backend"] == expected_backend and manifest["student"]["compute_type"]
    assert manifest["targets"]["examples"] == 8
    assert manifest["targets"]["from_teacher"] + manifest["targets"]["from_gold"] == 8
    assert manifest["training"]["epochs_completed"] > 0 and manifest["training"]["precision"] in ("fp32", "bf16")
    assert (run_dir / "student" / "adapter_config.json").is_file()
    for name in ("teacher_program.json", "student_program.json", "report/report.json", "report/index.html"):
        assert (run_dir / name).is_file(), name
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert "student_distilled" in report["systems"]
    assert report["systems"]["student_distilled"]["engine"].startswith(expected_backend)
    assert "student_distilled" in result.output  # the summary table

    again = run(*tiny_options(tmp_path, tiny_corpus_path, tiny_causal_dir), "--resume")
    assert again.exit_code == 0, again.output
    assert again.output.count("skipped (--resume)") == 4
    assert json.loads((run_dir / "manifest.json").read_text())["timings"] == manifest["timings"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--program", "tree"], "unknown program 'tree'"),
        (["--optimizer", "bootstrap,magic"], "unknown optimizer 'magic'"),
        (["--teacher", "gpt4"], "neither a LiteLLM model string"),
        (["--retriever", "grep"], "unknown retriever 'grep'"),
        (["--k", "0"], "k must be between 1 and 100"),
        (["--train", "missing.jsonl"], "missing.jsonl: no such file"),
        (["--targets", "all"], "unknown targets 'all'"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run(tmp_path, options, message):
    result = CliRunner().invoke(main, ["--out", str(tmp_path / "runs"), *options])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.output
    assert not (tmp_path / "runs").exists()
