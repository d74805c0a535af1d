"""programs/evaluate/metrics: the report's metrics as `evaluate` modules, loaded offline by path, equal to the report.

The report and `evaluate.load(path)` compute through the same `score` functions; these tests check the numbers
agree both ways on a real compiled run (`tiny_run`'s report), in a fresh interpreter with the hubs offline, as
a user would load them, and check each metric on answers worked out by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import DataError
from programs.evaluate.metrics import METRIC_NAMES, metric_path
from programs.evaluate.metrics.field_accuracy.field_accuracy import field_accuracy
from programs.evaluate.scoring import AnswerRecord, answer_metrics, score_system

ROOT = Path(__file__).resolve().parents[3]
REPORT_KEYS = {"exact_match": "em", "f1": "f1", "rouge_l": "rouge_l", "bleu": "bleu"}

LOAD_AND_COMPUTE = """
import json, sys
import evaluate
inputs = json.load(sys.stdin)
modules = {name: evaluate.load(path) for name, path in inputs["paths"].items()}
results = {
    case: {name: module.compute(**answers) for name, module in modules.items()}
    for case, answers in inputs["cases"].items()
}
typed = evaluate.load(inputs["field_path"])
results["typed"] = typed.compute(**inputs["typed"])
print(json.dumps(results))
"""
HAND_WORKED = ([["Paris", "City of Paris"], ["red fox"], ["red"]], ["Paris", "the red fox", "blue"])
"""Gold answers and predictions: "Paris" is right, "the red fox" too (articles are dropped), "blue" is not."""


def hand_worked_records() -> list[AnswerRecord]:
    golds, predictions = HAND_WORKED
    return [
        AnswerRecord(f"q{i}", "?", gold, prediction, 1.0, None, None, [], [], [])
        for i, (gold, prediction) in enumerate(zip(golds, predictions, strict=True))
    ]


def evaluate_in_fresh_python(tmp_path: Path, inputs: dict) -> dict:
    """Run `evaluate.load(path).compute(...)` in a new interpreter, hubs offline, HF caches in `tmp_path`."""
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_METRICS_CACHE": str(tmp_path / "metrics"),
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_COMPUTE], input=json.dumps(inputs), capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_evaluate_load_gives_the_report_figures_of_a_run_and_of_hand_worked_answers(tiny_run, tmp_path):
    report = json.loads((tiny_run / "report" / "report.json").read_text(encoding="utf-8"))
    systems = report["systems"]
    cases = {
        name: {"predictions": [q["prediction"] for q in questions], "references": [q["gold"] for q in questions]}
        for name, questions in ((name, m["per_question"]) for name, m in systems.items())
    }
    golds, predictions = HAND_WORKED
    cases["hand_worked"] = {"predictions": predictions, "references": golds}
    student = systems["student_distilled"]["per_question"]
    typed = {
        "predictions": [{"answer": q["prediction"], "hops": 1} for q in student],
        "references": [{"answer": q["gold"][0], "hops": 1} for q in student],
    }
    results = evaluate_in_fresh_python(
        tmp_path,
        {"paths": {name: metric_path(name) for name in REPORT_KEYS}, "cases": cases, "typed": typed,
         "field_path": metric_path("field_accuracy")},
    )  # fmt: skip
    expected = {**systems, "hand_worked": score_system(hand_worked_records())}
    for case, figures in expected.items():
        for name, key in REPORT_KEYS.items():
            assert results[case][name] == {name: figures[key]}, (case, name)
    assert results["hand_worked"]["exact_match"]["exact_match"] == pytest.approx(200 / 3)
    assert results["hand_worked"]["f1"]["f1"] > 0  # partial credit is computed, not only exact matches
    # The typed answer field is scored as exact match against the primary gold answer only.
    primary = [answer_metrics()["em"](q["prediction"], q["gold"][:1]) for q in student]
    assert results["typed"]["per_field"] == {"answer": pytest.approx(100 * sum(primary) / len(primary)), "hops": 100.0}


def test_report_figures_are_the_modules_means_on_hand_worked_answers():
    golds, predictions = HAND_WORKED
    scores = score_system(hand_worked_records())
    assert [q["em"] for q in scores["per_question"]] == [1.0, 1.0, 0.0]
    assert scores["em"] == pytest.approx(200 / 3) and scores["f1"] == pytest.approx(200 / 3)
    # ROUGE-L keeps the article: "the red fox" vs "red fox" has an LCS of 2, precision 2/3, recall 1 -> F 0.8.
    assert [q["rouge_l"] for q in scores["per_question"]] == pytest.approx([1.0, 0.8, 0.0])
    assert [q["prediction"] for q in scores["per_question"]] == predictions
    assert [q["gold"] for q in scores["per_question"]] == golds


def test_field_accuracy_by_hand():
    predictions = [{"city": "Paris", "year": 1889}, "not json", '{"city": "Rome", "year": 1889}', {"year": 1889}]
    references = [{"city": "paris", "year": 1889}, {"city": "x", "year": 1}, '{"city": "Lyon", "year": 1889}',
                  {"city": "Lyon", "year": 1889}]  # fmt: skip
    result = field_accuracy(predictions, references)
    # city: right only in the first (normalized); year: right in 1st, 3rd, 4th; the 2nd does not parse.
    assert result["per_field"] == {"city": 25.0, "year": 75.0}
    assert result["field_accuracy"] == 50.0
    assert result["all_fields"] == 25.0
    assert result["parse_failure_rate"] == 25.0
    with pytest.raises(DataError, match="reference must be a dict"):
        field_accuracy(["{}"], ["not an object"])


def test_metric_path_names_each_shipped_module():
    for name in METRIC_NAMES:
        assert (Path(metric_path(name)) / f"{name}.py").is_file()
    with pytest.raises(KeyError, match="no metric module 'rouge'"):
        metric_path("rouge")
