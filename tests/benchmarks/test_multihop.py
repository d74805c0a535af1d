"""`benchmarks.multihop` compiles the multi-hop program on a few HotpotQA questions with tiny models, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.multihop import main
from programs.rundir import open_program


def test_multihop_benchmark_reports_the_student_against_question_only_retrieval(
    tiny_causal_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path / "cache"))  # the sample's index is built here
    out = tmp_path / "multihop.json"
    options = ["--teacher", str(tiny_causal_dir), "--student", "tiny-t5", "--retriever", "bm25", "--train-size", "4",
               "--test-size", "3", "--trace-size", "1", "--baseline-test-size", "1", "--epochs", "1",
               "--run-dir", str(tmp_path / "runs"), "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["stamp"]["benchmark"] == "multihop" and figures["fusion"] == "rrf"
    assert figures["questions"] == {"train": 4, "test": 3}
    student = figures["student"]
    assert student["questions"] == 3 and set(student["by_hops"]) == {"two_hop"}  # the sample is all two-hop
    assert 0 <= student["all_gold_in_context"] <= 1 and 0 <= figures["question_only"]["all_gold_in_context"] <= 1
    assert student["hop_query_recall"]["hop_1"]["searched"] == 3  # every test question needed its first hop
    wrong = 3 - student["errors"]["correct"]
    assert sum(student["gold_errors"].values()) == wrong  # every wrong answer is a reading or a retrieval error
    assert figures["minutes"]["compile"] > 0 and set(figures["minutes"]) >= {"index", "teacher", "student", "report"}
    run_dir = tmp_path / "runs" / "hotpotqa-rrf"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["settings"]["fusion"] == "rrf"  # saved with the run, so a reloaded run fuses as compiled
    assert figures["program"]["offered_choices"] is True
    assert figures["program"]["full_names"] is manifest["student"]["full_names"] is False  # 4 questions teach none
    assert open_program(run_dir, manifest, use="student").fusion == "rrf"
    del manifest["settings"]["fusion"]  # a run compiled before the setting searched with its written queries
    assert open_program(run_dir, manifest, use="student").fusion == "off"
