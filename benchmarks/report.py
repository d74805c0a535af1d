"""The whole comparison on one named dataset: every system of a compiled run, printed as JSON.

    python -m benchmarks.report runs/world --dataset world|hotpotqa|squad [--limit 40] [--retrievers ...]
                                [--no-teacher] [--baseline-limit N] [--out docs/results/FILE.json]

`world` is the bundled test split; `hotpotqa` and `squad` are the real samples in `data/samples/`, whose corpus
is indexed into the ragdistill cache first. The full report is written to `RUN_DIR/report-<dataset>/`; stdout
gets its summary (`benchmarks.results.emit`): each system's EM/F1/latency/throughput, EM per question type and
hop figures, and each retriever's recall@k and MRR. `--no-teacher --baseline-limit 1` scores the students on
many questions while the slow baselines answer one, as `programs.evaluate` does.
"""

from __future__ import annotations

from pathlib import Path

import click
import dspy

from benchmarks.datasets import DATASETS
from benchmarks.results import emit, out_option
from core.errors import DataError, exit_cleanly_on_error
from data.loaders import file_sha256, load_examples
from finetune.adapter import StudentAdapter
from programs.evaluate.evaluation import DEFAULT_RETRIEVERS, evaluate_run, index_for_corpus

SUMMARY_KEYS = (
    "questions", "em", "em_ci", "f1", "rouge_l", "bleu", "latency_p50_s", "answers_per_s", "answer_in_context",
    "errors", "by_hops", "all_gold_recall", "gold_found_by_hop", "abstention",
)  # fmt: skip


def summary(report: dict) -> dict:
    """The report without per-question detail."""
    return {
        "systems": {name: {key: m.get(key) for key in SUMMARY_KEYS} for name, m in report["systems"].items()},
        "speed_ratio": report.get("speed_ratio"),
        "retrieval": report.get("retrieval", {}),
        "models": report.get("models", {}),
        "data": report.get("data", {}),
    }


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dataset", type=click.Choice(sorted(DATASETS)), default="world", show_default=True)
@click.option("--limit", default=40, show_default=True, help="Questions evaluated.")
@click.option("--retrievers", default=",".join(DEFAULT_RETRIEVERS), show_default=True)
@click.option("--teacher/--no-teacher", default=True, show_default=True, help="Evaluate the teacher's systems too.")
@click.option("--baseline-limit", type=click.IntRange(1), default=None, help="Baselines answer the first N only.")
@out_option
@exit_cleanly_on_error
def main(
    run_dir: Path, dataset: str, limit: int, retrievers: str, teacher: bool, baseline_limit: int | None, out: str | None
) -> None:
    """Evaluate RUN_DIR's systems on DATASET and print the report summary as JSON."""
    questions, corpus = DATASETS[dataset]
    corpus = None if dataset == "world" else corpus  # the world is what the run's own index holds
    if not questions.is_file():
        raise DataError(f"dataset {dataset!r} is not here ({questions} missing)")
    wanted = tuple(name.strip() for name in retrievers.split(","))
    index_dir = index_for_corpus(corpus, wanted) if corpus else None
    files = {"questions": str(questions), **({"corpus": str(corpus)} if corpus else {})}
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(
            run_dir, load_examples(questions, limit=limit), retrievers=wanted, index_dir=index_dir,
            data_files=files, report_dir=run_dir / f"report-{dataset}", teacher=teacher, baseline_limit=baseline_limit,
        )  # fmt: skip
    emit("report", {"dataset": dataset, "questions_sha256": file_sha256(questions), **summary(report)}, out)


if __name__ == "__main__":
    main()
