"""CLI: build an index directory from a corpus, and change it without a full rebuild.

    python -m retrieval.index --corpus data/world/corpus.jsonl --out indexes/world [--checkpoint ...] [--nranks N]
    python -m retrieval.index add --index indexes/world --corpus new.jsonl
    python -m retrieval.index delete --index indexes/world --pid p17 --pid p18
    python -m retrieval.index rebuild --index indexes/world

Progress goes to stderr (colbert-ai's own output to a log file whose path is said); a bad input is one
`error:` line and exit status 2. The build options come from `BuildOptions` (with colbert's `IndexSettings`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from core.cli import config_command
from core.errors import ConfigError, DataError, exit_cleanly_on_error
from core.log import say
from data.loaders import Passage, load_corpus
from retrieval.build import build_index, rebuild_index, validate_index_input
from retrieval.colbert import IndexSettings
from retrieval.compat import check_nranks
from retrieval.indexdir import read_manifest
from retrieval.updates import add_passages, delete_passages


def read_corpus(path: str | None, option: str = "--corpus") -> list[Passage]:
    """The passages of a JSONL corpus file, or a one-line error when it is absent or empty."""
    if not path:
        raise ConfigError(f"missing {option} FILE (a JSONL file of {{pid, title, text}} passages)")
    if not Path(path).is_file():
        raise DataError(f"corpus file {path} does not exist")
    return load_corpus(path)


def existing_index(path: str) -> Path:
    """An index directory that has a manifest, or a one-line error."""
    read_manifest(Path(path))
    return Path(path)


@dataclass(frozen=True)
class BuildOptions(IndexSettings):
    """What to index, where, with which checkpoint; with the PLAID settings every field is an option."""

    corpus: str | None = None
    """JSONL corpus to index: one {pid, title, text} object a line."""
    out: str | None = None
    """Index directory to write (replaced atomically if it exists)."""
    checkpoint: str | None = None
    """ColBERT checkpoint: a HF id, a local dir, or minilm-colbert [default: colbert-ir/colbertv2.0 when cached,
    else minilm-colbert]."""
    nranks: int | None = None
    """colbert-ai indexing processes, one per GPU (its `RunConfig(nranks)`) [default: one per GPU, 1 on CPU]."""


@config_command(BuildOptions, group=True)
@click.pass_context
def main(ctx: click.Context, **options) -> None:
    """Build a ColBERT (PLAID) + BM25 index directory from a corpus, or change one (see the commands)."""
    if ctx.invoked_subcommand is not None:
        return
    config = BuildOptions(**options)
    passages = read_corpus(config.corpus)
    if not config.out:
        raise ConfigError("missing --out DIR (the index directory to write)")
    settings = IndexSettings(**{name: getattr(config, name) for name in asdict(IndexSettings())})
    validate_index_input(passages, settings)  # before the progress line: a bad setting is the only line printed
    check_nranks(config.nranks)
    say(
        f"indexing {len(passages)} passages from {config.corpus} into {config.out} "
        f"(nbits {settings.nbits}, doc_maxlen {settings.doc_maxlen})..."
    )
    start = time.monotonic()
    build_index(passages, config.out, checkpoint=config.checkpoint, nranks=config.nranks, **asdict(settings))
    manifest = read_manifest(Path(config.out))
    say(
        f"done in {time.monotonic() - start:.0f} s: {config.out} ({', '.join(manifest['retrievers'])}; "
        f"checkpoint {manifest['checkpoint']})"
    )


@main.command()
@click.option("--index", "index_dir", required=True, help="Index directory to add to.")
@click.option("--corpus", help="JSONL file of passages to add; a pid already indexed replaces that passage.")
@exit_cleanly_on_error
def add(index_dir: str, corpus: str | None) -> None:
    """Add or replace passages without rebuilding (searched exactly until the next rebuild)."""
    index = existing_index(index_dir)
    count = add_passages(index, read_corpus(corpus))
    say(f"added {count} passages to {index}")


@main.command()
@click.option("--index", "index_dir", required=True, help="Index directory to delete from.")
@click.option("--pid", "pids", multiple=True, help="Pid of a passage to delete (repeatable).")
@exit_cleanly_on_error
def delete(index_dir: str, pids: tuple[str, ...]) -> None:
    """Delete passages by pid without rebuilding."""
    index = existing_index(index_dir)
    if not pids:
        raise ConfigError("give at least one --pid to delete")
    count = delete_passages(index, list(pids))
    say(f"deleted {count} passages from {index}")


@main.command()
@click.option("--index", "index_dir", required=True, help="Index directory to rebuild.")
@exit_cleanly_on_error
def rebuild(index_dir: str) -> None:
    """Rebuild an index with its checkpoint and settings, folding in added and deleted passages."""
    index = existing_index(index_dir)
    say(f"rebuilding {index}...")
    start = time.monotonic()
    rebuild_index(index)
    say(f"done in {time.monotonic() - start:.0f} s: {index}")


if __name__ == "__main__":
    main()
