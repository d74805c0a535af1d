"""Reciprocal rank fusion (RRF): one ranking from several rankings of the same collection.

Cormack, Clarke and Buettcher (SIGIR 2009): an item's fused score is the sum, over the rankings that hold it, of
`1 / (RRF_K + rank)` (rank counted from 1). Only ranks are used, never the retrievers' scores, so rankings from
queries (or retrievers) whose scores are not comparable fuse without calibration. The multi-hop program fuses the
ranking of the question (or the question plus what is known) with the ranking of the query its LM wrote, so a bad
written query cannot push the question's best passages out of the context.

Ties (equal fused scores) go to the item with the best single rank, then to the item seen first when the rankings
are read rank by rank (first ranking first), so the result is deterministic. An item appearing twice in one ranking
counts at its first rank there.

Simplified: no weights per ranking and no score normalisation; `RRF_K` is the paper's 60.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

RRF_K = 60
"""The rank offset of the original paper: it damps the weight of the very first ranks."""

Item = TypeVar("Item")


def rrf_scores(
    rankings: Sequence[Sequence[Item]],
    key: Callable[[Item], Hashable] = lambda item: item,
    k: int = RRF_K,
) -> list[tuple[Item, float]]:
    """Every item of `rankings`, once, with its fused score, best first (ties: best single rank, then first seen).

    Args:
        rankings: lists of items, best first.
        key: what makes two items the same (a `Hit`'s pid, say); the first object seen for a key is returned.
        k: the rank offset (`RRF_K`).

    Returns:
        (item, fused score) pairs, best first.
    """
    scores: dict[Hashable, float] = {}
    best_rank: dict[Hashable, int] = {}
    first_seen: dict[Hashable, Item] = {}
    depth = max((len(ranking) for ranking in rankings), default=0)
    for rank in range(1, depth + 1):  # rank by rank, so `first_seen` keeps the reading order of the tie-break
        for ranking in rankings:
            if rank > len(ranking):
                continue
            item_key = key(ranking[rank - 1])
            if any(key(earlier) == item_key for earlier in ranking[: rank - 1]):
                continue  # counted at its first rank in this ranking
            scores[item_key] = scores.get(item_key, 0.0) + 1.0 / (k + rank)
            best_rank.setdefault(item_key, rank)
            first_seen.setdefault(item_key, ranking[rank - 1])
    order = {item_key: position for position, item_key in enumerate(first_seen)}
    fused = sorted(first_seen, key=lambda item_key: (-scores[item_key], best_rank[item_key], order[item_key]))
    return [(first_seen[item_key], scores[item_key]) for item_key in fused]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Item]],
    key: Callable[[Item], Hashable] = lambda item: item,
    k: int = RRF_K,
) -> list[Item]:
    """Every item of `rankings`, once, best fused score first: `rrf_scores` without the scores."""
    return [item for item, _ in rrf_scores(rankings, key, k)]
