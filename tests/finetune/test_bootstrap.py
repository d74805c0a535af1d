"""The stock `dspy.BootstrapFinetune` trains a `StudentLM` through `StudentProvider` (DummyLM teachers, tiny models):
the copy task is learned, a typed multi-step program's served prompts are byte-identical to the trained ones, and a
distilled program saves and reloads in a fresh process with identical predictions; records another adapter wrote
stop the run before training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dspy
import pytest
from dspy.utils import DummyLM

from core.errors import ConfigError
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from finetune.provider import train_kwargs
from finetune.record import read_student_record, read_training_pairs
from tests.finetune.programs import TEXTS, Triage, examples, same_team, teacher_answers
from tests.fixtures_models import COPY_TRAINING, COPY_WORDS, copy_task, strict_match

REPO = Path(__file__).resolve().parents[2]
TINY_TRAINING = {"full_finetune": True, "epochs": 2, "batch_size": 4, "val_fraction": 0.0}


def accuracy(program: dspy.Module, examples: list[dspy.Example]) -> float:
    return sum(strict_match(ex, program(**ex.inputs())) for ex in examples) / len(examples)


def test_bootstrap_finetune_trains_the_student(tiny_t5_dir: Path, tmp_path: Path):
    trainset = copy_task()
    student = dspy.Predict("context, question -> answer")
    student.set_lm(StudentLM.from_base(str(tiny_t5_dir)))
    teacher = dspy.Predict("context, question -> answer")
    teacher.set_lm(DummyLM({f"the code is {w}.": {"answer": w} for w in COPY_WORDS}))
    settings = train_kwargs(COPY_TRAINING, output_dir=tmp_path / "student")
    with dspy.context(adapter=StudentAdapter()):
        before = accuracy(student, trainset)
        optimizer = dspy.BootstrapFinetune(metric=strict_match, train_kwargs=settings)
        compiled = optimizer.compile(student, trainset=trainset, teacher=teacher)
        after = accuracy(compiled, trainset)

    lm = compiled.lm
    assert isinstance(lm, StudentLM) and lm.student_engine.adapter_path() == tmp_path / "student"
    assert lm.finetuning_model == str(tiny_t5_dir)  # a re-compile trains the base again, not the student
    assert after > before
    assert after >= 0.75


def distil_triage(model_dir: Path, out: Path, *, configure: bool) -> dspy.Module:
    """Triage distilled by the stock BootstrapFinetune; `configure`: the StudentAdapter is also the global adapter."""
    student = Triage()
    student.set_lm(StudentLM.from_base(str(model_dir)))
    teacher = Triage()
    teacher.set_lm(DummyLM(teacher_answers(TEXTS)))
    optimizer = dspy.BootstrapFinetune(metric=same_team, adapter=StudentAdapter(), exclude_demos=True, num_threads=1,
                                       train_kwargs={**TINY_TRAINING, "output_dir": str(out)})  # fmt: skip
    with dspy.context(adapter=StudentAdapter() if configure else None):
        return optimizer.compile(student, trainset=examples(TEXTS), teacher=teacher)


def served_prompts(program: dspy.Module, texts: list[str]) -> set[str]:
    """The prompts the student receives while the program answers `texts`."""
    lm = program.classify.predict.lm
    start = len(lm.history)
    with dspy.context(adapter=StudentAdapter()):
        predictions = [program(text=text) for text in texts]
    assert all(p.team in ("sales", "support") and isinstance(p.urgent, bool) for p in predictions)
    return {entry["messages"][0]["content"] for entry in lm.history[start:]}


def test_served_prompts_are_byte_identical_to_the_trained_ones(tiny_t5_dir: Path, tmp_path: Path):
    compiled = distil_triage(tiny_t5_dir, tmp_path / "student", configure=True)
    trained = {prompt for prompt, _ in read_training_pairs(tmp_path / "student")}
    assert len(trained) == 3 * len(TEXTS)  # three steps per example, each a prompt of its own
    assert served_prompts(compiled, TEXTS) == trained
    assert {prompt.split("\n")[0] for prompt in trained} == {"task: classify.predict", "task: tone", "task: topic"}
    assert read_student_record(tmp_path / "student")["prompt"] == {"predictor_names": True}


def test_a_teacher_run_under_another_adapter_trains_and_serves_without_names(tiny_t5_dir: Path, tmp_path: Path):
    compiled = distil_triage(tiny_t5_dir, tmp_path / "student", configure=False)
    trained = {prompt for prompt, _ in read_training_pairs(tmp_path / "student")}
    assert not any(prompt.startswith("task:") for prompt in trained)
    assert read_student_record(tmp_path / "student")["prompt"] == {"predictor_names": False}
    assert served_prompts(compiled, TEXTS) == trained


RELOAD = """
import json, sys
import dspy
from finetune.adapter import StudentAdapter
from tests.finetune.programs import Triage
program = Triage()
program.load(sys.argv[1], allow_unsafe_lm_state=True)
with dspy.context(adapter=StudentAdapter()):
    predictions = [program(text=text).toDict() for text in json.loads(sys.argv[2])]
print(json.dumps(predictions))
"""


def test_a_distilled_program_reloads_in_a_fresh_process_with_identical_predictions(tiny_t5_dir: Path, tmp_path: Path):
    compiled = distil_triage(tiny_t5_dir, tmp_path / "student", configure=True)
    compiled.save(str(tmp_path / "program.json"))
    texts = [*TEXTS, "a brand new message"]
    with dspy.context(adapter=StudentAdapter()):
        here = [compiled(text=text).toDict() for text in texts]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "program.json"), json.dumps(texts)],
                          capture_output=True, text=True, cwd=REPO, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(here))


def test_stock_bootstrap_finetune_without_the_student_adapter_stops_before_training(tiny_t5_dir: Path, tmp_path: Path):
    student = dspy.Predict("context, question -> answer")
    student.set_lm(StudentLM.from_base(str(tiny_t5_dir)))
    teacher = dspy.Predict("context, question -> answer")
    teacher.set_lm(DummyLM({f"the code is {w}.": {"answer": w} for w in COPY_WORDS}))
    settings = train_kwargs(COPY_TRAINING, output_dir=tmp_path)
    optimizer = dspy.BootstrapFinetune(metric=strict_match, train_kwargs=settings)
    # Neither `adapter=` nor a configured StudentAdapter: DSPy writes the records with its ChatAdapter.
    with pytest.raises(ConfigError, match=r"adapter=StudentAdapter\(\)"):
        optimizer.compile(student, trainset=copy_task(), teacher=teacher)
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written
