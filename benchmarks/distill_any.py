"""How well the student learns DSPy programs that are not retrieve-then-answer: `python -m benchmarks.distill_any`.

For each program — the three in `benchmarks.heldout_programs`, which nobody tuned the student on, and the two
bundled examples (`examples/`, marked `"tuned_on": true`) — it distils the program through the stock
`dspy.BootstrapFinetune` with the documented adapter (`finetune.StudentAdapter`), a recorded teacher that is
right on every example (`DummyLM`, standing in for a hosted LM) and the student's default CPU settings with
`--epochs` (3), on `--train` examples (48); then it runs the teacher and the distilled program on the held-out
examples (40) with `programs.evaluate.user_program` and prints one JSON object:

    {"stamp", "student", "epochs", "programs": {name: {"tuned_on", "train_examples", "train_seconds",
     "teacher": {score, parse_failures, ...}, "student": {...}, "student_over_teacher", "choice_validity"}}}

`student_over_teacher` is the student's metric over the teacher's, in percent (the target is at least 90, with
0 parse failures and choice-valued outputs valid on 100% of calls). `--out FILE` also writes the stamped JSON
atomically (`benchmarks.results`, for `docs/`).

Simplified: one seed; the bundled examples' data come from their files (first `--train` of train.jsonl,
first `--test` of test.jsonl), the held-out programs' from their generators.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from pathlib import Path

import click
import dspy

from benchmarks.heldout_programs import PROGRAMS
from benchmarks.results import emit, out_option
from core.atomic import scratch_dir
from core.errors import exit_cleanly_on_error
from data.loaders import load_task_examples
from engine.models import SMOLLM2
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from finetune.record import read_student_record
from programs.evaluate.user_program import run_system

EXAMPLES = {"ticket_triage": ("ticket",), "review_pipeline": ("review",)}
"""The bundled examples (`examples/<name>`) and their inputs."""


def program_parts(name: str, train: int, test: int) -> tuple:
    """(build, trainset, testset, teacher LM, metric, tuned_on) of a held-out program or a bundled example."""
    if name in PROGRAMS:
        build, make_examples, make_teacher, metric = PROGRAMS[name]
        examples = make_examples()
        return build, examples[:train], examples[train : train + test], make_teacher(examples), metric, False
    module = importlib.import_module(f"examples.{name}.program")
    folder = Path(module.__file__).parent
    trainset = load_task_examples(folder / "train.jsonl", EXAMPLES[name], limit=train)
    testset = load_task_examples(folder / "test.jsonl", EXAMPLES[name], limit=test)
    return module.build, trainset, testset, module.teacher(), module.metric, True


def distil(build, trainset, teacher_lm, metric, student: str, epochs: float, out: Path) -> tuple[dspy.Module, float]:
    """The program distilled by the stock BootstrapFinetune into a fresh student; (program, seconds)."""
    student_program, teacher_program = build(), build()
    student_program.set_lm(StudentLM.from_base(student))
    teacher_program.set_lm(teacher_lm)
    optimizer = dspy.BootstrapFinetune(metric=metric, exclude_demos=True, num_threads=1,
                                       train_kwargs={"num_train_epochs": epochs, "output_dir": str(out)})  # fmt: skip
    started = time.perf_counter()
    distilled = optimizer.compile(student_program, trainset=trainset, teacher=teacher_program)
    return distilled, time.perf_counter() - started


def measure(name: str, *, student: str, epochs: float, train: int, test: int, threads: int) -> dict:
    """One program's figures (see the module docstring)."""
    build, trainset, testset, teacher_lm, metric, tuned_on = program_parts(name, train, test)
    teacher_program = build()
    teacher, _ = run_system("teacher", teacher_program, teacher_lm, metric, testset, threads)
    with scratch_dir("ragdistill-distill-any-") as scratch:
        distilled, seconds = distil(build, trainset, teacher_lm, metric, student, epochs, scratch / "student")
        figures, _ = run_system("student", distilled, distilled.predictors()[0].lm, metric, testset, threads)
        trained = read_student_record(scratch / "student").get("result", {})
    return {
        "tuned_on": tuned_on,
        "train_examples": len(trainset),
        "test_examples": len(testset),
        "train_seconds": round(seconds, 1),
        "epochs_completed": trained.get("epochs_completed"),
        "teacher": teacher,
        "student": figures,
        "student_over_teacher": 100.0 * figures["score"] / teacher["score"] if teacher["score"] else None,
        "choice_validity": figures["choice_validity"],
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--programs", "names", default=",".join([*PROGRAMS, *EXAMPLES]), show_default=True,
              help="Programs to measure, comma-separated (held-out ones and bundled examples).")  # fmt: skip
@click.option("--student", default=SMOLLM2, show_default=True, help="Student base model spec.")
@click.option("--epochs", default=3.0, show_default=True, help="Training epochs.")
@click.option("--train", default=48, show_default=True, help="Training examples per program.")
@click.option("--test", default=40, show_default=True, help="Held-out examples per program.")
@click.option("--threads", default=2, show_default=True, help="Examples answered at once.")
@out_option
@exit_cleanly_on_error
def main(names: str, student: str, epochs: float, train: int, test: int, threads: int, out: str | None) -> None:
    """Distil programs that are not retrieve-then-answer and compare the student with the teacher (JSON on stdout).

    Example: python -m benchmarks.distill_any --programs email_desk --train 16 --test 8
    """
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in PROGRAMS and name not in EXAMPLES]
    if unknown:
        raise click.BadParameter(f"unknown program(s) {', '.join(unknown)}", param_hint="--programs")
    with dspy.context(adapter=StudentAdapter()), contextlib.redirect_stdout(sys.stderr):  # DSPy prints progress
        results = {name: measure(name, student=student, epochs=epochs, train=train, test=test, threads=threads)
                   for name in wanted}  # fmt: skip
    emit("distill_any", {"student": student, "epochs": epochs, "programs": results}, out)


if __name__ == "__main__":
    main()
