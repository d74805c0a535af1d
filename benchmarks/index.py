"""Indexing benchmark: the `retrieval.index` build against one pass of the encoder alone over the same passages.

    python -m benchmarks.index [--corpus FILE] [--questions FILE] [--limit N] [--checkpoint SPEC] [--before]

In one run, on the same passages (the bundled world corpus by default, its test questions):
- `encoder_pass`: colbert-ai's `CollectionEncoder` over every passage with the build's checkpoint and settings,
  the model loaded beforehand (`load_s`, not counted in `encode_s`);
- `build.after`: `retrieval.build.build_index`, what `python -m retrieval.index` runs (ColBERT + BM25, written
  atomically), each passage encoded once (retrieval/plaid_indexer.py); `ratio` is its time over `encode_s`;
- `build.before` (with `--before`): the same build with colbert-ai's own indexer, which encodes its k-means
  sample (below 30,720 passages, every passage) a second time;
- `search` (with `--before`): for each question, whether both indexes give the same top-10 pids, and the
  recall@5 of gold pids with each.

Each figure is timed in wall-clock seconds and in CPU seconds of this process (`*_cpu_s`, all threads): on a
machine shared with other work the CPU ratio is the steadier one.

Simplified: one timing per figure, no repetitions (compare the ratios within one run, not absolute seconds
across runs); the model load is timed apart from the encoder pass, but is inside the build (it is part of what
a build costs).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import click

from benchmarks.results import emit, out_option
from core.errors import exit_cleanly_on_error
from data.loaders import WORLD_CORPUS, WORLD_DIR, Passage, load_corpus, load_examples
from retrieval.build import build_index
from retrieval.checkpoint import default_checkpoint, resolve_checkpoint
from retrieval.colbert import ColBERTRetriever, IndexSettings, checkpoint_config
from retrieval.compat import import_colbert, run_context
from retrieval.metrics import evaluate_retriever


class Timer:
    """Wall-clock and CPU seconds (all threads of this process) spent inside a `with` block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def time_encoder_pass(passages: list[Passage], checkpoint: str, settings: IndexSettings) -> dict:
    """One pass of colbert-ai's indexing encoder over `passages` (after a warm-up batch): load and encoding seconds."""
    import_colbert()
    from colbert.indexing.collection_encoder import CollectionEncoder
    from colbert.modeling.checkpoint import Checkpoint

    config = checkpoint_config(resolve_checkpoint(checkpoint), **asdict(settings))
    texts = [passage.as_context() for passage in passages]
    with run_context():
        with Timer() as load:
            encoder = CollectionEncoder(config, Checkpoint(config.checkpoint, colbert_config=config, verbose=0))
        encoder.encode_passages(texts[:8])  # the first forward pass pays one-off set-up costs
        with Timer() as encode:
            embeddings, _ = encoder.encode_passages(texts)
    return {
        "load_s": load.wall,
        "encode_s": encode.wall,
        "encode_cpu_s": encode.cpu,
        "passages_per_s": len(passages) / encode.wall,
        "embeddings": int(embeddings.shape[0]),
    }


def time_build(passages: list[Passage], index_dir: Path, checkpoint: str, settings: IndexSettings, **kwargs) -> Timer:
    """Wall and CPU seconds `build_index` takes to index `passages` into `index_dir` (ColBERT + BM25)."""
    with Timer() as timer:
        build_index(passages, index_dir, checkpoint=checkpoint, **asdict(settings), **kwargs)
    return timer


def compare_search(index_dirs: tuple[Path, Path], examples: list) -> dict:
    """Share of questions whose top-10 pids are equal in both indexes; recall@5 of gold pids with each."""
    questions = [example.question for example in examples]
    retrievers = [ColBERTRetriever(index_dir) for index_dir in index_dirs]
    top10 = [[[hit.pid for hit in hits] for hits in r.search_batch(questions, k=10)] for r in retrievers]
    equal = sum(mine == theirs for mine, theirs in zip(*top10, strict=True))
    recall = [evaluate_retriever(r, examples, ks=(5,))["recall@5"] for r in retrievers]
    return {
        "questions": len(questions),
        "top10_equal": equal / len(questions),
        "recall@5": {"after": recall[0], "before": recall[1]},
    }


@click.command()
@click.option("--corpus", default=str(WORLD_CORPUS), show_default=True, help="JSONL corpus {pid, title, text}.")
@click.option("--questions", default=str(WORLD_DIR / "test.jsonl"), show_default=True, help="JSONL, gold_pids.")
@click.option("--limit", type=click.IntRange(1), help="Index only the first N passages.")
@click.option("--checkpoint", help="ColBERT checkpoint [default: the build's default].")
@click.option(
    "--nbits",
    default=IndexSettings.nbits,
    show_default=True,
    type=click.Choice(["1", "2", "4"]),
    help="Bits per residual dim.",
)
@click.option("--doc-maxlen", default=IndexSettings.doc_maxlen, show_default=True, help="Tokens kept per passage.")
@click.option("--before", is_flag=True, help="Also build with colbert-ai's own indexer and compare search results.")
@out_option
@exit_cleanly_on_error
def main(
    corpus: str,
    questions: str,
    limit: int | None,
    checkpoint: str | None,
    nbits: str,
    doc_maxlen: int,
    before: bool,
    out: str | None,
) -> None:
    """Print the indexing benchmark as JSON."""
    passages = load_corpus(corpus)[:limit]
    checkpoint = checkpoint or default_checkpoint()[0]
    settings = IndexSettings(nbits=int(nbits), doc_maxlen=doc_maxlen)
    report = {
        "settings": {"corpus": corpus, "passages": len(passages), "checkpoint": checkpoint, **asdict(settings)},
    }
    click.echo(f"encoder pass over {len(passages)} passages ...", err=True)
    report["encoder_pass"] = encode = time_encoder_pass(passages, checkpoint, settings)
    with tempfile.TemporaryDirectory() as scratch:
        index_dirs = (Path(scratch) / "after", Path(scratch) / "before")
        report["build"] = {}
        for name, index_dir, encode_once in (("after", index_dirs[0], True), ("before", index_dirs[1], False)):
            if name == "before" and not before:
                continue
            click.echo(f"build ({name}) ...", err=True)
            timer = time_build(passages, index_dir, checkpoint, settings, encode_once=encode_once)
            report["build"][name] = {
                "build_s": timer.wall,
                "build_cpu_s": timer.cpu,
                "passages_per_s": len(passages) / timer.wall,
                "ratio_to_encoder_pass": timer.wall / encode["encode_s"],
                "cpu_ratio_to_encoder_pass": timer.cpu / encode["encode_cpu_s"],
            }
        if before:
            click.echo("comparing search results ...", err=True)
            report["search"] = compare_search(index_dirs, load_examples(questions))
    emit("index", report, out)


if __name__ == "__main__":
    main()
