"""The stages of `python -m programs.compile`, one function each.

Each stage takes the `Run` (run directory + manifest), the settings and the data it needs, writes its
artifacts atomically into the run directory, and returns the manifest entries it adds. Stages read what
earlier stages left in the run directory, never in-memory state, so `--resume` can start at any of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import dspy

from core.log import say
from data.loaders import Passage
from optimizers import make_optimizer
from optimizers.traces import trace_records, write_traces
from programs.choices import learns_full_names
from programs.compile.config import CompileConfig, student_training
from programs.compile.reuse import fingerprints, reuse_teacher, saved_traces
from programs.evaluate.report import REPORT_PAGE
from programs.rundir import REPORT_DIR, STUDENT_DIR, TRACES_FILE, Run, open_program, program_file, save_program
from programs.user import is_user_program
from retrieval.build import ensure_index

if TYPE_CHECKING:
    from engine.models import ResolvedModel
    from optimizers.distill import Distill


def index_stage(run: Run, config: CompileConfig, corpus: list[Passage]) -> dict:
    """Build the index the retriever needs, or reuse one built from the same corpus."""
    manifest = ensure_index(corpus, config.index_dir, config.retriever)
    return {"retriever": retriever_entry(run, config, manifest)}


def retriever_entry(run: Run, config: CompileConfig, index_manifest: dict) -> dict:
    """The manifest's `retriever` entry: what `programs.api.load_program` needs to search again.

    The index directory is recorded relative to the run directory, so a run moved together with its index
    (or given another index at load time) holds no path of the machine that compiled it.
    """
    return {
        "name": config.retriever,
        "index_dir": os.path.relpath(Path(config.index_dir).resolve(), run.dir.resolve()),
        "k": config.k,
        "checkpoint": index_manifest.get("checkpoint"),
    }


def teacher_stage(
    run: Run, config: CompileConfig, trainset: list[dspy.Example], devset: list[dspy.Example], metric: Callable
) -> dict:
    """Compile the program with the teacher LM through each teacher-side optimizer, in order, under `metric` (with
    `--traces-from`, copy the source run's compiled teacher instead)."""
    from engine.local import engine_label
    from engine.teacher import make_teacher

    if config.traces_from:
        return reuse_teacher(run, config)
    teacher_lm = make_teacher(config.teacher, api_base=config.api_base)
    program = open_program(run.dir, run.manifest)
    program.set_lm(teacher_lm)
    traces = trainset[: config.trace_size]
    for name in config.optimizers():
        say(f"optimizer {name}: {len(traces)} training questions, {len(devset)} validation questions", detail=True)
        optimizer = make_optimizer(name, metric).with_max_demos(config.max_demos)
        # DSPy's optimizers run fresh copies of the program whose predictors have no LM: the context LM answers.
        with dspy.context(lm=teacher_lm, num_threads=config.threads):
            program = optimizer.compile(program, trainset=traces, teacher=None, valset=devset)
    demos = sum(len(predictor.demos) for predictor in program.predictors())
    save_program(program, run.dir / program_file("teacher"))
    return {
        "teacher": {
            "spec": config.teacher,
            "api_base": config.api_base,
            "model_used": teacher_lm.model,
            "engine": engine_label(teacher_lm),
            "demos": demos,
            "optimizers": config.optimizers(),
        }
    }


def compiled_teacher(run: Run, config: CompileConfig) -> dspy.Module:
    """The compiled teacher program saved by the teacher stage, answering with the teacher LM."""
    from engine.teacher import make_teacher

    program = open_program(run.dir, run.manifest, use="teacher")
    program.set_lm(make_teacher(config.teacher, api_base=config.api_base))
    return program


def teacher_and_traces(
    run: Run, config: CompileConfig, trainset: list[dspy.Example], student_name: str
) -> tuple[dspy.Module, list[dict] | None]:
    """The teacher program the student learns from, and the saved traces to train on (None: run the teacher).

    With `--traces-from`, the compiled teacher program has no LM: it only names the traced predictors.
    """
    if config.traces_from:
        teacher = open_program(run.dir, run.manifest, use="teacher")
        traces = saved_traces(run, config, teacher, trainset)
        say(f"the student ({student_name}) trains on {len(traces)} saved traces of {config.traces_from}")
        return teacher, traces
    teacher = compiled_teacher(run, config)
    asked = teacher_questions(run, config)
    answered = f"all {len(trainset)} training examples"
    if asked is not None:
        answered = f"{min(asked, len(trainset))} of {len(trainset)} training questions (the others get gold runs)"
    say(f"teacher answers {answered}, then the student ({student_name}) trains", detail=True)
    return teacher, None


def teacher_questions(run: Run, config: CompileConfig) -> int | None:
    """How many training questions the teacher answers for distillation: --trace-size for a bundled QA program
    (gold runs cover the rest), all of them (None) for a user's own program, whose steps have no gold runs."""
    return None if is_user_program(run.manifest["program"]) else config.trace_size


def make_distill(
    run: Run, config: CompileConfig, resolved: ResolvedModel, metric: Callable, corpus: list[Passage]
) -> Distill:
    """The `Distill` optimizer of a run: its student (the `resolved` base model) and training settings, and the corpus
    passages gold search-query targets are derived from (bundled programs only)."""
    from finetune.lm import StudentLM
    from finetune.provider import train_kwargs
    from optimizers.distill import Distill

    return Distill(
        metric,
        student_lm=StudentLM.from_base(
            resolved.name_used, backend=config.student_backend, compute_type=config.student_compute_type
        ),
        targets=config.targets,
        train_kwargs=train_kwargs(
            student_training(config, resolved.family),
            output_dir=(run.dir / STUDENT_DIR).resolve(),
            processes=config.train_processes,
        ),
        num_threads=config.threads,
        passages=None if is_user_program(run.manifest["program"]) else {passage.pid: passage for passage in corpus},
        teacher_questions=teacher_questions(run, config),
    )


def student_stage(
    run: Run,
    config: CompileConfig,
    trainset: list[dspy.Example],
    devset: list[dspy.Example],
    corpus: list[Passage],
    metric: Callable,
) -> dict:
    """Distil the compiled teacher into the LoRA student through `dspy.BootstrapFinetune` (`Distill`), keeping the
    teacher traces `metric` passes; the corpus gives the supporting passages that gold search-query targets of the
    bundled programs are derived from. A bundled QA student whose `devset` holds unanswerable questions gets a
    refusal threshold (`programs.refusal`), and one whose training answers name offered options in full answers
    so too (`programs.choices.learns_full_names`)."""
    from engine.models import resolve_model
    from finetune.lm import anchor_students
    from finetune.record import read_student_record

    resolved = resolve_model(config.student)
    if resolved.note:
        say(f"note: {resolved.note}", detail=True)
    distill = make_distill(run, config, resolved, metric, corpus)
    teacher, traces = teacher_and_traces(run, config, trainset, resolved.name_used)
    student = distill.compile(open_program(run.dir, run.manifest), trainset=trainset, teacher=teacher, traces=traces)
    records = trace_records(distill.trace_data, teacher)
    write_traces(run.dir / TRACES_FILE, fingerprints(run, teacher, trainset), records)
    anchor_students(student, run.dir)
    save_program(student, run.dir / program_file("student"))
    qa_program = not is_user_program(run.manifest["program"])
    refusal_threshold = student_refusal(student, devset, config.refusal_recall) if qa_program else None
    full_names = qa_program and learns_full_names(trainset, {passage.pid: passage for passage in corpus})
    if full_names:
        say("the training answers name a chosen option in full, as its passage opens: the student will too")
    trained = read_student_record(run.dir / STUDENT_DIR).get("result", {})
    figures = ("epochs_completed", "precision", "train_seconds", "batch_size", "processes")
    training = {key: trained.get(key) for key in figures}
    say(f"student trained on {distill.stats}: {training}", detail=True)
    # Loading the trained student converts it for the fast backend now, once, so evaluation and serving reuse it.
    used = student.predictors()[0].lm.student_engine.used
    say(f"student generates with {used['backend']} ({used['compute_type']})", detail=True)
    return {
        "student": {
            "spec": config.student,
            "model_used": resolved.name_used,
            "family": resolved.family,
            "note": resolved.note,
            "adapter_dir": STUDENT_DIR,
            "refusal_threshold": refusal_threshold,
            "full_names": full_names,
            **used,
        },
        "targets": {"mode": config.targets, **distill.stats},
        "training": training,
        "traces": {"file": TRACES_FILE, "examples": len(records), "from_run": config.traces_from},
    }


def student_refusal(student: dspy.Module, devset: list[dspy.Example], recall: float) -> float | None:
    """The distilled QA program's refusal threshold, refusing `recall` of `devset`'s unanswerable questions
    (`programs.refusal`; None: never refuse)."""
    from programs.refusal import calibrate_refusal

    threshold = calibrate_refusal(student, devset, recall)
    if threshold is not None:
        say(f"the student refuses when log p(unanswerable) - log p(answer) >= {threshold:.2f} "
            "(chosen on the validation questions)", detail=True)  # fmt: skip
    return threshold


def report_stage(run: Run, config: CompileConfig, testset: list[dspy.Example]) -> dict:
    """Evaluate every system on the test questions (a user's program on its test examples) and write `report/`."""
    from programs.evaluate.evaluation import evaluate_run

    if is_user_program(run.manifest["program"]):
        return {"report": program_report(run, config, testset)}

    retrievers = tuple(dict.fromkeys((config.retriever, "bm25")))  # the run's retriever against the lexical baseline
    report = evaluate_run(run.dir, testset, retrievers=retrievers, threads=config.threads,
                          teacher=not config.traces_from, baseline_limit=config.baseline_test_size)  # fmt: skip
    systems = {
        name: {key: metrics[key] for key in ("questions", "em", "f1", "latency_p50_s", "answers_per_s")}
        for name, metrics in report["systems"].items()
    }
    return {"report": {"path": f"{REPORT_DIR}/{REPORT_PAGE}", "systems": systems}}  # relative to the run


def program_report(run: Run, config: CompileConfig, testset: list[dspy.Example]) -> dict:
    """The report of a user's program (`programs.evaluate.user_program`), written into `report/`; its summary."""
    from programs.evaluate.report import write_report
    from programs.evaluate.user_program import evaluate_program_run

    report = evaluate_program_run(run.dir, testset, teacher=not config.traces_from, threads=config.threads,
                                  baseline_limit=config.baseline_test_size)  # fmt: skip
    write_report(report, run.dir / REPORT_DIR)
    keys = ("items", "score", "parse_failures", "latency_p50_s", "items_per_s")
    systems = {name: {key: figures[key] for key in keys} for name, figures in report["systems"].items()}
    return {"path": f"{REPORT_DIR}/{REPORT_PAGE}", "kind": "program", "systems": systems}
