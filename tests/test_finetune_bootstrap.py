"""The stock `dspy.BootstrapFinetune` trains a tiny-T5 `StudentLM` through `StudentProvider` (DummyLM teacher)."""

from __future__ import annotations

from pathlib import Path

import dspy
from dspy.utils import DummyLM

from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from finetune.provider import train_kwargs
from tests.fixtures_models import COPY_TRAINING, COPY_WORDS, copy_task, strict_match

SIGNATURE = "context, question -> answer"


def accuracy(program: dspy.Module, examples: list[dspy.Example]) -> float:
    return sum(strict_match(ex, program(**ex.inputs())) for ex in examples) / len(examples)


def test_bootstrap_finetune_trains_the_student(tiny_t5_dir: Path, tmp_path: Path):
    trainset = copy_task()
    student = dspy.Predict(SIGNATURE)
    student.set_lm(StudentLM.from_base(str(tiny_t5_dir)))
    teacher = dspy.Predict(SIGNATURE)
    teacher.set_lm(DummyLM({f"the code is {w}.": {"answer": w} for w in COPY_WORDS}))
    with dspy.context(adapter=StudentAdapter()):
        before = accuracy(student, trainset)

    settings = train_kwargs(COPY_TRAINING, output_dir=tmp_path / "student")
    optimizer = dspy.BootstrapFinetune(metric=strict_match, adapter=StudentAdapter(), train_kwargs=settings)
    compiled = optimizer.compile(student, trainset=trainset, teacher=teacher)

    lm = compiled.lm
    assert isinstance(lm, StudentLM) and lm.student_engine.adapter_path() == tmp_path / "student"
    assert lm.finetuning_model == str(tiny_t5_dir)  # a re-compile trains the base again, not the student
    with dspy.context(adapter=StudentAdapter()):
        after = accuracy(compiled, trainset)
    assert after > before
    assert after >= 0.75
