"""Multi-hop end to end: compile the multi-hop program, then read its student's figures off the report.

    python -m benchmarks.multihop [--dataset hotpotqa|world] [--fusion rrf|off] [--train-size N] [--test-size N]
        [--teacher SPEC] [--student SPEC] [--retriever colbert|bm25] [--train-minutes M] [--out FILE]

`hotpotqa` trains on the first 158 questions of the real sample in `data/samples/` and tests on its last 40
(all two-hop); `world` trains on the bundled world's training split and tests on its test split (200 questions,
one- and two-hop). Each run is a real `python -m programs.compile` run (`--program multihop`), so its minutes are a
compile's minutes. Printed JSON (`benchmarks.results.emit`):

- `student`: the distilled student's EM/F1 (by question type too), the share of questions whose final context holds
  every gold passage (`all_gold_in_context`), each hop's written-query recall (`hop_query_recall`), and its wrong
  answers split by the gold passages (`gold_errors`: reading errors had them all, retrieval errors did not) and by
  the answer string (`errors`);
- `question_only`: the same share when each question is searched with itself alone, for as many passages as the
  student's final context held for it (the same passage budget, question by question);
- `minutes`: the whole compile, and each stage.

Simplified: one run per call (compare `--fusion rrf` with `--fusion off` by running twice); the run directory is a
temporary one unless `--run-dir` keeps it.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click
import dspy

from benchmarks.datasets import DATASETS, compile_options
from benchmarks.results import emit, out_option
from core.errors import exit_cleanly_on_error
from data.loaders import WORLD_DIR, load_examples
from programs.compile.config import CompileConfig, compile_training
from programs.rag import FUSIONS
from programs.rundir import REPORT_DIR, run_index_dir
from retrieval.base import Retriever

HOTPOTQA_TRAIN = 158
"""The HotpotQA sample's first 158 questions train; the rest (40) test."""
STUDENT = "student_distilled"


def splits(dataset: str) -> dict[str, str]:
    """The train, dev and test sources of `dataset` (a HotpotQA sample slice, or the world's splits)."""
    if dataset == "world":
        return {split: str(WORLD_DIR / f"{split}.jsonl") for split in ("train", "dev", "test")}
    questions = str(DATASETS[dataset][0])
    train = f"{questions}[:{HOTPOTQA_TRAIN}]"
    return {"train": train, "dev": train, "test": f"{questions}[{HOTPOTQA_TRAIN}:]"}


def question_only(retriever: Retriever, examples: list[dspy.Example], per_question: list[dict]) -> float | None:
    """Share of the questions with gold passages whose top-N for the question alone holds all of them, N being the
    number of passages the student's final context held for that question."""
    budget = {row["qid"]: row["passages"] for row in per_question}
    found = [
        set(example.gold_pids) <= {hit.pid for hit in retriever.search(example.question, max(1, budget[example.id]))}
        for example in examples
        if example.gold_pids and example.id in budget
    ]
    return sum(found) / len(found) if found else None


def student_figures(system: dict) -> dict:
    """The figures of the report's distilled student this benchmark prints."""
    keys = ("questions", "em", "f1", "by_hops", "hop_query_recall", "gold_errors", "errors")
    return {**{key: system.get(key) for key in keys}, "all_gold_in_context": system.get("all_gold_recall")}


@click.command()
@click.option("--dataset", type=click.Choice(["hotpotqa", "world"]), default="hotpotqa", show_default=True)
@click.option("--fusion", type=click.Choice(FUSIONS), default="rrf", show_default=True)
@click.option("--train-size", default=HOTPOTQA_TRAIN, show_default=True, help="Training questions.")
@click.option("--test-size", default=40, show_default=True, help="Test questions (the world has 200).")
@click.option("--trace-size", default=8, show_default=True, help="Training questions the teacher answers.")
@click.option("--baseline-test-size", default=8, show_default=True, help="Test questions the baselines answer.")
@compile_options
@click.option("--epochs", type=int, default=None, help="Training epochs (default: the compile's).")
@click.option(
    "--train-minutes",
    default=CompileConfig.train_minutes,
    show_default=True,
    help="Cap on student training, in minutes (the compile's default).",
)
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Keep the run here.")
@out_option
@exit_cleanly_on_error
def main(dataset: str, fusion: str, train_size: int, test_size: int, trace_size: int, baseline_test_size: int,
         teacher: str, student: str | None, retriever: str, epochs: int | None, train_minutes: float,
         run_dir: str | None, out: str | None) -> None:  # fmt: skip
    """Compile the multi-hop program on a data set and print its student's multi-hop figures as JSON."""
    from core.cache import cache_dir
    from data.loaders import load_corpus
    from programs.compile.pipeline import compile_run
    from retrieval.factory import load_retriever
    from retrieval.indexdir import corpus_sha256

    corpus_path = DATASETS[dataset][1]
    index_dir = cache_dir() / "indexes" / corpus_sha256(load_corpus(corpus_path))[:16]
    root = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="multihop-"))
    training = compile_training() if epochs is None else replace(compile_training(), epochs=epochs)
    config = CompileConfig(
        name=f"{dataset}-{fusion}", out=str(root), program="multihop", fusion=fusion, teacher=teacher,
        **({"student": student} if student else {}), retriever=retriever, corpus=str(corpus_path),
        index_dir=str(index_dir), **splits(dataset), train_size=train_size, trace_size=trace_size,
        dev_size=min(20, train_size), test_size=test_size, baseline_test_size=baseline_test_size,
        training=training, train_minutes=train_minutes,
    )  # fmt: skip
    started = time.perf_counter()
    manifest = compile_run(config)
    minutes = (time.perf_counter() - started) / 60
    report = json.loads((config.run_dir / REPORT_DIR / "report.json").read_text(encoding="utf-8"))
    system = report["systems"][STUDENT]
    examples = load_examples(config.test, limit=test_size)
    search = load_retriever(retriever, run_index_dir(config.run_dir, manifest))
    figures = {
        "dataset": dataset,
        "fusion": fusion,
        "retriever": retriever,
        "k": config.k,
        "program": report.get("program"),
        "questions": {split: manifest["data"][split]["questions"] for split in ("train", "test")},
        "student": student_figures(system),
        "question_only": {"all_gold_in_context": question_only(search, examples, system["per_question"])},
        "minutes": {"compile": minutes, **{stage: s / 60 for stage, s in manifest["timings"].items()}},
    }
    emit("multihop", figures, out)


if __name__ == "__main__":
    main()
