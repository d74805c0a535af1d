"""Build an index directory (format: `retrieval.indexdir`): every part its retrievers need, in one atomic write.

- `build_index` writes passages.jsonl, the parts asked for (`colbert/` through `retrieval.colbert`,
  `bm25/` through `retrieval.bm25`) and manifest.json into a temporary directory renamed into place;
- `ensure_index` reuses an index built from the same corpus when it has the parts a retriever needs,
  and builds one otherwise (the compile pipeline, evaluation and the benchmarks all go through it);
- `rebuild_index` folds the update side store into a fresh index with the same checkpoint and settings.

Simplified: a part missing from an existing index means a rebuild of the whole directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from core.atomic import atomic_dir, write_json_atomic, write_text_atomic
from core.errors import DataError, RunFormatError
from core.log import say
from data.loaders import Passage
from retrieval.bm25 import build_bm25
from retrieval.colbert import IndexSettings, build_plaid, check_settings
from retrieval.compat import check_nranks
from retrieval.indexdir import (
    BM25_DIR,
    COLBERT_DIR,
    MANIFEST_FILE,
    PASSAGES_FILE,
    can_serve,
    corpus_sha256,
    parts_for,
    passages_jsonl,
    read_manifest,
)
from retrieval.updates import live_passages

ALL_PARTS = ("colbert", "bm25")


def validate_index_input(corpus: Sequence[Passage], settings: IndexSettings) -> None:
    """A one-line `DataError` for a corpus, or `ConfigError` for settings, that `build_index` cannot use."""
    if not corpus:
        raise DataError("cannot index an empty corpus")
    pids = [passage.pid for passage in corpus]
    if len(set(pids)) != len(pids):
        duplicate = next(pid for pid in pids if pids.count(pid) > 1)
        raise DataError(f"the corpus has duplicate pid {duplicate!r}")
    check_settings(settings)


def build_index(
    corpus: Sequence[Passage],
    index_dir: str | Path,
    *,
    parts: Iterable[str] = ALL_PARTS,
    checkpoint: str | None = None,
    nbits: int = 4,
    doc_maxlen: int = 180,
    kmeans_niters: int = 4,
    nranks: int | None = None,
    encode_once: bool = True,
) -> Path:
    """Index `corpus` into `index_dir` (replacing what is there, atomically) and return the directory.

    `nranks`: colbert-ai indexing processes, one per GPU (see `retrieval.compat.check_nranks`); `encode_once`:
    False builds the ColBERT part with colbert-ai's own indexer (see `retrieval.colbert.build_plaid`)."""
    parts = [part for part in ALL_PARTS if part in set(parts)]
    settings = IndexSettings(nbits=nbits, doc_maxlen=doc_maxlen, kmeans_niters=kmeans_niters)
    validate_index_input(corpus, settings)
    check_nranks(nranks)
    index_dir = Path(index_dir)
    with atomic_dir(index_dir) as tmp:
        write_text_atomic(tmp / PASSAGES_FILE, passages_jsonl(corpus))
        manifest: dict = {"retrievers": parts, "corpus_sha256": corpus_sha256(corpus), "passages": len(corpus)}
        if "colbert" in parts:
            manifest |= build_plaid(
                corpus,
                tmp / COLBERT_DIR,
                checkpoint=checkpoint,
                settings=settings,
                nranks=nranks,
                encode_once=encode_once,
            )
        if "bm25" in parts:
            build_bm25(corpus, tmp / BM25_DIR)
        manifest["updates"] = {"added": 0, "deleted": 0}
        write_json_atomic(tmp / MANIFEST_FILE, manifest)
    return index_dir


def ensure_index(corpus: Sequence[Passage], index_dir: str | Path, retriever: str | Iterable[str]) -> dict:
    """The manifest of an index of `corpus` at `index_dir` that serves `retriever` (a name or names), built if needed.

    An index there built from another corpus is an error, never silently replaced.
    """
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST_FILE).is_file():
        manifest = read_manifest(index_dir)
        if manifest.get("corpus_sha256") != corpus_sha256(corpus):
            raise RunFormatError(
                f"the index at {index_dir} was built from another corpus: delete it or choose --index-dir"
            )
        names = [retriever] if isinstance(retriever, str) else list(retriever)
        if all(can_serve(manifest, name) for name in names):
            say(f"reusing the index at {index_dir} ({manifest['passages']} passages)", detail=True)
            return manifest
    parts = parts_for(retriever)
    slow = " (minutes on a CPU)" if "colbert" in parts else ""
    say(f"building a {' + '.join(parts)} index of {len(corpus)} passages at {index_dir}{slow}", detail=True)
    build_index(corpus, index_dir, parts=parts)
    return read_manifest(index_dir)


def rebuild_index(index_dir: str | Path) -> Path:
    """Rebuild an index from its live passages with the same parts, checkpoint and settings (side store folded in)."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    saved = manifest.get("settings", {})
    settings = {key: saved[key] for key in asdict(IndexSettings()) if key in saved}
    return build_index(
        live_passages(index_dir),
        index_dir,
        parts=manifest.get("retrievers", ALL_PARTS),
        checkpoint=manifest.get("checkpoint"),
        **settings,
    )
