"""Two ways to combine BM25 with ColBERT over one index directory.

- `HybridRetriever`: reciprocal-rank fusion (RRF, Cormack et al. 2009) of the ColBERT and BM25 rankings.
  A passage's fused score is the sum over rankings of 1 / (rrf_k + rank), rank counted from 1; a passage
  absent from a ranking gets nothing from it. Only ranks are used, so the two retrievers' incomparable
  scores never meet.
- `RerankRetriever`: BM25 proposes candidates, ColBERT's MaxSim (late interaction, no PLAID index needed)
  re-scores them. It can never find a passage BM25 missed, and it encodes every candidate per query.

Simplified: both read the index once when they open (as their parts do); ties in fused score go to the
best single rank, then to the passage seen first (ColBERT's ranking first), as `retrieval.fusion` breaks them.
colbert-ai is imported only when a retriever is built, so the fusion stays cheap to import and test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import RunFormatError
from retrieval.base import Hit
from retrieval.bm25 import BM25Retriever
from retrieval.fusion import RRF_K, rrf_scores
from retrieval.indexdir import read_manifest


def fuse_hits(rankings: Sequence[Sequence[Hit]], rrf_k: int = RRF_K) -> list[Hit]:
    """Fuse ranked hit lists with RRF (`retrieval.fusion`); each returned hit carries its fused score."""
    fused = rrf_scores(rankings, key=lambda hit: hit.pid, k=rrf_k)
    return [Hit(hit.pid, hit.title, hit.text, score) for hit, score in fused]


class HybridRetriever:
    """ColBERT and BM25 over the same index directory, fused by reciprocal rank."""

    def __init__(self, index_dir: str | Path, *, rrf_k: int = RRF_K, depth: int = 50):
        """`rrf_k` damps the weight of top ranks; `depth` is how many hits each retriever contributes."""
        from retrieval.colbert import ColBERTRetriever

        self.colbert = ColBERTRetriever(index_dir)
        self.bm25 = BM25Retriever(index_dir)
        self.rrf_k = rrf_k
        self.depth = depth

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top-k fused passages for one query, best first."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        """The top-k fused passages for each query, best first."""
        depth = max(self.depth, k)
        colbert_rankings = self.colbert.search_batch(queries, depth)
        bm25_rankings = self.bm25.search_batch(queries, depth)
        return [
            fuse_hits([colbert, bm25], self.rrf_k)[:k]
            for colbert, bm25 in zip(colbert_rankings, bm25_rankings, strict=True)
        ]


class RerankRetriever:
    """BM25 candidates re-scored by ColBERT MaxSim with the index's checkpoint."""

    def __init__(self, index_dir: str | Path, *, candidates: int = 50):
        """`candidates` is how many BM25 hits per query ColBERT re-scores."""
        index_dir = Path(index_dir)
        self.bm25 = BM25Retriever(index_dir)
        manifest = read_manifest(index_dir)
        if "checkpoint" not in manifest:
            raise RunFormatError(
                f"the index at {index_dir} has no ColBERT part: build it with python -m retrieval.index"
            )
        from retrieval.colbert import ColBERTScorer

        self.scorer = ColBERTScorer(manifest["checkpoint"], doc_maxlen=manifest["settings"]["doc_maxlen"])
        self.candidates = candidates

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top-k re-scored passages for one query, best first."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        """The top-k re-scored passages for each query, best first."""
        results = []
        for query, candidates in zip(queries, self.bm25.search_batch(queries, max(self.candidates, k)), strict=True):
            scores = self.scorer.score(query, [hit.as_context() for hit in candidates]) if candidates else []
            rescored = [
                Hit(hit.pid, hit.title, hit.text, float(score)) for hit, score in zip(candidates, scores, strict=True)
            ]
            results.append(sorted(rescored, key=lambda hit: -hit.score)[:k])
        return results
