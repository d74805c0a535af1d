"""Retrieval ceiling of the multi-hop program: all-gold recall with the search queries its student is taught.

    python -m benchmarks.hops [--dataset world|hotpotqa] [--retriever bm25|colbert|hybrid] [--k 5] [--limit N]

No LM runs. Three ways to fill the final context, each question searched with the real retriever:
- `single`: the question (what `RAG` retrieves);
- `question+derived`: the question, then the query `optimizers.targets` derives from what that search found;
- `derived+derived`: the derived query for both hops (a step without a derived target searches the question).
The derived variants are what a student that learned its query targets perfectly would retrieve: the ceiling the
gold query targets aim at, not a student's figure (`programs.evaluate` reports that, as `all_gold_recall`).

Printed JSON per variant: for one-hop and two-hop questions apart, the share whose final context holds every
gold passage; and how many steps had no derived target (by hop). `world` is the bundled test split; `hotpotqa`
the real sample in `data/samples/`. The index is built once per corpus in the ragdistill cache.
"""

from __future__ import annotations

from pathlib import Path

import click

from benchmarks.datasets import DATASETS
from benchmarks.results import emit, out_option
from core.errors import DataError, exit_cleanly_on_error
from data.loaders import load_corpus, load_examples
from optimizers.targets import QueryTargets
from retrieval.base import Hit, Retriever

VARIANTS = ("single", "question+derived", "derived+derived")


def final_context(variant: str, example, retriever: Retriever, targets: QueryTargets, k: int, missing: list[int]):
    """The passages `variant` gathers for `example` (de-duplicated, in the order found); counts missing targets."""
    if variant == "single":
        return retriever.search(example.question, k)
    found: list[Hit] = []
    for hop in range(2):
        query = example.question if hop == 0 and variant == "question+derived" else None
        if query is None:
            query = targets.query(example, {"question": example.question, "context": [h.as_context() for h in found]})
            if query is None:
                missing[hop] += 1
                query = example.question
        found += [hit for hit in retriever.search(query, k) if hit.pid not in {h.pid for h in found}]
    return found


@click.command()
@click.option("--dataset", type=click.Choice(sorted(DATASETS)), default="world", show_default=True)
@click.option("--retriever", "retriever_name", default="bm25", show_default=True, help="bm25, colbert or hybrid.")
@click.option("--k", default=5, show_default=True, help="Passages per search.")
@click.option("--limit", type=int, default=None, help="First N questions only.")
@out_option
@exit_cleanly_on_error
def main(dataset: str, retriever_name: str, k: int, limit: int | None, out: str | None) -> None:
    """Print the all-gold recall of each way to fill the multi-hop context, as JSON."""
    from core.cache import cache_dir
    from retrieval.build import ensure_index
    from retrieval.factory import load_retriever
    from retrieval.indexdir import corpus_sha256

    questions, corpus_path = DATASETS[dataset]
    if not Path(corpus_path).is_file():
        raise DataError(f"dataset {dataset!r} is not here ({corpus_path} missing)")
    corpus = load_corpus(corpus_path)
    index_dir = cache_dir() / "indexes" / corpus_sha256(corpus)[:16]
    ensure_index(corpus, index_dir, retriever_name)
    retriever = load_retriever(retriever_name, index_dir)
    targets = QueryTargets({passage.pid: passage for passage in corpus})
    examples = load_examples(questions, limit=limit)
    kinds = ["two_hop" if example.hops >= 2 else "one_hop" for example in examples]
    counts = {kind: kinds.count(kind) for kind in ("one_hop", "two_hop")}
    figures = {}
    for variant in VARIANTS:
        hits, missing = {"one_hop": 0, "two_hop": 0}, [0, 0]
        for example, kind in zip(examples, kinds, strict=True):
            pids = {hit.pid for hit in final_context(variant, example, retriever, targets, k, missing)}
            hits[kind] += set(example.gold_pids) <= pids
        figures[variant] = {
            **{f"all_gold_{kind}": round(hits[kind] / counts[kind], 4) for kind in counts if counts[kind]},
            "no_derived_target": {"hop_1": missing[0], "hop_2": missing[1]} if variant != "single" else None,
        }
    emit("hops", {"dataset": dataset, "retriever": retriever_name, "k": k, "questions": len(examples),
                  "questions_by_type": counts, "variants": figures}, out)  # fmt: skip


if __name__ == "__main__":
    main()
