"""The compile pipeline behind `python -m programs.compile`: the whole mission, the one place wiring every package.

Stages, each recorded in `runs/<name>/manifest.json` when it finishes (so `--resume` skips it):
1. `index`   — the retriever's index over the corpus (built if missing, reused when its corpus hash matches);
2. `teacher` — the program (`rag` or `multihop`; `auto`, the default, picks `multihop` when the training
               questions include two-hop ones, see `programs.rag.choose_program`) run by the teacher LM and
               compiled by the teacher-side optimizers (`--optimizer`, e.g. `bootstrap`), saved as
               `teacher_program.json`;
3. `student` — `optimizers.distill.Distill`: the real `dspy.BootstrapFinetune` distils the compiled
               teacher's traces (and/or gold answers) into a LoRA student, saved as `student/` +
               `student_program.json` (trained in this process, or with `--train-processes N` by N
               data-parallel processes under `accelerate launch`, see `finetune.launch`);
4. `report`  — every system evaluated on the test split (`programs.evaluate`), written to `report/`.

The settings are `programs.compile.config`, the run directory format `programs.rundir`, the stages
`programs.compile.stages`, the command line `programs/compile/__main__.py`.

With no arguments it runs offline on the bundled fictional world with the offline teacher and student.
Bad input (unknown program/optimizer/teacher, unreadable data, missing index) is rejected before
`runs/<name>/` is created; each artifact is written atomically, so an interrupted run leaves only whole
stages behind. Simplification: stages run in order in one process (multi-process training aside); there is no
partial-stage resume.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict

from core.log import say
from data.loaders import file_sha256, load_corpus, load_examples
from programs.compile.config import CompileConfig, validate
from programs.compile.reuse import check_traces_source, traced_program
from programs.compile.stages import index_stage, report_stage, student_stage, teacher_stage
from programs.rag import AUTO, balanced_by_hops, choose_program, is_two_hop
from programs.rundir import Run

STAGES = ("index", "teacher", "student", "report")
TRAIN_POOL = 4
"""`--balance-hops` draws the training questions from the first TRAIN_POOL x --train-size rows."""


def compile_run(config: CompileConfig) -> dict:
    """Run every stage not yet done; returns the report summary (the `systems` table)."""
    import dspy

    from finetune.adapter import StudentAdapter

    validate(config)
    random.seed(config.training.seed)
    say(f"loading data (train={config.train}, dev={config.dev}, test={config.test})")
    corpus = load_corpus(config.corpus, skip_bad_rows=config.skip_bad_rows)
    rows = dict(skip_bad_rows=config.skip_bad_rows)
    pool = load_examples(config.train, limit=config.train_size * TRAIN_POOL, **rows)
    trainset = pool[: config.train_size]
    devset = load_examples(config.dev, limit=config.dev_size, **rows)
    testset = load_examples(config.test, limit=config.test_size, **rows)
    given = (config.program, f"given: --program {config.program}")
    if config.traces_from and config.program == AUTO:  # the saved traces decide
        given = (traced_program(config), f"auto: the program whose traces --traces-from {config.traces_from} holds")
    program, choice = choose_program(trainset) if given[0] == AUTO else given
    if program == "multihop" and config.balance_hops:
        trainset = balanced_by_hops(pool, config.train_size)
    say(f"program: {program} ({choice})")
    if config.traces_from:
        check_traces_source(config, program, trainset)
    run = Run(config.run_dir)
    run.open(resume=config.resume, name=config.name, program=program, settings=asdict(config))
    run.manifest["program_choice"] = choice
    run.manifest["data"] = {
        "corpus": {"path": config.corpus, "sha256": file_sha256(config.corpus), "passages": len(corpus)},
        **{
            split: {"source": getattr(config, split), "questions": len(qs), "two_hop": sum(map(is_two_hop, qs))}
            for split, qs in (("train", trainset), ("dev", devset), ("test", testset))
        },
    }
    stages = {
        "index": lambda: index_stage(run, config, corpus),
        "teacher": lambda: teacher_stage(run, config, trainset, devset),
        "student": lambda: student_stage(run, config, trainset, corpus),
        "report": lambda: report_stage(run, config, testset),
    }
    # One adapter for every LM: the flat student prompt for students, ChatAdapter (no JSON retry) for teachers.
    with dspy.context(adapter=StudentAdapter()):
        for stage in STAGES:
            if stage == "student" and not config.distill:
                continue
            if run.done(stage):
                say(f"{stage}: done in an earlier run, skipped (--resume)")
                continue
            say(f"stage {stage}")
            started = time.perf_counter()
            entries = stages[stage]()
            run.finish(stage, time.perf_counter() - started, **entries)
    return run.manifest
