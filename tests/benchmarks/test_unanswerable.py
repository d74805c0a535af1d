"""`benchmarks.unanswerable` compiles the RAG program on SQuAD with and without unanswerable rows, with tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.unanswerable import main, refusal_figures


def test_refusal_figures_split_answerable_and_unanswerable_questions():
    rows = [
        {"qid": "a1", "prediction": "Denver", "em": 1.0},
        {"qid": "a2", "prediction": "unanswerable", "em": 0.0},
        {"qid": "unanswerable-h1", "prediction": "Unanswerable.", "em": 1.0},
        {"qid": "unanswerable-h2", "prediction": "Paris", "em": 0.0},
    ]
    figures = refusal_figures(rows)
    assert figures["answerable"] == figures["unanswerable"] == 2
    assert figures["answerable_em"] == 50.0
    assert figures["abstention_recall"] == 0.5 and figures["abstention_precision"] == 0.5


def test_unanswerable_benchmark_compiles_both_runs_on_the_same_test_questions(
    tiny_causal_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path / "cache"))  # the SQuAD sample's index is built here
    out = tmp_path / "unanswerable.json"
    options = ["--answerable", "12", "--train-size", "4", "--test-size", "4", "--teacher", str(tiny_causal_dir),
               "--student", "tiny-t5", "--retriever", "bm25", "--epochs", "1", "--run-dir", str(tmp_path / "runs"),
               "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["stamp"]["benchmark"] == "unanswerable" and set(figures["runs"]) == {"plain", "with_unanswerable"}
    plain, mixed = figures["runs"]["plain"], figures["runs"]["with_unanswerable"]
    assert plain["answerable"] + plain["unanswerable"] == 4 and plain["unanswerable"] >= 1
    assert (plain["answerable"], plain["unanswerable"]) == (mixed["answerable"], mixed["unanswerable"])
    assert figures["answerable_em_drop"] == plain["answerable_em"] - mixed["answerable_em"]
    rows = (tmp_path / "runs" / "squad_unanswerable.jsonl").read_text().splitlines()
    assert len(rows) == 16 and sum('"answers": []' in row for row in rows) == 4
