"""HTTP search in the protocol of DSPy's own `dspy.ColBERTv2(url=...)` client.

`GET /api/search?query=...&k=...` (or `POST` with a JSON body `{"query", "k"}`) answers
`{"query": ..., "topk": [{"pid", "title", "text", "long_text", "rank", "score", "prob"}, ...]}`.
The client reads `topk` and each hit's `text` (which it copies to `long_text`; the POST path does not, so
the server sends `long_text` too). `text` is `title | text`, so an LM sees the title. `prob` is the softmax
of the returned hits' scores, as the original ColBERTv2 server sends. Both forms take the same `SearchQuery`
model, so the OpenAPI schema (`/openapi.json`) states every constraint. Errors are JSON
`{"error": true, "message": ...}`: 400 for bad input (the protocol's code, also for what fails the schema),
401/413 from the guard, 500 for a failed search, 503/504 from admission (`core.service`); the client
raises on all of them. `GET /health` and `GET /metrics` (Prometheus) never wait behind searches.
Before it accepts traffic the server searches once (`core.service.warm_up`), which seeds admission's
estimate of a search's time, so that a burst is refused early (503) from its first request.

Simplified: one search at a time (retrievers hold one model and are not thread-safe): admission runs
searches on a single worker thread and lets `--max-waiting` more wait.
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import HTTPException
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints
from uvicorn.supervisors import Multiprocess

from core.admission import AdmissionConfig
from core.errors import RagdistillError
from core.service import ServiceConfig, Warmup, error_responses, harden, warm_up
from core.service_metrics import shared_metrics
from retrieval.base import Hit, Retriever

MAX_K = 100
MAX_QUERY_CHARS = 2000
WARMUP_QUERY = "What is this collection about?"
WORKER_HEALTHCHECK_S = 60  # a worker busy loading its model may answer the supervisor's ping late

NOT_BLANK = r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
"""A character that is not Unicode white space, spelled out so that the schema means what is checked: a bare
backslash-S differs between dialects (U+0085 is white space to pydantic's Rust regex, not to the ECMAScript
regex of JSON schema, which schema-driven clients follow)."""

QueryText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_CHARS, pattern=NOT_BLANK)]
"""A query or question: 1 to 2,000 characters, not all blank."""


def not_a_bool(value: object) -> object:
    """Refuse JSON `true`/`false` where the schema says integer (pydantic would take them for 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("Input should be a valid integer, not a boolean")
    return value


PassageCount = Annotated[int, BeforeValidator(not_a_bool)]
"""How many passages: an integer (the bounds are declared where it is used)."""

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


class SearchError(BaseModel):
    """Every error answer of the search server."""

    error: bool = True
    message: str


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


def error_body(message: str) -> dict[str, Any]:
    return {"error": True, "message": message}


def create_app(
    retriever: Retriever, *, info: dict[str, Any] | None = None, config: ServiceConfig | None = None
) -> FastAPI:
    """A FastAPI app serving `retriever`; `info` (e.g. retriever name, index dir) is shown by /health."""
    config = config or ServiceConfig()
    app = FastAPI(
        title="ragdistill search", description="Search in the dspy.ColBERTv2 protocol.", redirect_slashes=False
    )
    admission = AdmissionConfig(workers=1, max_waiting=config.max_waiting, timeout_s=config.timeout_s)
    harden(app, config, admission, error_body, invalid_status=400)
    app.state.warmup = Warmup(
        f"search {WARMUP_QUERY!r}", lambda: topk_json(retriever.search(WARMUP_QUERY, 10)), config.warmup_timeout_s
    )
    errors = error_responses(SearchError, 400, 413, 499, 500, 503, 504, api_key=config.key() is not None)

    def search(query: str, k: int) -> SearchResult:
        start = time.perf_counter()
        try:
            hits = retriever.search(query, k)
        except Exception:
            logger.exception("search failed for query %r", query[:200])
            raise HTTPException(500, "search failed; see the server log") from None
        latency_ms = (time.perf_counter() - start) * 1000.0
        return SearchResult(query=query, topk=topk_json(hits), latency_ms=latency_ms)

    @app.get("/api/search", response_model=SearchResult, responses=errors)
    async def search_get(request: Request, params: Annotated[SearchQuery, Query()]) -> SearchResult:
        """Search with `?query=...&k=...` (k defaults to 10)."""
        return await app.state.admission.run(request, lambda deadline: search(params.query, params.k))

    @app.post("/api/search", response_model=SearchResult, responses=errors)
    async def search_post(request: Request, body: SearchQuery) -> SearchResult:
        """Search with a JSON body `{"query": ..., "k": ...}`."""
        return await app.state.admission.run(request, lambda deadline: search(body.query, body.k))

    @app.get("/health", responses=error_responses(SearchError, 500))
    async def health() -> dict[str, Any]:
        """Liveness and what is being served (never waits behind searches)."""
        return {"status": "ok", **(info or {})}

    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0 picks a free one), or a RagdistillError if that fails."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise RagdistillError(f"cannot listen on {host}:{port} ({err.strerror}): is the port in use?") from None
    return sock


def make_server(app: FastAPI, sock: socket.socket) -> uvicorn.Server:
    """A uvicorn server for `app` on an already bound socket (logs warnings and errors only)."""
    host, port = sock.getsockname()[:2]
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))


def warmed_app(build_app: Callable[[], FastAPI]) -> FastAPI:
    """The app `build_app` builds, warmed up (`warm_up`) before it serves anyone."""
    app = build_app()
    warm_up(app)
    return app


def serve_forever(host: str, port: int, build_app: Callable[[], FastAPI], path: str = "", processes: int = 1) -> None:
    """Bind host:port first (a busy port fails before anything loads), build and warm up the app, serve until stopped.

    uvicorn handles SIGTERM/SIGINT: in-flight requests finish before the process exits. With `processes` > 1,
    uvicorn's own supervisor (`uvicorn.supervisors.Multiprocess`) starts that many worker processes on the
    bound socket, each calling `build_app` (which must then be picklable: a module-level function or a
    `functools.partial` of one), restarts a worker that dies, and stops them all on SIGTERM/SIGINT; the
    workers share their metrics (`core.service_metrics.shared_metrics`), so one scrape counts all of them.
    """
    sock = bind_socket(host, port)
    try:
        url = f"http://{host}:{sock.getsockname()[1]}{path}"
        if processes == 1:
            app = warmed_app(build_app)
            print(f"serving {app.title} at {url}", file=sys.stderr, flush=True)
            make_server(app, sock).run(sockets=[sock])
            return
        config = uvicorn.Config(
            functools.partial(warmed_app, build_app), factory=True, workers=processes, host=host,
            port=sock.getsockname()[1], log_level="warning", timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )  # fmt: skip
        print(f"serving at {url} from {processes} worker processes (each loads its own copy)", file=sys.stderr)
        with shared_metrics():
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0, warm: bool = True
) -> Iterator[str]:
    """Serve `app` from a background thread for the duration of the block; yields its base URL.

    Like `serve_forever`, it warms the app up first, unless not `warm` (a test of an unseeded admission).
    """
    if warm:
        warm_up(app)
    sock = bind_socket(host, port)
    server = make_server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the search server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
        sock.close()
