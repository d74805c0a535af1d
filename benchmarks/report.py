"""The whole comparison on one named dataset: every system of a compiled run, printed as JSON.

    python -m benchmarks.report runs/world --dataset world|hotpotqa|squad [--limit 40] [--retrievers ...]

`world` is the bundled test split; `hotpotqa` and `squad` are the real samples in `data/samples/`, whose
corpus is indexed into the ragdistill cache first. The full report is written to `RUN_DIR/report-<dataset>/`;
stdout gets its summary: each system's EM/F1/latency/throughput and each retriever's recall@k and MRR.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import dspy

from core.errors import RagdistillError, exit_cleanly_on_error
from data.loaders import SAMPLES_DIR, WORLD_DIR, file_sha256, load_examples
from finetune.adapter import StudentAdapter
from programs.evaluate.evaluation import DEFAULT_RETRIEVERS, evaluate_run, index_for_corpus

DATASETS = {
    "world": (WORLD_DIR / "test.jsonl", None),
    "hotpotqa": (SAMPLES_DIR / "hotpotqa_dev_sample.jsonl", SAMPLES_DIR / "hotpotqa_dev_sample_corpus.jsonl"),
    "squad": (SAMPLES_DIR / "squad_v1.1_dev_sample.jsonl", SAMPLES_DIR / "squad_v1.1_dev_sample_corpus.jsonl"),
}
SUMMARY_KEYS = (
    "em", "em_ci", "f1", "rouge_l", "bleu", "latency_p50_s", "answers_per_s", "answer_in_context",
    "by_hops", "all_gold_recall", "gold_found_by_hop", "abstention",
)  # fmt: skip


def summary(report: dict) -> dict:
    """The report without per-question detail."""
    return {
        "systems": {name: {key: m.get(key) for key in SUMMARY_KEYS} for name, m in report["systems"].items()},
        "retrieval": report["retrieval"],
        "models": report["models"],
        "data": report["data"],
    }


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dataset", type=click.Choice(sorted(DATASETS)), default="world", show_default=True)
@click.option("--limit", default=40, show_default=True, help="Questions evaluated.")
@click.option("--retrievers", default=",".join(DEFAULT_RETRIEVERS), show_default=True)
@exit_cleanly_on_error
def main(run_dir: Path, dataset: str, limit: int, retrievers: str) -> None:
    """Evaluate RUN_DIR's systems on DATASET and print the report summary as JSON."""
    questions, corpus = DATASETS[dataset]
    if not questions.is_file():
        raise RagdistillError(f"dataset {dataset!r} is not here ({questions} missing)")
    wanted = tuple(name.strip() for name in retrievers.split(","))
    index_dir = index_for_corpus(corpus, wanted) if corpus else None
    files = {"questions": str(questions), **({"corpus": str(corpus)} if corpus else {})}
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(
            run_dir, load_examples(questions, limit=limit), retrievers=wanted, index_dir=index_dir,
            data_files=files, report_dir=run_dir / f"report-{dataset}",
        )  # fmt: skip
    print(json.dumps({"dataset": dataset, "questions_sha256": file_sha256(questions), **summary(report)}, indent=2))


if __name__ == "__main__":
    main()
