"""BM25 over an index directory with bm25s: the lexical retriever, and the candidate source for reranking.

`build_bm25` indexes each passage's `title | text` and saves the bm25s index (plus the pid order) under
`index_dir/bm25/`; `BM25Retriever` opens it next to `index_dir/passages.jsonl`. A whole BM25-only index
directory (for corpora or machines where ColBERT is not wanted, and for tests) is
`retrieval.build.build_index(passages, dir, parts=["bm25"])`.

Simplified on purpose:
- no stemming (bm25s needs the PyStemmer package for it, which is not a dependency); lower-casing,
  bm25s's word pattern and its English stop-word list only; bm25s's default Lucene BM25 (k1=1.5, b=0.75);
- a passage sharing no term with the query scores 0 and is not returned, so a search may give fewer
  than k hits;
- the update side store (see updates.py) is read once, when the retriever opens; if it holds any change,
  the live passages are re-indexed in memory (bm25s indexes 10k passages in ~0.4 s on 2 cores) instead of
  patching the saved index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import bm25s

from core.atomic import atomic_dir, write_json_atomic
from core.errors import ConfigError, DataError, RunFormatError
from data.loaders import Passage, load_corpus
from retrieval.base import Hit
from retrieval.indexdir import BM25_DIR, PASSAGES_FILE
from retrieval.updates import live_passages, read_side_store

PIDS_FILE = "pids.json"


def tokenize(texts: list[str]) -> list[list[str]]:
    """Split texts into lower-cased word tokens without English stop words (the same for passages and queries)."""
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def index_passages(passages: Sequence[Passage]) -> bm25s.BM25:
    """A bm25s index over `title | text` of each passage; document i is passages[i]."""
    model = bm25s.BM25()
    model.index(tokenize([passage.as_context() for passage in passages]), show_progress=False)
    return model


def build_bm25(passages: Sequence[Passage], out_dir: str | Path) -> None:
    """Index `passages` with BM25 and save the index (and the pid of each document) to `out_dir`, atomically."""
    if not passages:
        raise DataError("cannot build a BM25 index over an empty corpus")
    model = index_passages(passages)
    with atomic_dir(out_dir) as tmp:
        model.save(str(tmp), show_progress=False)
        write_json_atomic(tmp / PIDS_FILE, [passage.pid for passage in passages])


class BM25Retriever:
    """Search an index directory's passages with BM25 (see the module docstring for what is simplified)."""

    def __init__(self, index_dir: str | Path):
        index_dir = Path(index_dir)
        bm25_dir = index_dir / BM25_DIR
        if not (bm25_dir / PIDS_FILE).is_file() or not (index_dir / PASSAGES_FILE).is_file():
            raise RunFormatError(
                f"no BM25 index in {index_dir} (bm25/ or passages.jsonl missing): "
                "build the index with python -m retrieval.index"
            )
        store = read_side_store(index_dir)
        if store.updates or store.deleted:
            self.passages = live_passages(index_dir)
            self._model = index_passages(self.passages) if self.passages else None
            return
        by_pid = {passage.pid: passage for passage in load_corpus(index_dir / PASSAGES_FILE)}
        pids = json.loads((bm25_dir / PIDS_FILE).read_text(encoding="utf-8"))
        if set(pids) != set(by_pid):
            raise RunFormatError(f"{bm25_dir} does not match {index_dir / PASSAGES_FILE}: rebuild the index")
        self.passages = [by_pid[pid] for pid in pids]
        self._model = bm25s.BM25.load(str(bm25_dir), show_progress=False)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top-k passages for one query, best first."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        """The top-k passages for each query, best first."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if self._model is None or not queries:
            return [[] for _ in queries]
        k = min(k, len(self.passages))
        docs, scores = self._model.retrieve(tokenize(queries), k=k, show_progress=False)
        return [
            [
                Hit(self.passages[doc].pid, self.passages[doc].title, self.passages[doc].text, float(score))
                for doc, score in zip(row_docs, row_scores, strict=True)
                if score > 0
            ]
            for row_docs, row_scores in zip(docs, scores, strict=True)
        ]
