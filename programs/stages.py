"""The stages of `python -m programs.compile`, one function each, and the closing summary table.

Each stage takes the `Run` (settings + manifest) and the data it needs, writes its artifacts atomically
into the run directory, and returns the manifest entries it adds. Stages read what earlier stages left
in the run directory, never in-memory state, so `--resume` can start at any of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dspy

from core.log import say
from data.loaders import Passage
from optimizers import make_optimizer
from optimizers.metrics import short_answer_exact_match
from programs.rag import build_program
from retrieval.build import ensure_index
from retrieval.factory import load_retriever

if TYPE_CHECKING:
    from programs.compile import Run

TEACHER_PROGRAM = "teacher_program.json"
STUDENT_PROGRAM = "student_program.json"
STUDENT_DIR = "student"


def save_program(program: dspy.Module, path: Path) -> None:
    """DSPy's `program.save(path)` (JSON state), made atomic: written beside `path`, then renamed onto it."""
    tmp = path.with_name(f".{path.stem}.tmp.json")
    program.save(str(tmp))
    os.replace(tmp, path)


def index_stage(run: Run, corpus: list[Passage]) -> dict:
    """Build the index the retriever needs, or reuse one built from the same corpus."""
    manifest = ensure_index(corpus, run.config.index_dir, run.config.retriever)
    return {"retriever": retriever_entry(run, manifest)}


def retriever_entry(run: Run, index_manifest: dict) -> dict:
    """The manifest's `retriever` entry: what `programs.api.load_program` needs to search again."""
    return {
        "name": run.config.retriever,
        "index_dir": str(Path(run.config.index_dir).resolve()),
        "k": run.config.k,
        "checkpoint": index_manifest.get("checkpoint"),
    }


def open_program(run: Run) -> dspy.Module:
    """A fresh, uncompiled program over the run's retriever."""
    retriever_settings = run.manifest["retriever"]
    retriever = load_retriever(retriever_settings["name"], retriever_settings["index_dir"])
    return build_program(run.config.program, retriever, run.config.k)


def teacher_stage(run: Run, trainset: list[dspy.Example], devset: list[dspy.Example]) -> dict:
    """Compile the program with the teacher LM through each teacher-side optimizer, in order."""
    from engine.teacher import make_teacher

    config = run.config
    teacher_lm = make_teacher(config.teacher, api_base=config.api_base)
    program = open_program(run)
    program.set_lm(teacher_lm)
    traces = trainset[: config.trace_size]
    for name in config.optimizers():
        say(f"optimizer {name}: {len(traces)} training questions, {len(devset)} validation questions", detail=True)
        optimizer = make_optimizer(name, short_answer_exact_match)
        # DSPy's optimizers run fresh copies of the program whose predictors have no LM: the context LM answers.
        with dspy.context(lm=teacher_lm, num_threads=config.threads):
            program = optimizer.compile(program, trainset=traces, teacher=None, valset=devset)
    demos = sum(len(predictor.demos) for predictor in program.predictors())
    save_program(program, run.dir / TEACHER_PROGRAM)
    return {
        "teacher": {
            "spec": config.teacher,
            "api_base": config.api_base,
            "model_used": teacher_lm.model,
            "demos": demos,
            "optimizers": config.optimizers(),
        }
    }


def compiled_teacher(run: Run) -> dspy.Module:
    """The compiled teacher program saved by the teacher stage, answering with the teacher LM."""
    from engine.teacher import make_teacher
    from programs.api import load_program_state, read_json

    program = open_program(run)
    path = run.dir / TEACHER_PROGRAM
    load_program_state(program, read_json(path, what="saved program"), source=path)
    program.set_lm(make_teacher(run.config.teacher, api_base=run.config.api_base))
    return program


def student_stage(run: Run, trainset: list[dspy.Example]) -> dict:
    """Distil the compiled teacher into the LoRA student through `dspy.BootstrapFinetune` (`Distill`)."""
    from engine.models import resolve_model
    from finetune.lm import StudentLM, anchor_students
    from optimizers.distill import Distill

    config = run.config
    resolved = resolve_model(config.student)
    if resolved.note:
        say(f"note: {resolved.note}", detail=True)
    train_kwargs = {
        "output_dir": str((run.dir / STUDENT_DIR).resolve()),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "time_budget_s": config.train_minutes * 60 or None,
        "seed": config.seed,
        "progress": True,
    }
    distill = Distill(
        short_answer_exact_match,
        student_lm=StudentLM.from_base(resolved.name_used),
        targets=config.targets,
        train_kwargs=train_kwargs,
        num_threads=config.threads,
    )
    say(
        f"teacher answers {len(trainset)} training questions, then the student ({resolved.name_used}) trains",
        detail=True,
    )
    student = distill.compile(open_program(run), trainset=trainset, teacher=compiled_teacher(run))
    anchor_students(student, run.dir)
    save_program(student, run.dir / STUDENT_PROGRAM)
    say(f"student trained on {distill.stats}", detail=True)
    return {
        "student": {
            "spec": config.student,
            "model_used": resolved.name_used,
            "family": resolved.family,
            "note": resolved.note,
            "adapter_dir": STUDENT_DIR,
        },
        "targets": {"mode": config.targets, **distill.stats},
    }


def report_stage(run: Run, testset: list[dspy.Example]) -> dict:
    """Evaluate every system on the test questions and write `report/`."""
    from programs.evaluate import evaluate_run

    report = evaluate_run(run.dir, testset, threads=run.config.threads)
    systems = {
        name: {key: metrics[key] for key in ("em", "f1", "latency_p50_s", "answers_per_s")}
        for name, metrics in report["systems"].items()
    }
    return {"report": {"path": str(run.dir / "report" / "index.html"), "systems": systems}}


def print_summary(manifest: dict) -> None:
    """One table at the end: each system's EM / F1 / latency, then where the artifacts are."""
    report = manifest.get("report", {})
    systems = report.get("systems", {})
    if systems:
        print(f"{'system':32} {'EM':>6} {'F1':>6} {'p50 s':>7} {'answers/s':>10}")
        for name, metrics in systems.items():
            print(
                f"{name:32} {metrics['em']:6.1f} {metrics['f1']:6.1f} {metrics['latency_p50_s']:7.3f} "
                f"{metrics['answers_per_s']:10.2f}"
            )
    timings = ", ".join(f"{stage} {seconds:.0f}s" for stage, seconds in manifest.get("timings", {}).items())
    print(f"run: {manifest['settings']['out']}/{manifest['name']}  ({timings})")
    if report.get("path"):
        print(f"report: {report['path']}")
