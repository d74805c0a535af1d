"""ColBERT late-interaction retrieval with colbert-ai: build a PLAID index, search it, score passages.

- `build_plaid` writes the `colbert/` part of an index directory (colbert-ai's PLAID index, built by its
  indexer changed to encode each passage once: `retrieval.plaid_indexer`); the whole directory (passages,
  BM25 part, manifest) is written by `retrieval.build`, the format is `retrieval.indexdir`.
- `ColBERTRetriever` loads colbert-ai's Searcher once and answers `search` / `search_batch` with `Hit`s.
  Passages added since the build (the side store, see updates.py) are scored exactly with MaxSim and
  merged with the PLAID hits by score; replaced and deleted passages are filtered out of the PLAID hits.
- `ColBERTScorer` scores given passages against a query with MaxSim and no index (BM25 reranking).

What is simplified or changed from colbert-ai's defaults:
- queries are encoded by us, not by `Searcher.search`: in one batch per `search_batch`, and, when the
  checkpoint pads queries with [PAD] (the offline MiniLM one), cut after the longest query, since padded
  positions are zeroed anyway; this is most of the query-encoding time saved, and it also keeps zero
  rows out of PLAID's candidate generation;
- nbits, doc_maxlen and dim are always passed explicitly (colbert-ai's saved metadata records every
  default as if it had been set), and so are the PLAID search knobs (colbert-ai fixes them on the first
  search by its k, so a first search with k=5 would narrow every later one);
- results are cached per (query, k) for the retriever's lifetime (DSPy optimizers repeat queries);
- PLAID scores and exact MaxSim scores of side-store passages are treated as one scale (PLAID's are
  MaxSim over residual-compressed embeddings, off by a few hundredths).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from core.cli import check_choices
from core.errors import ConfigError, RunFormatError
from core.log import say
from data.loaders import Passage, load_corpus
from retrieval.base import Hit, check_k
from retrieval.checkpoint import default_checkpoint, resolve_checkpoint
from retrieval.compat import gpu_count, import_colbert, run_context
from retrieval.indexdir import COLBERT_DIR, PASSAGES_FILE, read_manifest
from retrieval.updates import read_side_store

CACHE_SIZE = 4096


@dataclass(frozen=True)
class IndexSettings:
    """How the PLAID index is built; recorded in manifest.json and reused at search time."""

    nbits: Literal[1, 2, 4] = 4
    """Bits per dimension of each stored residual: more is more exact and larger."""
    doc_maxlen: int = 180
    """Passages are truncated to this many tokens."""
    kmeans_niters: int = 4
    """k-means iterations when choosing the centroids."""

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass(frozen=True)
class SearchSettings:
    """PLAID's pruning knobs; None picks a value by the search depth (see `plaid_knobs`)."""

    ncells: int | None = None
    """Centroids probed per query token."""
    centroid_score_threshold: float | None = None
    """Centroids scoring below this are pruned in the second stage."""
    ndocs: int | None = None
    """Candidate passages kept for exact(er) scoring."""


def plaid_knobs(settings: SearchSettings, depth: int) -> dict:
    """The pruning knobs for a search of `depth` hits, unless set: colbert-ai's tiers (k <= 10, <= 100, more),
    except ndocs 768 instead of 256 for k <= 10 (HotpotQA sample, MiniLM: recall@5 0.801 instead of 0.798)."""
    tier = 0 if depth <= 10 else 1 if depth <= 100 else 2
    return {
        "ncells": settings.ncells or (1, 2, 4)[tier],
        "centroid_score_threshold": settings.centroid_score_threshold or (0.5, 0.45, 0.4)[tier],
        # PLAID keeps ndocs // 4 passages for its final scoring, so ndocs must cover the depth.
        "ndocs": max(settings.ndocs or (768, 1024, 4096)[tier], 4 * depth),
    }


def checkpoint_config(checkpoint_dir: Path, **overrides):
    """colbert-ai's config for a checkpoint, with `overrides` set explicitly."""
    import_colbert()
    from colbert.infra import ColBERTConfig

    saved = ColBERTConfig.load_from_checkpoint(str(checkpoint_dir))
    shape = (
        {"dim": 128, "query_maxlen": 32} if saved is None else {"dim": saved.dim, "query_maxlen": saved.query_maxlen}
    )
    return ColBERTConfig(checkpoint=str(checkpoint_dir), **{**shape, **overrides})


def check_settings(settings: IndexSettings) -> None:
    """A one-line `ConfigError` for PLAID settings `build_plaid` cannot use (nbits is checked when built)."""
    if not 8 <= settings.doc_maxlen <= 512:
        raise ConfigError(f"doc_maxlen must be between 8 and 512, got {settings.doc_maxlen}")


def build_plaid(
    corpus: Sequence[Passage],
    out_dir: Path,
    *,
    checkpoint: str | None,
    settings: IndexSettings,
    nranks: int | None = None,
    encode_once: bool = True,
) -> dict:
    """Index `corpus` with colbert-ai into `out_dir` (a fresh directory) with `nranks` processes (default: one per
    GPU, 1 on CPU); returns the manifest's ColBERT entries.

    `encode_once`: each passage goes through the encoder once (`retrieval.plaid_indexer`); False runs colbert-ai's
    own indexer, which encodes its k-means sample (below 30,720 passages, all of them) a second time — kept to
    compare against (benchmarks/index.py, tests/retrieval/test_plaid_indexer.py)."""
    check_settings(settings)
    if checkpoint is None:
        checkpoint, note = default_checkpoint()
        if note:
            say(f"note: {note}", detail=True)
    checkpoint_dir = resolve_checkpoint(checkpoint)
    if Path(checkpoint).expanduser().is_dir():
        checkpoint = str(checkpoint_dir)  # absolute, so the manifest works from any working directory
    config = checkpoint_config(checkpoint_dir, index_path=str(out_dir), **asdict(settings))
    with run_context(nranks):
        if encode_once:
            from retrieval.plaid_indexer import OnePassIndexer as Indexer
        else:
            from colbert import Indexer

        indexer = Indexer(checkpoint=str(checkpoint_dir), config=config, verbose=0)
        indexer.index(name=out_dir.name, collection=[p.as_context() for p in corpus], overwrite=False)
    return {
        "checkpoint": checkpoint,
        "settings": {**asdict(settings), "dim": config.dim, "query_maxlen": config.query_maxlen},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class ColBERTScorer:
    """MaxSim (late interaction) scores of passages for a query, with a ColBERT checkpoint and no index."""

    def __init__(self, checkpoint: str, *, doc_maxlen: int = 180, model=None):
        """`checkpoint` is a spec for `resolve_checkpoint`; `model` reuses an already loaded colbert Checkpoint."""
        if model is None:
            import_colbert()
            from colbert.modeling.checkpoint import Checkpoint

            checkpoint_dir = resolve_checkpoint(checkpoint)
            config = checkpoint_config(checkpoint_dir, doc_maxlen=doc_maxlen)
            with run_context():
                model = Checkpoint(str(checkpoint_dir), colbert_config=config, verbose=0)
        self.model = model
        model.amp_manager.activated = gpu_count() > 0  # autocast is CUDA-only; on CPU it only warns
        tokenizer = model.query_tokenizer
        self._trim_queries = tokenizer.mask_token_id == tokenizer.pad_token_id
        self._lock = threading.Lock()

    def encode_queries(self, queries: list[str]) -> list:
        """One (tokens, dim) embedding matrix per query, on the CPU (trimmed to its own tokens under padmask)."""
        import torch

        ids, mask = self.model.query_tokenizer.tensorize(queries)
        if self._trim_queries:
            longest = int(mask.sum(dim=1).max())
            ids, mask = ids[:, :longest], mask[:, :longest]
        with torch.inference_mode():
            embeddings = self.model.query(ids, mask, to_cpu=True).float()
        if not self._trim_queries:
            return list(embeddings)
        return [matrix[:length] for matrix, length in zip(embeddings, mask.sum(dim=1).tolist(), strict=True)]

    def encode_passages(self, passages: list[str]) -> list:
        """One (tokens, dim) embedding matrix per passage, on the CPU, punctuation and padding removed."""
        import torch

        if not passages:
            return []
        with torch.inference_mode():
            (embeddings,) = self.model.docFromText(passages, bsize=32, keep_dims=False)
        return [matrix.float() for matrix in embeddings]

    @staticmethod
    def maxsim(query_embedding, passage_embeddings: list) -> list[float]:
        """Sum over query tokens of the best dot product with any passage token, per passage."""
        return [float((query_embedding @ matrix.T).max(dim=1).values.sum()) for matrix in passage_embeddings]

    def score(self, query: str, passages: list[str]) -> list[float]:
        """The MaxSim score of each passage for `query` (higher is better), in input order."""
        if not passages:
            return []
        with self._lock:
            return self.maxsim(self.encode_queries([query])[0], self.encode_passages(passages))


class ColBERTRetriever:
    """Search an index directory with colbert-ai's PLAID Searcher plus the exact side store.

    PLAID only scores passages near the query's centroids, so a search may return fewer than k hits.
    """

    def __init__(
        self,
        index_dir: str | Path,
        *,
        ncells: int | None = None,
        centroid_score_threshold: float | None = None,
        ndocs: int | None = None,
    ):
        """Open the index once; the keyword arguments override PLAID's pruning (see `SearchSettings`)."""
        self.index_dir = Path(index_dir).resolve()  # colbert-ai resolves relative paths under its experiment root
        manifest = read_manifest(self.index_dir)
        if not (self.index_dir / COLBERT_DIR / "metadata.json").is_file():
            raise RunFormatError(f"no ColBERT index in {self.index_dir}: build it with python -m retrieval.index")
        self.manifest = manifest
        self.passages = load_corpus(self.index_dir / PASSAGES_FILE)
        self.search_settings = SearchSettings(ncells, centroid_score_threshold, ndocs)
        self._searcher = self._open_searcher(manifest, self.search_settings)
        self.scorer = ColBERTScorer(manifest["checkpoint"], model=self._searcher.checkpoint)
        store = read_side_store(self.index_dir)
        self._hidden = store.changed_pids()
        self._updates = store.live_updates()
        self._update_embeddings = self.scorer.encode_passages([p.as_context() for p in self._updates])
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int], list[Hit]] = OrderedDict()

    def _open_searcher(self, manifest: dict, search: SearchSettings):
        settings = manifest["settings"]
        checkpoint_dir = resolve_checkpoint(manifest["checkpoint"])
        config = checkpoint_config(
            checkpoint_dir,
            nbits=settings["nbits"],
            doc_maxlen=settings["doc_maxlen"],
            dim=settings["dim"],
            query_maxlen=settings["query_maxlen"],
            **plaid_knobs(search, 10),
        )
        collection = [passage.as_context() for passage in self.passages]
        with run_context():
            from colbert import Searcher

            return Searcher(
                index=str(self.index_dir / COLBERT_DIR),
                checkpoint=str(checkpoint_dir),
                collection=collection,
                config=config,
                verbose=0,
            )

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top-k passages for one query, best first."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]:
        """The top-k passages for each query, best first (queries are encoded in one batch)."""
        k = check_k(k)
        with self._lock:
            todo = list(dict.fromkeys(q for q in queries if (q, k) not in self._cache))
            if todo:
                embeddings = self.scorer.encode_queries(todo)
                for query, embedding in zip(todo, embeddings, strict=True):
                    self._remember((query, k), self._search_one(embedding, k))
            return [list(self._cache[(query, k)]) for query in queries]

    def _remember(self, key: tuple[str, int], hits: list[Hit]) -> None:
        self._cache[key] = hits
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _search_one(self, embedding, k: int) -> list[Hit]:
        """PLAID hits (without replaced or deleted passages) merged by score with the side store's."""
        depth = min(k + len(self._hidden), len(self.passages))
        self._searcher.configure(**plaid_knobs(self.search_settings, depth))
        pids, _, scores = self._searcher.dense_search(embedding.unsqueeze(0), depth)
        hits = [
            Hit(p.pid, p.title, p.text, float(score))
            for p, score in ((self.passages[pid], score) for pid, score in zip(pids, scores, strict=True))
            if p.pid not in self._hidden
        ]
        if self._updates:
            update_scores = ColBERTScorer.maxsim(embedding, self._update_embeddings)
            hits += [Hit(p.pid, p.title, p.text, s) for p, s in zip(self._updates, update_scores, strict=True)]
            hits.sort(key=lambda hit: -hit.score)
        return hits[:k]
