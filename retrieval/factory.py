"""Open a retriever by name over an index directory: `load_retriever("hybrid", "indexes/world")`.

Implementations are imported only when asked for, so BM25 users never pay for importing colbert-ai.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from retrieval.base import Retriever
from retrieval.indexdir import RETRIEVER_NAMES, read_manifest

__all__ = ["RETRIEVER_NAMES", "load_retriever"]


def load_retriever(name: str, index_dir: str | Path) -> Retriever:
    """Open the retriever called `name` over the index directory `index_dir`."""
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
    raise ConfigError(f"unknown retriever {name!r}: choose one of {', '.join(RETRIEVER_NAMES)}")
