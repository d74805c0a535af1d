"""Retrieval metrics on hand-worked rankings whose values can be checked on paper; the benchmark end to end."""

from __future__ import annotations

import json

import dspy
import pytest
from click.testing import CliRunner

from benchmarks.retrieval import main as benchmark_main
from core.errors import RagdistillError
from retrieval.base import Hit
from retrieval.metrics import (
    all_found_at_k,
    evaluate_retriever,
    latency_summary,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

# A two-hop question with golds a and b, retrieved at ranks 1 and 3.
TWO_HOP = (["a", "x", "b", "y"], {"a", "b"})


def test_recall_counts_each_gold():
    retrieved, gold = TWO_HOP
    assert recall_at_k(retrieved, gold, 1) == 0.5
    assert recall_at_k(retrieved, gold, 2) == 0.5
    assert recall_at_k(retrieved, gold, 3) == 1.0


def test_all_found_needs_every_gold():
    retrieved, gold = TWO_HOP
    assert all_found_at_k(retrieved, gold, 2) == 0.0
    assert all_found_at_k(retrieved, gold, 3) == 1.0


def test_reciprocal_rank_of_first_gold():
    assert reciprocal_rank(*TWO_HOP) == 1.0
    assert reciprocal_rank(["x", "y", "c"], {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"] * 10 + ["c"], {"c"}) == 0.0  # rank 11 is beyond MRR@10


def test_ndcg_binary_relevance():
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal (golds at ranks 1, 2) = 1 + 1/log2(3) = 1.6309
    assert ndcg_at_k(*TWO_HOP) == pytest.approx(1.5 / 1.6309298, abs=1e-6)
    assert ndcg_at_k(["x", "y", "c"], {"c"}) == pytest.approx(0.5)  # 1/log2(4) over an ideal of 1
    assert ndcg_at_k(["x", "y"], {"c"}) == 0.0


def test_latency_summary_interpolates():
    summary = latency_summary([0.001, 0.002, 0.003, 0.004, 0.005])
    assert summary == pytest.approx({"p50": 3.0, "p95": 4.8, "mean": 3.0})


class FixedRankings:
    """A retriever that answers each known question with a fixed ranking of pids."""

    def __init__(self, rankings: dict[str, list[str]]):
        self.rankings = rankings

    def search(self, query: str, k: int = 5) -> list[Hit]:
        return [Hit(pid, pid, "", 1.0) for pid in self.rankings[query][:k]]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        return [self.search(query, k) for query in queries]


def test_evaluate_retriever_averages_over_questions_with_gold():
    retriever = FixedRankings({"q1": ["a", "x", "b"], "q2": ["x", "y", "c"], "q3": ["a"]})
    examples = [
        dspy.Example(question="q1", gold_pids=["a", "b"]),
        dspy.Example(question="q2", gold_pids=["c"]),
        dspy.Example(question="q3", gold_pids=[]),
    ]
    report = evaluate_retriever(retriever, examples, ks=(1, 5))
    assert report["questions"] == 2 and report["skipped_without_gold"] == 1
    assert report["recall@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert report["recall@5"] == 1.0 and report["all@1"] == 0.0 and report["all@5"] == 1.0
    assert report["mrr@10"] == pytest.approx((1 + 1 / 3) / 2)
    assert report["ndcg@10"] == pytest.approx((1.5 / 1.6309298 + 0.5) / 2, abs=1e-6)
    assert set(report["latency_ms"]) == {"p50", "p95", "mean"}


def test_evaluate_retriever_needs_gold():
    with pytest.raises(RagdistillError, match="gold"):
        evaluate_retriever(FixedRankings({"q": []}), [dspy.Example(question="q", gold_pids=[])])


def test_retrieval_benchmark_end_to_end_with_bm25(tmp_path):
    args = ["--datasets", "squad", "--retrievers", "bm25", "--quick", "--cache-dir", str(tmp_path), "--load-seconds"]
    result = CliRunner().invoke(benchmark_main, [*args, "1", "--clients", "2", "--out", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    squad = report["datasets"]["squad"]
    assert squad["questions"] == 50 and 0 < squad["retrievers"]["bm25"]["recall@10"] <= 1
    assert report["load_test"]["errors"] == 0 and report["load_test"]["requests"] > 0
