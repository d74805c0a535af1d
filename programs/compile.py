"""`python -m programs.compile`: the whole mission in one command, and the one place that wires every package.

Stages, each recorded in `runs/<name>/manifest.json` when it finishes (so `--resume` skips it):
1. `index`   — the retriever's index over the corpus (built if missing, reused when its corpus hash matches);
2. `teacher` — the program (`rag` or `multihop`) run by the teacher LM and compiled by the teacher-side
               optimizers (`--optimizer`, e.g. `bootstrap`), saved as `teacher_program.json`;
3. `student` — `optimizers.distill.Distill`: the real `dspy.BootstrapFinetune` distils the compiled
               teacher's traces (and/or gold answers) into a LoRA student, saved as `student/` +
               `student_program.json`;
4. `report`  — every system evaluated on the test split (`programs.evaluate`), written to `report/`.

With no arguments it runs offline on the bundled fictional world with the offline teacher and student.
Bad input (unknown program/optimizer/teacher, unreadable data, missing index) is rejected before
`runs/<name>/` is created; each artifact is written atomically, so an interrupted run leaves only whole
stages behind. Simplification: stages run in order in one process; there is no partial-stage resume.
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from core.atomic import write_json_atomic
from core.cli import dataclass_options
from core.errors import RagdistillError, exit_cleanly_on_error
from core.log import say
from data.loaders import WORLD_CORPUS, file_sha256, load_corpus, load_examples
from engine.models import DEFAULT_STUDENT

STAGES = ("index", "teacher", "student", "report")
TEACHER_OPTIMIZERS = ("none", "fewshot", "bootstrap", "random_search", "mipro")


@dataclass
class CompileConfig:
    """Every setting of a compile run; the CLI mirrors these fields and the manifest records them."""

    name: str = "world"
    """Run name: outputs go to `<out>/<name>/`."""
    out: str = "runs"
    """Directory holding run directories."""
    program: str = "rag"
    """Program to compile: `rag` (retrieve, then answer) or `multihop` (two retrieval hops)."""
    optimizer: str = "bootstrap"
    """Teacher-side optimizers, comma-separated, applied in order: none, fewshot, bootstrap, random_search, mipro."""
    distill: bool = True
    """Distil the compiled teacher into the LoRA student (the BootstrapFinetune bridge)."""
    teacher: str = "smollm2"
    """Teacher LM: a LiteLLM model string (`openai/gpt-4o-mini`, `ollama_chat/llama3.1`), `smollm2` or a local dir."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server for the teacher (LiteLLM `api_base`)."""
    student: str = DEFAULT_STUDENT
    """Student base model: a HF hub id, a local dir, `tiny-t5` or `smollm2` (fallback when t5-small is absent)."""
    targets: str = "both"
    """Where student targets come from: `traces` (teacher outputs that pass the metric), `gold`, or `both`."""
    retriever: str = "colbert"
    """Retriever over the index: colbert, bm25, hybrid or bm25+rerank."""
    k: int = 5
    """Passages retrieved per search."""
    corpus: str = str(WORLD_CORPUS)
    """Corpus (JSONL/TSV with pid, title, text) to index and search."""
    index_dir: str = "indexes/world"
    """Index directory (built there if missing)."""
    train: str = "train"
    """Training questions: a bundled split name, a JSONL/CSV file or a Hugging Face dataset."""
    dev: str = "dev"
    """Validation questions (used by random search and MIPROv2)."""
    test: str = "test"
    """Test questions for the report (never used for optimization)."""
    train_size: int = 100
    """Training questions the teacher answers for distillation (each yields a teacher or a gold target)."""
    trace_size: int = 24
    """Training questions the teacher-side optimizers bootstrap demos from (teacher calls are the slow part)."""
    dev_size: int = 20
    """Validation questions used by the teacher-side optimizers."""
    test_size: int = 40
    """Test questions in the report."""
    epochs: float = 3.0
    """Student training epochs."""
    batch_size: int = 8
    """Student training batch size."""
    learning_rate: float | None = None
    """Student learning rate (default: per model family, see finetune.lora.LoRATrainConfig)."""
    train_minutes: float = 4.0
    """Wall-clock cap on student training, in minutes (0: no cap)."""
    threads: int = 2
    """Parallel LM calls during bootstrapping and evaluation."""
    seed: int = 0
    """Random seed (sampling of questions, training)."""
    resume: bool = False
    """Skip stages an earlier run of the same name finished."""
    skip_bad_rows: bool = False
    """Skip malformed data rows (counted in a warning) instead of stopping."""

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.name

    def optimizers(self) -> list[str]:
        return [name.strip() for name in self.optimizer.split(",") if name.strip()]


def validate(config: CompileConfig) -> None:
    """Reject bad settings with one clear line before anything is written."""
    from engine.teacher import check_teacher_spec
    from programs.rag import PROGRAMS
    from retrieval.base import check_k
    from retrieval.factory import RETRIEVER_NAMES

    if config.program not in PROGRAMS or config.program == "closedbook":
        raise RagdistillError(f"unknown program {config.program!r}: choose rag or multihop")
    for name in config.optimizers():
        if name not in TEACHER_OPTIMIZERS:
            raise RagdistillError(f"unknown optimizer {name!r}: choose from {', '.join(TEACHER_OPTIMIZERS)}")
    if config.retriever not in RETRIEVER_NAMES:
        raise RagdistillError(f"unknown retriever {config.retriever!r}: choose one of {', '.join(RETRIEVER_NAMES)}")
    if config.targets not in ("traces", "gold", "both"):
        raise RagdistillError(f"unknown targets {config.targets!r}: choose traces, gold or both")
    check_k(config.k)
    check_teacher_spec(config.teacher, api_base=config.api_base)
    for size in ("train_size", "trace_size", "dev_size", "test_size"):
        if getattr(config, size) < 1:
            raise RagdistillError(f"--{size.replace('_', '-')} must be at least 1")


@dataclass
class Run:
    """A run directory and its manifest, saved atomically after every stage."""

    config: CompileConfig
    manifest: dict = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.config.run_dir

    def open(self) -> None:
        path = self.dir / "manifest.json"
        if self.config.resume and path.is_file():
            self.manifest = json.loads(path.read_text(encoding="utf-8"))
        elif path.is_file():
            raise RagdistillError(f"{self.dir} already holds a run: pass --resume to continue it or choose --name")
        self.manifest.setdefault("stages_done", [])
        self.manifest.setdefault("timings", {})
        self.manifest.update(
            name=self.config.name, program=self.config.program, settings=asdict(self.config), versions=versions()
        )

    def done(self, stage: str) -> bool:
        return stage in self.manifest["stages_done"]

    def finish(self, stage: str, seconds: float, **entries) -> None:
        self.manifest.update(entries)
        self.manifest["timings"][stage] = round(seconds, 1)
        if stage not in self.manifest["stages_done"]:
            self.manifest["stages_done"].append(stage)
        write_json_atomic(self.dir / "manifest.json", self.manifest)


def versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes a run."""
    from importlib.metadata import version

    packages = ("dspy", "torch", "transformers", "peft", "colbert-ai", "bm25s")
    return {"python": platform.python_version(), **{name: version(name) for name in packages}}


def compile_run(config: CompileConfig) -> dict:
    """Run every stage not yet done; returns the report summary (the `systems` table)."""
    import dspy

    from finetune.adapter import StudentAdapter
    from programs.stages import index_stage, report_stage, student_stage, teacher_stage

    validate(config)
    random.seed(config.seed)
    say(f"loading data (train={config.train}, dev={config.dev}, test={config.test})")
    corpus = load_corpus(config.corpus, skip_bad_rows=config.skip_bad_rows)
    rows = dict(skip_bad_rows=config.skip_bad_rows)
    trainset = load_examples(config.train, limit=config.train_size, **rows)
    devset = load_examples(config.dev, limit=config.dev_size, **rows)
    testset = load_examples(config.test, limit=config.test_size, **rows)
    run = Run(config)
    run.open()
    run.manifest["data"] = {
        "corpus": {"path": config.corpus, "sha256": file_sha256(config.corpus), "passages": len(corpus)},
        **{
            split: {"source": getattr(config, split), "questions": len(examples)}
            for split, examples in (("train", trainset), ("dev", devset), ("test", testset))
        },
    }
    stages = {
        "index": lambda: index_stage(run, corpus),
        "teacher": lambda: teacher_stage(run, trainset, devset),
        "student": lambda: student_stage(run, trainset),
        "report": lambda: report_stage(run, testset),
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


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@dataclass_options(CompileConfig)
@exit_cleanly_on_error
def main(**options) -> None:
    """Compile a retrieve-then-answer DSPy program with a teacher LM and distil it into a LoRA student.

    With no options: the bundled fictional world, a ColBERT index, the offline SmolLM2 teacher,
    BootstrapFewShot, BootstrapFinetune into the default student, and a report on the test split.
    """
    from programs.stages import print_summary

    manifest = compile_run(CompileConfig(**options))
    print_summary(manifest)


if __name__ == "__main__":
    sys.exit(main())
