"""Fused hits, and the hybrid and rerank retrievers on the tiny ColBERT index (the fusion itself: tests/retrieval)."""

from __future__ import annotations

import dspy
import pytest

from core.errors import RagdistillError
from data.loaders import Passage
from retrieval.base import Hit
from retrieval.build import build_index
from retrieval.hybrid import HybridRetriever, RerankRetriever, fuse_hits
from retrieval.metrics import evaluate_retriever
from tests.fixtures_retrieval import TINY_QUERIES


def test_fuse_hits_carries_passages_and_fused_scores():
    colbert = [Hit("a", "A", "text a", 0.9), Hit("b", "B", "text b", 0.8)]
    bm25 = [Hit("b", "B", "text b", 12.0)]
    fused = fuse_hits([colbert, bm25], rrf_k=0)
    assert fused == [Hit("b", "B", "text b", 1.5), Hit("a", "A", "text a", 1.0)]


def test_rerank_needs_a_checkpoint_in_the_manifest(tmp_path):
    build_index([Passage("p1", "T", "some text")], tmp_path / "index", parts=["bm25"])
    with pytest.raises(RagdistillError, match="no ColBERT part"):
        RerankRetriever(tmp_path / "index")


@pytest.mark.parametrize("make", [HybridRetriever, RerankRetriever], ids=["hybrid", "bm25+rerank"])
def test_combined_retrievers_find_the_answering_passage(tiny_index_dir, make):
    examples = [dspy.Example(question=question, gold_pids=[pid]) for question, pid in TINY_QUERIES]
    report = evaluate_retriever(make(tiny_index_dir), examples, ks=(1, 3))
    assert report["recall@3"] == 1.0 and report["recall@1"] >= 0.75
    hits = make(tiny_index_dir).search_batch([TINY_QUERIES[0][0]], k=3)[0]
    assert len(hits) == 3 and [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
