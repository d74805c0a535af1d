"""`python -m programs.evaluate runs/<name>`: evaluate a run and write its report (options from `EvaluateConfig`).

A run is evaluated on the test data it was compiled with (`--split` picks its training or validation data,
`--data` any other file); a run of a user's own program by its own metric (`programs.evaluate.user_program`). The
retriever options apply to the bundled QA programs only.

Progress lines go to stderr; stdout gets one line per system and the report's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click
import dspy

from core.cli import check_choices, config_command
from core.errors import ConfigError, RunFormatError
from data.loaders import load_examples, load_task_examples, split_source
from programs.evaluate.evaluation import DEFAULT_RETRIEVERS, evaluate_run, index_for_corpus
from programs.evaluate.report import REPORT_PAGE, write_report
from programs.evaluate.user_program import evaluate_program_run
from programs.rundir import MANIFEST_FILE, REPORT_DIR, read_run_manifest
from programs.user import is_user_program
from retrieval.indexdir import RETRIEVER_NAMES


@dataclass
class EvaluateConfig:
    """What to evaluate a run on, and where the report goes."""

    split: Literal["train", "dev", "test"] = "test"
    """Which of the run's own data to evaluate on: the training, validation or test questions it was compiled with
    (the bundled splits for a run on the bundled data)."""
    data: str | None = None
    """Any JSONL/CSV QA file instead of the run's own --split (`FILE[a:b]`: a slice of its rows); for a run of your
    own program, a JSONL file of examples."""
    corpus: str | None = None
    """The corpus --data's gold passages point into (indexed into the ragdistill cache once)."""
    limit: int | None = None
    """Evaluate the first N questions only."""
    out: str | None = None
    """Report directory [default: RUN_DIR/report]."""
    retrievers: str = ",".join(DEFAULT_RETRIEVERS)
    """Retrievers to compare (colbert, bm25, hybrid, bm25+rerank), where the index has them."""
    teacher: bool = True
    """Evaluate the teacher's systems too (`--no-teacher`: the students only; a local teacher is the slow part)."""
    baseline_limit: int | None = None
    """The systems compared with (teacher systems, untrained base student, the student behind another retriever)
    answer the first N questions only."""
    threads: int = 2
    """Questions answered at once (a local engine batches them)."""

    def __post_init__(self) -> None:
        check_choices(self)
        unknown = set(self.retriever_names()) - set(RETRIEVER_NAMES)
        if unknown:
            raise ConfigError(f"unknown retriever(s) {', '.join(sorted(unknown))}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        if self.baseline_limit is not None and self.baseline_limit < 1:
            raise ConfigError(f"--baseline-limit must be at least 1, got {self.baseline_limit}")
        if self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")

    def retriever_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.retrievers.split(",") if name.strip())


@config_command(EvaluateConfig)
@click.argument("run_dir", type=click.Path(path_type=Path))
def main(run_dir: Path, **options) -> None:
    """Evaluate the compiled run RUN_DIR and write RUN_DIR/report/ (report.json, report.md, index.html)."""
    from finetune.adapter import StudentAdapter

    config = EvaluateConfig(**options)
    if not (run_dir / MANIFEST_FILE).is_file():
        raise RunFormatError(f"{run_dir} is not a run directory (no manifest.json): compile one with programs.compile")
    manifest = read_run_manifest(run_dir)
    if is_user_program(manifest.get("program", "")):
        evaluate_user_program(run_dir, manifest, config)
        return
    wanted = config.retriever_names()
    source = run_data(manifest, config)
    examples = load_examples(source, limit=config.limit)
    corpus = Path(config.corpus) if config.corpus else None
    index_dir = index_for_corpus(corpus, wanted) if corpus else None
    data_files = {"questions": split_source(source)[0], **({"corpus": str(corpus)} if corpus else {})}
    report_dir = Path(config.out) if config.out else run_dir / REPORT_DIR
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(
            run_dir, examples, retrievers=wanted, index_dir=index_dir, data_files=data_files, report_dir=report_dir,
            teacher=config.teacher, threads=config.threads, baseline_limit=config.baseline_limit,
        )  # fmt: skip
    for name, metrics in report["systems"].items():
        click.echo(f"{name:36} EM {metrics['em']:5.1f}  F1 {metrics['f1']:5.1f}  p50 {metrics['latency_p50_s']:.3f}s")
    click.echo(f"report: {report_dir / REPORT_PAGE}")


def run_data(manifest: dict, config: EvaluateConfig) -> str:
    """What to evaluate on: `--data`, else the run's own `--split` data (a bundled split name or a file)."""
    return config.data or (manifest.get("settings") or {}).get(config.split, config.split)


def evaluate_user_program(run_dir: Path, manifest: dict, config: EvaluateConfig) -> None:
    """Evaluate a user-program run on `--data` (default: its own `--split` data) and write its report."""
    from finetune.adapter import StudentAdapter

    source = run_data(manifest, config)
    examples = load_task_examples(source, tuple(manifest["inputs"]), limit=config.limit)
    report_dir = Path(config.out) if config.out else run_dir / REPORT_DIR
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_program_run(run_dir, examples, teacher=config.teacher, threads=config.threads,
                                      baseline_limit=config.baseline_limit)  # fmt: skip
    write_report(report, report_dir)
    for name, figures in report["systems"].items():
        click.echo(f"{name:36} score {figures['score']:5.1f}  parse failures {figures['parse_failures']}  "
                   f"p50 {figures['latency_p50_s']:.3f}s")  # fmt: skip
    click.echo(f"report: {report_dir / REPORT_PAGE}")


if __name__ == "__main__":
    main()
