"""The stock `dspy.BootstrapFinetune` trains a tiny-T5 `StudentLM` through `StudentProvider` (DummyLM teacher)."""

from __future__ import annotations

from pathlib import Path

import dspy
from dspy.utils import DummyLM

from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM

WORDS = ["amber", "birch", "cobalt", "delta", "ember", "fjord", "garnet", "harbor"]
SIGNATURE = "context, question -> answer"


def copy_task() -> list[dspy.Example]:
    """Each answer is copied from its context: a task a 2-layer random T5 learns in seconds."""
    return [
        dspy.Example(question="what is the code?", context=[f"Codes | the code is {w}."], answer=w).with_inputs(
            "question", "context"
        )
        for w in WORDS
    ]


def exact_match(example, prediction, trace=None) -> bool:
    return example.answer == prediction.answer


def accuracy(program: dspy.Module, examples: list[dspy.Example]) -> float:
    return sum(exact_match(ex, program(**ex.inputs())) for ex in examples) / len(examples)


def test_bootstrap_finetune_trains_the_student(tiny_t5_dir: Path, tmp_path: Path):
    trainset = copy_task()
    student = dspy.Predict(SIGNATURE)
    student.set_lm(StudentLM.from_base(str(tiny_t5_dir)))
    teacher = dspy.Predict(SIGNATURE)
    teacher.set_lm(DummyLM({f"the code is {w}.": {"answer": w} for w in WORDS}))
    with dspy.context(adapter=StudentAdapter()):
        before = accuracy(student, trainset)

    train_kwargs = {
        "full_finetune": True,
        "epochs": 80,
        "batch_size": 2,
        "learning_rate": 3e-3,
        "val_fraction": 0.0,
        "output_dir": str(tmp_path / "student"),
    }
    optimizer = dspy.BootstrapFinetune(metric=exact_match, adapter=StudentAdapter(), train_kwargs=train_kwargs)
    compiled = optimizer.compile(student, trainset=trainset, teacher=teacher)

    lm = compiled.lm
    assert isinstance(lm, StudentLM) and lm.student_engine.adapter_path() == tmp_path / "student"
    assert lm.finetuning_model == str(tiny_t5_dir)  # a re-compile trains the base again, not the student
    with dspy.context(adapter=StudentAdapter()):
        after = accuracy(compiled, trainset)
    assert after > before
    assert after >= 0.75
