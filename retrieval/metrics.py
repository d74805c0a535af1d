"""Retrieval quality and speed on QA examples that name their gold passages (`gold_pids`).

Per question, with G its gold pids and R the retrieved pids (best first):
- recall@k = |G ∩ R[:k]| / |G|: a two-hop question with one of its two golds found scores 0.5;
- all@k = 1 if every gold pid is in R[:k], else 0 (what a two-hop program needs);
- MRR@10 = 1 / rank of the first gold in R[:10], 0 if none;
- nDCG@10 with binary relevance: sum over golds at rank r <= 10 of 1 / log2(r + 1), divided by the same
  sum for the ideal ranking (all golds first).
Each is averaged over questions. Latency is per query, one `search` call at a time (as the server
serves them), reported as the 50th and 95th percentiles in milliseconds.

Simplified: questions without gold pids are skipped (and counted); duplicate pids in a ranking are not
de-duplicated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from core.errors import DataError
from retrieval.base import Retriever

MRR_DEPTH = 10
NDCG_DEPTH = 10


def recall_at_k(retrieved: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of gold pids found in the top k."""
    return len(set(retrieved[:k]) & set(gold)) / len(gold)


def all_found_at_k(retrieved: Sequence[str], gold: Collection[str], k: int) -> float:
    """1.0 if every gold pid is in the top k, else 0.0."""
    return float(set(gold) <= set(retrieved[:k]))


def reciprocal_rank(retrieved: Sequence[str], gold: Collection[str], depth: int = MRR_DEPTH) -> float:
    """1 / rank of the first gold pid within the top `depth`, 0.0 if none is there."""
    for rank, pid in enumerate(retrieved[:depth], start=1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], gold: Collection[str], k: int = NDCG_DEPTH) -> float:
    """Normalised discounted cumulative gain of the top k with binary relevance."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, pid in enumerate(retrieved[:k], start=1) if pid in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def latency_summary(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p95 and mean of durations, in milliseconds (linear interpolation between samples)."""
    ms = np.asarray(list(seconds), dtype=float) * 1000.0
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "mean": float(ms.mean()),
    }


def evaluate_retriever(retriever: Retriever, examples: Iterable, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Recall@k, all@k (for each k in `ks`), MRR@10, nDCG@10 and latency of `retriever` on `examples`."""
    depth = max(*ks, MRR_DEPTH, NDCG_DEPTH)
    totals = {f"recall@{k}": 0.0 for k in ks} | {f"all@{k}": 0.0 for k in ks} | {"mrr@10": 0.0, "ndcg@10": 0.0}
    durations, skipped = [], 0
    for example in examples:
        gold = {str(pid) for pid in (example.get("gold_pids") or [])}
        if not gold:
            skipped += 1
            continue
        start = time.perf_counter()
        hits = retriever.search(example.question, k=depth)
        durations.append(time.perf_counter() - start)
        retrieved = [hit.pid for hit in hits]
        for k in ks:
            totals[f"recall@{k}"] += recall_at_k(retrieved, gold, k)
            totals[f"all@{k}"] += all_found_at_k(retrieved, gold, k)
        totals["mrr@10"] += reciprocal_rank(retrieved, gold)
        totals["ndcg@10"] += ndcg_at_k(retrieved, gold)
    if not durations:
        raise DataError("no example has gold_pids: retrieval metrics need gold passages")
    n = len(durations)
    return {
        "questions": n,
        "skipped_without_gold": skipped,
        **{name: total / n for name, total in totals.items()},
        "latency_ms": latency_summary(durations),
    }
