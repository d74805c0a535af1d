"""HTTP search in the protocol of DSPy's own `dspy.ColBERTv2(url=...)` client.

`GET /api/search?query=...&k=...` (or `POST` with a JSON body `{"query", "k"}`) answers
`{"query": ..., "topk": [{"pid", "title", "text", "long_text", "rank", "score", "prob"}, ...]}`.
The client reads `topk` and each hit's `text` (which it copies to `long_text`; the POST path does not, so
the server sends `long_text` too). `text` is `title | text`, so an LM sees the title. `prob` is the softmax
of the returned hits' scores, as the original ColBERTv2 server sends. Both forms take the same `SearchQuery`
model, so the OpenAPI schema (`/openapi.json`) states every constraint. Errors are the serving kit's
envelope `{"error": true, "message": ...}` (`core.serving.envelope`): 400 for bad input (the protocol's
code, also for what fails the schema), 401/413 from the guard, 500 for a failed search, 503/504 from
admission; the client raises on all of them. With an API key set, the key may ride in the URL
(`?api_key=...`), since the client sends no headers. Everything but the protocol (admission, metrics,
guard, warm-up, runners) is the serving kit's (`core.serving`).

Simplified: one search at a time (retrievers hold one model and are not thread-safe): admission runs
searches on a single worker thread and lets `--max-waiting` more wait.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import HTTPException
from pydantic import BaseModel, Field

from core.serving.admission import AdmissionConfig
from core.serving.app import ServiceConfig, service_app
from core.serving.envelope import error_responses
from core.serving.fields import MAX_K, WARMUP_QUERY, PassageCount, QueryText
from core.serving.runtime import Warmup
from retrieval.base import Hit, Retriever

SEARCH_PATH = "/api/search"

logger = logging.getLogger(__name__)


class SearchQuery(BaseModel):
    """A search: what to look for and how many passages to return."""

    query: QueryText = Field(description="The text to search for.")
    k: PassageCount = Field(default=10, ge=1, le=MAX_K, description="How many passages to return.")


class SearchHit(BaseModel):
    """One passage, as the ColBERTv2 server returns it."""

    pid: str
    title: str
    text: str = Field(description="`title | text`, as an LM reads it.")
    long_text: str = Field(description="The same as `text` (the dspy client reads either).")
    rank: int
    score: float
    prob: float = Field(description="Softmax of the returned hits' scores.")


class SearchResult(BaseModel):
    """The passages found for a query, best first."""

    query: str
    topk: list[SearchHit]
    latency_ms: float


def topk_json(hits: list[Hit]) -> list[dict[str, Any]]:
    """Hits in the ColBERTv2 server's `topk` shape, with `prob` the softmax of their scores."""
    top = max((hit.score for hit in hits), default=0.0)
    weights = [math.exp(hit.score - top) for hit in hits]
    total = sum(weights)
    return [
        {
            "pid": hit.pid,
            "title": hit.title,
            "text": hit.as_context(),
            "long_text": hit.as_context(),
            "rank": rank,
            "score": hit.score,
            "prob": weight / total,
        }
        for rank, (hit, weight) in enumerate(zip(hits, weights, strict=True), start=1)
    ]


def create_app(
    retriever: Retriever, *, info: dict[str, Any] | None = None, config: ServiceConfig | None = None
) -> FastAPI:
    """A FastAPI app serving `retriever`; `info` (e.g. retriever name, index dir) is shown by /health."""
    config = config or ServiceConfig()
    admission = AdmissionConfig(workers=1, max_waiting=config.max_waiting, timeout_s=config.timeout_s)
    app = service_app(
        "ragdistill search", "Search in the dspy.ColBERTv2 protocol.", config, admission, [SEARCH_PATH], 400
    )
    app.state.warmup = Warmup(
        f"search {WARMUP_QUERY!r}", lambda: topk_json(retriever.search(WARMUP_QUERY, 10)), config.warmup_timeout_s
    )
    errors = error_responses(400, 413, 499, 500, 503, 504, api_key=config.key() is not None)

    def search(query: str, k: int) -> SearchResult:
        start = time.perf_counter()
        try:
            hits = retriever.search(query, k)
        except Exception:
            logger.exception("search failed for query %r", query[:200])
            raise HTTPException(500, "search failed; see the server log") from None
        latency_ms = (time.perf_counter() - start) * 1000.0
        return SearchResult(query=query, topk=topk_json(hits), latency_ms=latency_ms)

    @app.get(SEARCH_PATH, response_model=SearchResult, responses=errors)
    async def search_get(request: Request, params: Annotated[SearchQuery, Query()]) -> SearchResult:
        """Search with `?query=...&k=...` (k defaults to 10)."""
        return await app.state.admission.run(request, lambda deadline: search(params.query, params.k))

    @app.post(SEARCH_PATH, response_model=SearchResult, responses=errors)
    async def search_post(request: Request, body: SearchQuery) -> SearchResult:
        """Search with a JSON body `{"query": ..., "k": ...}`."""
        return await app.state.admission.run(request, lambda deadline: search(body.query, body.k))

    @app.get("/health", responses=error_responses(500))
    async def health() -> dict[str, Any]:
        """Liveness and what is being served (never waits behind searches)."""
        return {"status": "ok", **(info or {})}

    return app
