"""The named question sets the benchmarks run on: the bundled world and the real samples in `data/samples/`.

Each is a question file (JSONL with `gold_pids`) and the corpus those pids point into. Simplified: the world's
test split only; `data/samples/README.md` says where the samples come from and their licence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from data.loaders import SAMPLES_DIR, WORLD_CORPUS, WORLD_DIR

DATASETS: dict[str, tuple[Path, Path]] = {
    "world": (WORLD_DIR / "test.jsonl", Path(WORLD_CORPUS)),
    "hotpotqa": (SAMPLES_DIR / "hotpotqa_dev_sample.jsonl", SAMPLES_DIR / "hotpotqa_dev_sample_corpus.jsonl"),
    "squad": (SAMPLES_DIR / "squad_v1.1_dev_sample.jsonl", SAMPLES_DIR / "squad_v1.1_dev_sample_corpus.jsonl"),
}
"""name -> (questions, corpus)."""


def compile_options(command: Callable) -> Callable:
    """The --teacher, --student and --retriever options of a benchmark that compiles a program on one of them."""
    options = (
        click.option("--teacher", default="smollm2", show_default=True, help="Teacher LM spec (see the compile CLI)."),
        click.option("--student", default=None, help="Student base model (default: the compile's)."),
        click.option("--retriever", default="colbert", show_default=True, help="colbert or bm25."),
    )
    for option in reversed(options):
        command = option(command)
    return command
