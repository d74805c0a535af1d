"""`benchmarks.distill_any` runs end to end on a tiny student and prints its stamped figures."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchmarks.distill_any import main


def test_distill_any_compares_student_and_teacher_on_held_out_items(tiny_t5_dir: Path, tmp_path: Path):
    out = tmp_path / "distill_any.json"
    options = ["--programs", "order_desk", "--student", str(tiny_t5_dir), "--train", "4", "--test", "2",
               "--epochs", "1", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["stamp"]["benchmark"] == "distill_any"
    figures = report["programs"]["order_desk"]
    assert figures["tuned_on"] is False and figures["train_examples"] == 4 and figures["test_examples"] == 2
    assert figures["teacher"]["score"] == 100.0  # the recorded teacher is right on every held-out item
    assert figures["student"]["items"] == 2
    assert figures["student_over_teacher"] == figures["student"]["score"]
