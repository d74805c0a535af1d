"""What every retriever shares: the `Hit` it returns, the `Retriever` protocol, selection by name.

All retrievers over one index directory (see docs/architecture.md) answer the same shape, so programs,
metrics, the server and the reports never care which one they hold. Implementations are imported
lazily in `load_retriever`, so BM25 users never pay for importing colbert-ai.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.errors import RagdistillError

RETRIEVER_NAMES = ("colbert", "bm25", "hybrid", "bm25+rerank")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with the retriever's score (higher is better)."""

    pid: str
    title: str
    text: str
    score: float

    def as_context(self) -> str:
        """The passage as shown to an LM: `title | text`."""
        return f"{self.title} | {self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Retriever(Protocol):
    """Anything that finds passages for a query."""

    def search(self, query: str, k: int = 5) -> list[Hit]: ...

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]: ...


def check_k(k: object, *, max_k: int = 100) -> int:
    """Validate a user-supplied k (1..max_k) and return it as an int."""
    try:
        k_int = int(str(k))
    except ValueError:
        raise RagdistillError(f"k must be an integer between 1 and {max_k}, got {k!r}") from None
    if not 1 <= k_int <= max_k:
        raise RagdistillError(f"k must be between 1 and {max_k}, got {k_int}")
    return k_int


def load_retriever(name: str, index_dir: str | Path) -> Retriever:
    """Open the retriever called `name` over the index directory `index_dir`."""
    from retrieval.updates import read_manifest

    index_dir = Path(index_dir)
    read_manifest(index_dir)
    if name == "colbert":
        from retrieval.colbert import ColBERTRetriever

        return ColBERTRetriever(index_dir)
    if name == "bm25":
        from retrieval.bm25 import BM25Retriever

        return BM25Retriever(index_dir)
    if name == "hybrid":
        from retrieval.hybrid import HybridRetriever

        return HybridRetriever(index_dir)
    if name == "bm25+rerank":
        from retrieval.hybrid import RerankRetriever

        return RerankRetriever(index_dir)
    raise RagdistillError(f"unknown retriever {name!r}: choose one of {', '.join(RETRIEVER_NAMES)}")
