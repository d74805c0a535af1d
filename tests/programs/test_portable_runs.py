"""Portable runs: a run directory names no path of the machine that compiled it, and loads from a copy.

The tiny compiled run (`tests.fixtures_runs.tiny_run`) is copied elsewhere, with and without its index, and
loaded in a fresh Python process through `from programs import load_program`; its answers must match the
original's. Its adapter must load with peft alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import RagdistillError
from programs import load_program

LOAD_AND_ANSWER = """
import json, sys
from programs import load_program
qa = load_program(sys.argv[1], index_dir=sys.argv[2] or None)
prediction = qa(sys.argv[3])
print(json.dumps({"answer": prediction.answer, "pids": [hit.pid for hit in prediction.passages]}))
"""


def answer_in_fresh_process(run_dir: Path, index_dir: Path | None, question: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_AND_ANSWER, str(run_dir), str(index_dir or ""), question],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_run_directory_holds_no_path_of_this_machine(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["retriever"]["index_dir"] == "../index"
    assert manifest["report"]["path"] == "report/index.html"
    root = str(tiny_run.parent.resolve())
    for name in ("student_program.json", "teacher_program.json", "student/student.json"):
        assert root not in (tiny_run / name).read_text(), name


def test_a_copied_run_loads_in_a_fresh_process(tiny_run, tiny_examples, tmp_path):
    question = tiny_examples[0].question
    original = load_program(tiny_run)(question)
    expected = {"answer": original.answer, "pids": [hit.pid for hit in original.passages]}

    together = tmp_path / "together"  # the run and its index moved together: the relative path still holds
    shutil.copytree(tiny_run.parent, together, ignore=shutil.ignore_patterns("report"))
    assert answer_in_fresh_process(together / tiny_run.name, None, question) == expected

    alone = tmp_path / "alone" / "run"  # the run without its index: name the index at load time
    shutil.copytree(tiny_run, alone)
    with pytest.raises(RagdistillError, match="no index at"):
        load_program(alone)
    assert answer_in_fresh_process(alone, together / "index", question) == expected


def test_the_adapter_loads_with_peft_alone(tiny_run):
    from peft import AutoPeftModelForSeq2SeqLM

    adapter_config = json.loads((tiny_run / "student" / "adapter_config.json").read_text())
    record = json.loads((tiny_run / "student" / "student.json").read_text())
    assert record["base_model"] == "tiny-t5"  # the spec, which ragdistill's loader prefers
    assert Path(adapter_config["base_model_name_or_path"]).is_dir()  # an offline alias: its local directory
    model = AutoPeftModelForSeq2SeqLM.from_pretrained(tiny_run / "student")
    assert type(model).__name__ == "PeftModelForSeq2SeqLM" and model.peft_config["default"].r > 0
