"""The compile pipeline behind `python -m programs.compile`: the whole mission, the one place wiring every package.

Stages, each recorded in `runs/<name>/manifest.json` when it finishes (so `--resume` skips it):
1. `index`   — the retriever's index over the corpus (built if missing, reused when its corpus hash matches;
               skipped for a user's program whose builder takes no retriever);
2. `teacher` — the program (`rag` or `multihop`; `auto`, the default, picks `multihop` when the training
               questions include two-hop ones, see `programs.rag.choose_program`; or the user's own,
               `--program module:build`, see `programs.user`) run by the teacher LM and compiled by the
               teacher-side optimizers (`--optimizer`, e.g. `bootstrap`) under the run's metric (`--metric`),
               saved as `teacher_program.json`;
3. `student` — `optimizers.distill.Distill`: the real `dspy.BootstrapFinetune` distils the compiled
               teacher's traces (and/or gold answers) into a LoRA student, saved as `student/` +
               `student_program.json` (trained in this process, or with `--train-processes N` by N
               data-parallel processes under `accelerate launch`, see `finetune.launch`);
4. `report`  — every system evaluated on the test split (`programs.evaluate`; a user's program by its own
               metric, field by field, `programs.evaluate.user_program`), written to `report/`.

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

import dspy

from core.log import say
from data.loaders import file_sha256, load_corpus, load_examples, load_task_examples
from optimizers.metrics import short_answer_exact_match
from programs.compile.config import CompileConfig, validate
from programs.compile.reuse import check_traces_source, traced_program
from programs.compile.stages import index_stage, report_stage, student_stage, teacher_stage
from programs.evaluate.evaluation import NoRetrieval
from programs.rag import AUTO, balanced_by_hops, choose_program, is_two_hop
from programs.rundir import Run
from programs.user import build_user_program, is_user_program, load_metric, program_inputs, takes_retriever

STAGES = ("index", "teacher", "student", "report")
TRAIN_POOL = 4
"""`--balance-hops` draws the training questions from the first TRAIN_POOL x --train-size rows."""


def qa_data(config: CompileConfig) -> tuple[str, str, dict[str, list[dspy.Example]]]:
    """The bundled QA programs' data: (program, why it was chosen, {"train", "dev", "test"} questions)."""
    rows = dict(skip_bad_rows=config.skip_bad_rows)
    pool = load_examples(config.train, limit=config.train_size * TRAIN_POOL, **rows)
    trainset = pool[: config.train_size]
    given = (config.program, f"given: --program {config.program}")
    if config.traces_from and config.program == AUTO:  # the saved traces decide
        given = (traced_program(config), f"auto: the program whose traces --traces-from {config.traces_from} holds")
    program, choice = choose_program(trainset) if given[0] == AUTO else given
    if program == "multihop" and config.balance_hops:
        trainset = balanced_by_hops(pool, config.train_size)
        choice += f"; --balance-hops trains on {sum(map(is_two_hop, trainset))} two-hop of {len(trainset)}"
    devset = load_examples(config.dev, limit=config.dev_size, **rows)
    testset = load_examples(config.test, limit=config.test_size, **rows)
    return program, choice, {"train": trainset, "dev": devset, "test": testset}


def user_program_data(config: CompileConfig) -> tuple[tuple[str, ...], dict[str, list[dspy.Example]]]:
    """A user's program's inputs and data: ((input fields), {"train", "dev", "test"} examples)."""
    inputs = program_inputs(build_user_program(config.program, retriever=NoRetrieval()), config.inputs)
    sizes = {"train": config.train_size, "dev": config.dev_size, "test": config.test_size}
    data = {split: load_task_examples(getattr(config, split), inputs, limit=size, skip_bad_rows=config.skip_bad_rows)
            for split, size in sizes.items()}  # fmt: skip
    return inputs, data


def compile_run(config: CompileConfig) -> dict:
    """Run every stage not yet done; returns the report summary (the `systems` table)."""
    from finetune.adapter import StudentAdapter

    validate(config)
    random.seed(config.training.seed)
    say(f"loading data (train={config.train}, dev={config.dev}, test={config.test})")
    user = is_user_program(config.program)
    metric = load_metric(config.metric) if user or config.metric else short_answer_exact_match
    if user:
        inputs, data = user_program_data(config)
        program, choice = config.program, f"given: --program {config.program}"
        searches = takes_retriever(config.program)
    else:
        (program, choice, data), inputs, searches = qa_data(config), ("question",), True
    corpus = load_corpus(config.corpus, skip_bad_rows=config.skip_bad_rows) if searches else []
    say(f"program: {program} ({choice})")
    if config.traces_from:
        check_traces_source(config, program, data["train"])
    run = Run(config.run_dir)
    run.open(resume=config.resume, name=config.name, program=program, settings=asdict(config))
    run.manifest.update(program_choice=choice, inputs=list(inputs), metric=config.metric)
    run.manifest["data"] = {
        **({"corpus": {"path": config.corpus, "sha256": file_sha256(config.corpus), "passages": len(corpus)}}
           if searches else {}),
        **{split: {"source": getattr(config, split), "questions": len(examples)}
           | ({} if user else {"two_hop": sum(map(is_two_hop, examples))}) for split, examples in data.items()},
    }  # fmt: skip
    stages = {
        "index": lambda: index_stage(run, config, corpus),
        "teacher": lambda: teacher_stage(run, config, data["train"], data["dev"], metric),
        "student": lambda: student_stage(run, config, data["train"], data["dev"], corpus, metric),
        "report": lambda: report_stage(run, config, data["test"]),
    }
    # One adapter for every LM: the flat student prompt for students, ChatAdapter (no JSON retry) for teachers.
    with dspy.context(adapter=StudentAdapter()):
        for stage in STAGES:
            if (stage == "student" and not config.distill) or (stage == "index" and not searches):
                continue
            if run.done(stage):
                say(f"{stage}: done in an earlier run, skipped (--resume)")
                continue
            say(f"stage {stage}")
            started = time.perf_counter()
            entries = stages[stage]()
            run.finish(stage, time.perf_counter() - started, **entries)
    return run.manifest
