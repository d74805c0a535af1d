"""colbert-ai's PLAID indexer, changed to encode each passage once.

colbert-ai's `CollectionIndexer` runs the encoder over the passages twice: first over a sample, whose
embeddings train the k-means centroids and the residual buckets, then over every passage in `index()`, which
compresses and saves them. Its `_sample_pids` draws min(N, 16 * sqrt(120 * N)) passages, which is the whole
collection for N up to 30,720: a small collection (the world corpus: 2,540 passages) is encoded twice over,
and the build costs about two encoder passes.

Here the encoder keeps the sample's embeddings (in float16, the precision the index stores anyway) and
`index()` takes a sampled passage's embeddings from there instead of encoding it again; only passages
outside the sample are encoded in the index pass. Nothing else changes: the same pids are sampled (same
seed), k-means sees the same sample, the same passages are compressed. When the sample is the whole
collection and fits one chunk (N below 25,000 on one rank), colbert-ai's index pass would encode it in the
same call, batches and order as the sample, so the index holds exactly the same tensors (codes, residuals,
centroids, IVF). Otherwise a sampled passage keeps the embeddings it got in the sample's batches, which
differ from a fresh encoding only by float rounding (padding lengths differ).

The hook is as narrow as colbert-ai allows: `OnePassIndexer` is its `Indexer` with `encode_once` as the
function each rank runs (colbert-ai's `encode`, building our `OnePassCollectionIndexer`), which differs from
its `CollectionIndexer` only by the encoder (`SampleKeepingEncoder`) and by keeping the sample's
embeddings while `_sample_embeddings` runs. site-packages is not edited.

Simplified: kept embeddings are matched to passages by their text (a text that occurs twice gets the
embeddings of its first occurrence, which is what the model gives it anyway); the sample's embeddings stay in
memory through the index pass (as much as colbert-ai itself holds for k-means: about 4.5 GB for a million
passages of ~100 tokens at dim 128, when the sample is 17.5% of the collection, which is also all this saves
there).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from retrieval.compat import import_colbert

import_colbert()  # the transformers-5 fix and the extension cache, before any colbert-ai module is imported

import torch  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from colbert import Indexer  # noqa: E402
from colbert.indexing.collection_encoder import CollectionEncoder  # noqa: E402
from colbert.indexing.collection_indexer import CollectionIndexer  # noqa: E402
from colbert.infra.launcher import Launcher  # noqa: E402


class SampleKeepingEncoder(CollectionEncoder):
    """colbert-ai's `CollectionEncoder` that keeps the embeddings it computes inside `keeping_sample()` and
    returns them again instead of encoding those passages a second time."""

    def __init__(self, config, checkpoint):
        super().__init__(config, checkpoint)
        self._keeping = False
        self._kept: dict[str, torch.Tensor] = {}
        self._dtype: torch.dtype | None = None

    @contextmanager
    def keeping_sample(self) -> Iterator[None]:
        """Keep what `encode_passages` computes while inside (colbert-ai encodes the k-means sample there)."""
        self._keeping = True
        try:
            yield
        finally:
            self._keeping = False

    def encode_passages(self, passages: list[str]):
        """colbert-ai's (embeddings of all passages, flattened; tokens per passage), each passage encoded once."""
        if self._keeping:
            embeddings, doclens = super().encode_passages(passages)
            if embeddings is not None:
                self._dtype = embeddings.dtype
                for passage, matrix in zip(passages, torch.split(embeddings.half(), doclens), strict=True):
                    self._kept.setdefault(passage, matrix)
            return embeddings, doclens
        if not any(passage in self._kept for passage in passages):
            return super().encode_passages(passages)
        fresh = [passage for passage in dict.fromkeys(passages) if passage not in self._kept]
        matrices = dict(self._kept)
        if fresh:
            embeddings, doclens = super().encode_passages(fresh)
            matrices |= dict(zip(fresh, torch.split(embeddings.half(), doclens), strict=True))
        parts = [matrices[passage] for passage in passages]
        return torch.cat(parts).to(self._dtype), [len(part) for part in parts]


class OnePassCollectionIndexer(CollectionIndexer):
    """colbert-ai's `CollectionIndexer` whose index pass reuses the k-means sample's embeddings."""

    def __init__(self, config, collection, verbose: int = 2):
        super().__init__(config, collection, verbose=verbose)
        self.encoder = SampleKeepingEncoder(config, self.checkpoint)

    def _sample_embeddings(self, sampled_pids):
        with self.encoder.keeping_sample():
            return super()._sample_embeddings(sampled_pids)


def encode_once(config, collection, shared_lists, shared_queues, verbose: int = 3) -> None:
    """What each indexing rank runs: colbert-ai's `encode`, with `OnePassCollectionIndexer`."""
    OnePassCollectionIndexer(config=config, collection=collection, verbose=verbose).run(shared_lists)


class OnePassIndexer(Indexer):
    """colbert-ai's `Indexer`, launching `encode_once` on each rank instead of colbert-ai's `encode`."""

    def _Indexer__launch(self, collection) -> None:
        """Replaces `Indexer.__launch` (a private method, hence the mangled name), otherwise the same."""
        launcher = Launcher(encode_once)
        if self.config.nranks == 1 and self.config.avoid_fork_if_possible:
            launcher.launch_without_fork(self.config, collection, [], [], self.verbose)
            return
        manager = mp.Manager()
        shared_lists = [manager.list() for _ in range(self.config.nranks)]
        shared_queues = [manager.Queue(maxsize=1) for _ in range(self.config.nranks)]
        launcher.launch(self.config, collection, shared_lists, shared_queues, self.verbose)
