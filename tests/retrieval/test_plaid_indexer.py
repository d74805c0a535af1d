"""Indexing encodes each passage once (retrieval/plaid_indexer.py) and builds the index colbert-ai's own indexer
builds: the same tensors on disk and the same search results, on the 40 passages of tests/fixtures_retrieval.py.

The encoder's input is counted with a spy around colbert-ai's `Checkpoint.docFromText` (the call that runs the
model over passages), which calls through to the real method.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.build import build_index
from retrieval.colbert import ColBERTRetriever
from tests.fixtures_retrieval import TINY_PASSAGES, TINY_QUERIES


def build_counting_encoded(index_dir: Path, *, encode_once: bool) -> int:
    """Build a ColBERT index of TINY_PASSAGES at `index_dir`; how many passages went through the encoder."""
    from colbert.modeling.checkpoint import Checkpoint

    encoded = []
    original = Checkpoint.docFromText

    def counting_doc_from_text(self, docs, *args, **kwargs):
        encoded.append(len(docs))
        return original(self, docs, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Checkpoint, "docFromText", counting_doc_from_text)
        build_index(TINY_PASSAGES, index_dir, parts=["colbert"], checkpoint="minilm-colbert", encode_once=encode_once)
    return sum(encoded)


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory) -> dict:
    """The tiny corpus indexed each way: {encode_once: (index dir, passages encoded)}."""
    root = tmp_path_factory.mktemp("plaid-indexer")
    return {
        once: (root / f"once-{once}", build_counting_encoded(root / f"once-{once}", encode_once=once))
        for once in (True, False)
    }


def test_each_passage_is_encoded_once(both_ways):
    assert both_ways[True][1] == len(TINY_PASSAGES) == 40
    assert both_ways[False][1] == 2 * len(TINY_PASSAGES)  # colbert-ai's k-means sample is the whole corpus


def test_the_index_files_are_the_same_tensors(both_ways):
    import torch

    once, twice = (both_ways[flag][0] / "colbert" for flag in (True, False))
    tensors = sorted(path.name for path in once.glob("*.pt"))
    assert tensors == sorted(path.name for path in twice.glob("*.pt"))
    assert {"centroids.pt", "buckets.pt", "avg_residual.pt", "ivf.pid.pt", "0.codes.pt", "0.residuals.pt"} <= set(
        tensors
    )
    for name in tensors:
        mine, theirs = torch.load(once / name), torch.load(twice / name)
        mine, theirs = (value if isinstance(value, tuple | list) else [value] for value in (mine, theirs))
        assert all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True)), name


def test_search_results_are_the_same(both_ways):
    questions = [question for question, _ in TINY_QUERIES] + ["famous scientists and their discoveries"]
    once, twice = (ColBERTRetriever(both_ways[flag][0]).search_batch(questions, k=10) for flag in (True, False))
    assert [[hit.pid for hit in hits] for hits in once] == [[hit.pid for hit in hits] for hits in twice]
    assert [hits[0].pid for hits in once[:-1]] == [pid for _, pid in TINY_QUERIES]
