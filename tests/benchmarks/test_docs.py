"""benchmarks.docs: the results pages are written from stamped result files, never by hand.

A tiny compiled run is recorded by `benchmarks.run` (its students evaluated on two questions), a quick retrieval
benchmark writes its file, and the generator turns both into the two pages: figures from the files, each quoted
by its stamp, every other section naming the command that would measure it. The committed pages must be what
the generator writes from the committed result files.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchmarks.docs import main as docs_main
from benchmarks.docs import render_page, todo
from benchmarks.results import RESULTS_DIR
from benchmarks.retrieval import main as retrieval_main
from benchmarks.run import main as run_main

ROOT = Path(__file__).resolve().parents[2]


def test_the_pages_are_written_from_a_tiny_run_and_a_retrieval_benchmark(tiny_run, tmp_path):
    results = tmp_path / "results"
    recorded = CliRunner().invoke(
        run_main, ["--record", str(tiny_run), "--eval-limit", "2", "--out", str(results / "default-run.json")]
    )
    assert recorded.exit_code == 0, recorded.output
    retrieval = CliRunner().invoke(
        retrieval_main,
        ["--datasets", "squad", "--retrievers", "bm25", "--quick", "--cache-dir", str(tmp_path / "indexes"),
         "--load-seconds", "0", "--out", str(results / "retrieval.json")],
    )  # fmt: skip
    assert retrieval.exit_code == 0, retrieval.output
    run = json.loads((results / "default-run.json").read_text())
    assert run["stamp"]["command"].startswith("python -m benchmarks.run --record")
    assert run["stamp"]["machine"]["cores"] >= 1 and run["stamp"]["commit"]
    assert run["evaluation"]["systems"]["student_distilled"]["questions"] == 2

    written = CliRunner().invoke(docs_main, ["--results", str(results), "--out", str(tmp_path / "docs")])
    assert written.exit_code == 0, written.output
    page = (tmp_path / "docs" / "results.md").read_text()
    name, best = max(run["report"]["systems"].items(), key=lambda item: item[1]["f1"])  # a figure other than 0
    row = f"| {name} | {best['questions']} | "
    assert row in page and f"| {best['f1']:.1f} |" in page.split(row)[1].splitlines()[0]
    assert f"Scored by `{run['evaluation']['command']}`" in page
    stamp = run["stamp"]
    assert f"- `default-run.json`: measured {stamp['measured']} at commit `{stamp['commit']}` on " in page
    assert f"by `{stamp['command']}`" in page
    assert "- `world-200.json`: not measured yet; `python -m benchmarks.run --eval-limit 200" in page

    performance = (tmp_path / "docs" / "performance.md").read_text()
    squad = json.loads((results / "retrieval.json").read_text())["datasets"]["squad"]
    recall = 100 * squad["retrievers"]["bm25"]["recall@5"]
    assert f"| squad | {squad['passages']} | bm25 | {recall:.1f}% |" in performance
    assert "- `train.json`: not measured yet; `python -m benchmarks.train" in performance
    assert not [command for command in todo(results) if "default-run.json" in command or "retrieval.json" in command]


def test_the_committed_pages_are_the_generators_output():
    for page in ("results.md", "performance.md"):
        assert (ROOT / "docs" / page).read_text() == render_page(page, RESULTS_DIR), "run python -m benchmarks.docs"
