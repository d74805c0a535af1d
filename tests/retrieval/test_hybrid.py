"""Reciprocal-rank fusion on hand-worked rankings; hybrid and rerank retrievers on the tiny ColBERT index."""

from __future__ import annotations

import dspy
import pytest

from core.errors import RagdistillError
from data.loaders import Passage
from retrieval.base import Hit
from retrieval.build import build_index
from retrieval.hybrid import HybridRetriever, RerankRetriever, fuse_hits, reciprocal_rank_fusion
from retrieval.metrics import evaluate_retriever
from tests.fixtures_retrieval import TINY_QUERIES

# Two rankings that agree on b and c but disagree on the top passage.
RANKINGS = [["a", "b", "c"], ["b", "c", "d"]]


def test_rrf_with_k_0_rewards_top_ranks():
    # a = 1/1, b = 1/2 + 1/1 = 1.5, c = 1/3 + 1/2 = 0.8333, d = 1/3
    fused = reciprocal_rank_fusion(RANKINGS, k=0)
    assert [pid for pid, _ in fused] == ["b", "a", "c", "d"]
    assert [score for _, score in fused] == pytest.approx([1.5, 1.0, 5 / 6, 1 / 3])


def test_rrf_with_k_60_rewards_agreement():
    # a = 1/61 = 0.016393, b = 1/62 + 1/61 = 0.032523, c = 1/63 + 1/62 = 0.032002, d = 1/63 = 0.015873
    fused = reciprocal_rank_fusion(RANKINGS, k=60)
    assert [pid for pid, _ in fused] == ["b", "c", "a", "d"]
    assert [score for _, score in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 1 / 61, 1 / 63])


def test_rrf_ties_keep_first_seen_order():
    assert reciprocal_rank_fusion([["x", "y"], ["y", "x"]], k=60) == [("x", 1 / 61 + 1 / 62), ("y", 1 / 62 + 1 / 61)]
    assert reciprocal_rank_fusion([], k=60) == []


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
