"""Trace reuse benchmark: a compile's student stage with the teacher, against the same student from saved traces.

    python -m benchmarks.traces [--teacher smollm2|DIR|provider/model] [--student tiny-t5] [--train-size 20]
                                [--epochs 1] [--runs-dir DIR] [--out docs/results/traces.json]

Compiles a source run (bm25 retriever, no teacher-side optimizer, so the teacher's cost is the student stage's
tracing), then a second run with `--traces-from` the first and the same student settings. Every LM the
teacher factory (`engine.teacher.make_teacher`) builds is counted, and so are the calls each one answers.

Printed JSON: teacher LMs built and calls answered in each whole compile (the source's include its report's two
teacher systems on one test question), each run's student-stage seconds (from its manifest) and their ratio.
Simplified: one run of each, in one process; figures on a shared machine are noisy.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import click
import dspy

import engine.teacher
from benchmarks.results import emit, out_option
from core.cli import build_config
from core.errors import exit_cleanly_on_error
from programs.compile.config import CompileConfig
from programs.compile.pipeline import compile_run


@dataclass
class TeacherCount:
    """The teacher LMs the compile pipeline builds, and the calls they answer."""

    lms: list[dspy.BaseLM] = field(default_factory=list)
    """Every teacher LM built so far."""

    def make_teacher(self, *args, **kwargs) -> dspy.BaseLM:
        lm = self.real(*args, **kwargs)
        self.lms.append(lm)
        return lm

    def calls(self) -> int:
        return sum(len(lm.history) for lm in self.lms)

    real = staticmethod(engine.teacher.make_teacher)


def compile_counted(config: CompileConfig) -> dict:
    """Compile `config` with the teacher factory counted: the student stage's seconds and the teacher's figures."""
    count = TeacherCount()
    engine.teacher.make_teacher = count.make_teacher
    try:
        manifest = compile_run(config)
    finally:
        engine.teacher.make_teacher = TeacherCount.real
    return {"student_stage_s": manifest["timings"]["student"], "teacher_lms_built": len(count.lms),
            "teacher_calls": count.calls()}  # fmt: skip


@click.command()
@click.option("--teacher", default="smollm2", show_default=True, help="Teacher spec of the source run.")
@click.option("--student", default="tiny-t5", show_default=True, help="Student base model of both runs.")
@click.option("--train-size", default=20, show_default=True, help="Training questions traced.")
@click.option("--epochs", default=1.0, show_default=True, help="Student training epochs (both runs).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Where the runs go.")
@out_option
@exit_cleanly_on_error
def main(teacher: str, student: str, train_size: int, epochs: float, runs_dir: Path | None, out: str | None) -> None:
    """Print the figures of a compile and of its --traces-from twin as JSON."""
    runs_dir = runs_dir or Path(tempfile.mkdtemp(prefix="ragdistill-traces-"))
    common = dict(out=str(runs_dir), student=student, retriever="bm25", index_dir=str(runs_dir / "index"),
                  optimizer="none", train_size=train_size, trace_size=1, dev_size=1, test_size=1, epochs=epochs,
                  threads=1)  # fmt: skip
    source = compile_counted(build_config(CompileConfig, dict(name="source", teacher=teacher, **common)))
    reuse = compile_counted(
        build_config(CompileConfig, dict(name="reuse", traces_from=str(runs_dir / "source"), **common))
    )
    ratio = reuse["student_stage_s"] / max(source["student_stage_s"], 1e-9)
    emit("traces", {"teacher": teacher, "student": student, "train_size": train_size, "source": source,
                    "traces_from": reuse, "student_stage_ratio": round(ratio, 3)}, out)  # fmt: skip


if __name__ == "__main__":
    main()
