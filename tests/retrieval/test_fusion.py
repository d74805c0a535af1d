"""Reciprocal rank fusion on rankings small enough to check by hand."""

from __future__ import annotations

import pytest

from retrieval.base import Hit
from retrieval.fusion import RRF_K, reciprocal_rank_fusion, rrf_scores


def test_an_item_high_in_both_rankings_beats_one_first_in_a_single_ranking():
    # a: 1/61 + 1/62; b: 1/62 + 1/61 (tie with a, both best rank 1: a was read first); c: 1/63; d: 1/63.
    assert reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]]) == ["a", "b", "c", "d"]
    # x is first in one ranking only (1/61); y is second in both (2/62 > 1/61).
    assert reciprocal_rank_fusion([["x", "y"], ["z", "y"]]) == ["y", "x", "z"]


def test_scores_follow_the_formula_with_k_60():
    assert RRF_K == 60
    fused = reciprocal_rank_fusion([["p", "q"], ["q"]], k=0)  # k=0: q scores 1/2 + 1/1 = 1.5 against p's 1.0
    assert fused == ["q", "p"]
    assert reciprocal_rank_fusion([["p", "q"], ["q"]]) == ["q", "p"]  # 1/62 + 1/61 > 1/61


def test_ties_break_by_best_rank_then_reading_order_whatever_the_input_order():
    # Both items appear once at rank 1: the first ranking's item was read first.
    assert reciprocal_rank_fusion([["m"], ["n"]]) == ["m", "n"]
    assert reciprocal_rank_fusion([["n"], ["m"]]) == ["n", "m"]
    # m and o: 1/61 + 1/63 each, tied at best rank 1: m was read first; n: 2/62, a little less.
    rankings = [["m", "n", "o"], ["o", "n", "m"]]
    assert reciprocal_rank_fusion(rankings) == reciprocal_rank_fusion(rankings) == ["m", "o", "n"]


def test_hits_fuse_by_pid_keeping_the_first_object_seen():
    question = [Hit("p1", "A", "a", 9.0), Hit("p2", "B", "b", 8.0)]
    query = [Hit("p2", "B", "b", 0.5), Hit("p3", "C", "c", 0.4)]
    fused = reciprocal_rank_fusion([question, query], key=lambda hit: hit.pid)
    assert [hit.pid for hit in fused] == ["p2", "p1", "p3"]
    assert fused[0].score == 0.5  # read rank by rank, p2 is first seen at rank 1 of the query's ranking


@pytest.mark.parametrize("rankings", [[], [[]], [[], []]])
def test_no_items_fuse_to_nothing(rankings):
    assert reciprocal_rank_fusion(rankings) == []


def test_a_repeated_item_counts_once_per_ranking_at_its_first_rank():
    assert reciprocal_rank_fusion([["a", "a", "b"], ["b"]]) == ["b", "a"]  # b: 1/63 + 1/61 > a: 1/61


def test_fused_scores_are_sums_of_reciprocal_ranks():
    # a = 1/61, b = 1/62 + 1/61, c = 1/63 + 1/62, d = 1/63: agreement on b and c beats a's single first place.
    fused = rrf_scores([["a", "b", "c"], ["b", "c", "d"]])
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    assert [score for _, score in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 63 + 1 / 62, 1 / 61, 1 / 63])
    # k = 0 rewards top ranks: b = 1/2 + 1/1, a = 1/1, c = 1/3 + 1/2, d = 1/3.
    fused = rrf_scores([["a", "b", "c"], ["b", "c", "d"]], k=0)
    assert fused == [("b", 1.5), ("a", 1.0), ("c", pytest.approx(5 / 6)), ("d", pytest.approx(1 / 3))]
