"""`benchmarks.overload` runs end to end for ~2 s a case on the tiny run and prints its stamped figures."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchmarks.overload import main


def test_overload_benchmark_measures_polite_and_impatient_clients_on_both_services(tiny_run: Path, tmp_path: Path):
    out = tmp_path / "overload.json"
    options = [str(tiny_run), "--duration-s", "2", "--concurrency", "4", "--out", str(out)]
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["stamp"]["benchmark"] == "overload" and set(report["services"]) == {"qa", "search"}
    for figures in report["services"].values():
        assert figures["reference"]["answers_per_s"] > 0 and figures["normal_answer_s"] > 0
        assert [(case["kind"], case["clients"]) for case in figures["cases"]] == [("polite", 4), ("impatient", 4)]
        for case in figures["cases"]:
            assert set(case["statuses"]) <= {"200", "503", "504"} and case["statuses"].get("200", 0) >= 1
            assert case["health_p99_ms"] is not None and case["recovery_s"] >= 0
