"""Unanswerable questions, the SQuAD v2 way: does the student learn to refuse, and what does that cost it?

    python -m benchmarks.unanswerable [--answerable 450] [--share 0.25] [--train-size 40] [--test-size 100]
        [--teacher SPEC] [--student SPEC] [--retriever colbert|bm25] [--run-dir DIR] [--out FILE]

In a temporary directory, `data.unanswerable` adds questions of the HotpotQA sample (about other articles) to the
first `--answerable` questions of the SQuAD sample, `--share` of the result. Then the bundled RAG program is compiled
twice with the same settings over the SQuAD corpus: `plain` trains on the first `--train-size` SQuAD questions,
`with_unanswerable` on the first `--train-size` rows of the file with unanswerable rows (the same share of them);
each validates on the next 40 rows of its own file (so only `with_unanswerable` gets a refusal threshold,
`programs.refusal`), and both are tested on the last `--test-size` rows of the file with unanswerable rows, so
both students answer the same questions.
Printed JSON (`benchmarks.results.emit`), per run:

- `answerable_em`: EM on the test questions that have an answer;
- `abstention_recall`: the share of unanswerable test questions answered "unanswerable";
- `abstention_precision`: the share of "unanswerable" answers given to unanswerable questions (None: none given);
- `minutes`: the compile's.

and `answerable_em_drop`: plain's answerable EM minus with_unanswerable's.

Simplified: one compile per data set, no repetitions; the unanswerable questions are plainly off-topic (see
`data.unanswerable`).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import click

from benchmarks.datasets import DATASETS, compile_options
from benchmarks.results import emit, out_option
from core.errors import exit_cleanly_on_error
from data.unanswerable import UNANSWERABLE_PREFIX, add_unanswerable, read_rows
from optimizers.metrics import abstained
from programs.compile.config import CompileConfig, compile_training
from programs.rundir import REPORT_DIR

DEV_SIZE = 40
STUDENT = "student_distilled"


def _share(part: float, whole: int) -> float | None:
    return part / whole if whole else None


def refusal_figures(per_question: list[dict]) -> dict:
    """Answerable EM and abstention recall and precision of one student's answers to the test questions."""
    answerable = [row for row in per_question if not row["qid"].startswith(UNANSWERABLE_PREFIX)]
    unanswerable = [row for row in per_question if row["qid"].startswith(UNANSWERABLE_PREFIX)]
    refusals = sum(abstained(row["prediction"]) for row in per_question)
    refused_unanswerable = sum(abstained(row["prediction"]) for row in unanswerable)
    em = _share(sum(row["em"] for row in answerable), len(answerable))
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_em": 100 * em if em is not None else None,
        "abstention_recall": _share(refused_unanswerable, len(unanswerable)),
        "abstention_precision": _share(refused_unanswerable, refusals),
    }


def write_data(folder: Path, answerable: int, share: float) -> tuple[Path, Path]:
    """(the SQuAD sample's first `answerable` questions, the same with unanswerable rows added) as JSONL files."""
    squad, hotpotqa = (read_rows(str(DATASETS[name][0])) for name in ("squad", "hotpotqa"))
    plain, mixed = folder / "squad.jsonl", folder / "squad_unanswerable.jsonl"
    plain.write_text("".join(json.dumps(row) + "\n" for row in squad[:answerable]), encoding="utf-8")
    rows = add_unanswerable(squad[:answerable], hotpotqa, share=share)
    mixed.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return plain, mixed


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--answerable", default=450, show_default=True, help="SQuAD sample questions taken (from the first).")
@click.option("--share", default=0.25, show_default=True, help="Fraction of the data that is unanswerable.")
@click.option("--train-size", default=40, show_default=True, help="Training questions of each compile.")
@click.option("--test-size", default=100, show_default=True, help="Test questions (the last rows of the data).")
@compile_options
@click.option("--epochs", type=float, default=None, help="Training epochs (default: the compile's).")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None, help="Keep the runs and data here.")
@out_option
@exit_cleanly_on_error
def main(answerable: int, share: float, train_size: int, test_size: int, teacher: str, student: str | None,
         retriever: str, epochs: float | None, run_dir: str | None, out: str | None) -> None:  # fmt: skip
    """Compile the RAG program on SQuAD with and without unanswerable rows; print refusal and EM figures as JSON."""
    from core.cache import cache_dir
    from data.loaders import load_corpus
    from programs.compile.pipeline import compile_run
    from retrieval.indexdir import corpus_sha256

    root = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="unanswerable-"))
    root.mkdir(parents=True, exist_ok=True)
    plain, mixed = write_data(root, answerable, share)
    corpus_path = DATASETS["squad"][1]
    index_dir = cache_dir() / "indexes" / corpus_sha256(load_corpus(corpus_path))[:16]
    training = compile_training() if epochs is None else replace(compile_training(), epochs=epochs)
    figures: dict = {"answerable_questions": answerable, "share": share, "retriever": retriever, "runs": {}}
    for name, train in (("plain", plain), ("with_unanswerable", mixed)):
        config = CompileConfig(
            name=name, out=str(root), program="rag", teacher=teacher, **({"student": student} if student else {}),
            retriever=retriever, corpus=str(corpus_path), index_dir=str(index_dir), train=f"{train}[:{train_size}]",
            dev=f"{train}[{train_size}:{train_size + DEV_SIZE}]", test=f"{mixed}[-{test_size}:]",
            train_size=train_size, dev_size=DEV_SIZE, test_size=test_size, baseline_test_size=1, training=training,
        )  # fmt: skip
        started = time.perf_counter()
        compile_run(config)
        report = json.loads((config.run_dir / REPORT_DIR / "report.json").read_text(encoding="utf-8"))
        figures["runs"][name] = {
            **refusal_figures(report["systems"][STUDENT]["per_question"]),
            "minutes": (time.perf_counter() - started) / 60,
        }
    runs = figures["runs"]
    if runs["plain"]["answerable_em"] is not None and runs["with_unanswerable"]["answerable_em"] is not None:
        figures["answerable_em_drop"] = runs["plain"]["answerable_em"] - runs["with_unanswerable"]["answerable_em"]
    emit("unanswerable", figures, out)


if __name__ == "__main__":
    main()
