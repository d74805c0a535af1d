"""The index directory format, and its one owner: file names, manifest, corpus hash, which retrievers it serves.

An index directory holds
- `manifest.json`: `retrievers` (the parts built: `colbert`, `bm25`), `corpus_sha256`, `passages`, and for a
  ColBERT part its `checkpoint`, `settings` and `created`; `updates` counts the side store (see updates.py);
- `passages.jsonl`: the indexed passages, one `{pid, title, text}` a line;
- `colbert/`: colbert-ai's PLAID index; `bm25/`: the bm25s index and its pid order;
- `updates.jsonl`, `deleted.json`: the side store of changes since the build (owned by updates.py).

Every retriever name maps to the parts it needs (`RETRIEVER_PARTS`); the hybrid retrievers need both, and
an index with a ColBERT part always gets the (cheap) BM25 part too.
Building lives in `retrieval.build`; this module only reads and names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, get_args

from core.errors import ConfigError, RunFormatError
from data.loaders import Passage

MANIFEST_FILE = "manifest.json"
PASSAGES_FILE = "passages.jsonl"
COLBERT_DIR = "colbert"
BM25_DIR = "bm25"
RetrieverName = Literal["colbert", "bm25", "hybrid", "bm25+rerank"]
RETRIEVER_NAMES: tuple[str, ...] = get_args(RetrieverName)
RETRIEVER_PARTS: dict[str, tuple[str, ...]] = {
    "colbert": ("colbert",),
    "bm25": ("bm25",),
    "hybrid": ("colbert", "bm25"),
    "bm25+rerank": ("colbert", "bm25"),
}
"""The index parts each retriever reads (one entry per `RetrieverName`)."""


def passages_jsonl(passages: Iterable[Passage]) -> str:
    """Passages as JSON lines `{"pid", "title", "text"}`, the format `load_corpus` reads."""
    return "".join(
        json.dumps({"pid": p.pid, "title": p.title, "text": p.text}, ensure_ascii=False) + "\n" for p in passages
    )


def corpus_sha256(passages: Iterable[Passage]) -> str:
    """A hash of the passages exactly as stored in passages.jsonl (manifests record it to spot a changed corpus)."""
    return hashlib.sha256(passages_jsonl(passages).encode("utf-8")).hexdigest()


def read_manifest(index_dir: Path) -> dict:
    """The index's manifest.json.

    Args:
        index_dir: the index directory.

    Returns:
        The manifest as a dict.

    Raises:
        RunFormatError: there is no manifest.json (the message names how to build one), or it is not valid JSON.
    """
    path = Path(index_dir) / MANIFEST_FILE
    if not path.is_file():
        raise RunFormatError(
            f"no index at {index_dir} (manifest.json missing): build one with python -m retrieval.index"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise RunFormatError(f"{path} is not valid JSON ({err}): rebuild the index") from None


def parts_for(retrievers: str | Iterable[str]) -> tuple[str, ...]:
    """The index parts to build for the named retriever(s): BM25 always (it is cheap), ColBERT when one needs it."""
    names = [retrievers] if isinstance(retrievers, str) else list(retrievers)
    unknown = [name for name in names if name not in RETRIEVER_PARTS]
    if unknown:
        raise ConfigError(f"unknown retriever {unknown[0]!r}: choose one of {', '.join(RETRIEVER_PARTS)}")
    needs_colbert = any("colbert" in RETRIEVER_PARTS[name] for name in names)
    return ("colbert", "bm25") if needs_colbert else ("bm25",)


def can_serve(manifest: dict, retriever: str) -> bool:
    """Whether the index a manifest describes has every part `retriever` needs."""
    return set(parts_for(retriever)) <= set(manifest.get("retrievers", []))
