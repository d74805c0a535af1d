"""HTTP search in the protocol of DSPy's own `dspy.ColBERTv2(url=...)` client.

`GET /api/search?query=...&k=...` (or `POST` with a JSON body `{"query", "k"}`) answers
`{"query": ..., "topk": [{"pid", "title", "text", "long_text", "rank", "score", "prob"}, ...]}`.
The client reads `topk` and each hit's `text` (which it copies to `long_text`; the POST path does not, so
the server sends `long_text` too). `text` is `title | text`, so an LM sees the title. `prob` is the softmax
of the returned hits' scores, as the original ColBERTv2 server sends. Errors are JSON
`{"error": true, "message": ...}` with status 400 (bad input) or 500 (a failed search); the client
raises on both.

Simplified: one lock serialises searches (retrievers hold one model and are not thread-safe); no auth,
no rate limit: bind it to loopback unless a proxy in front provides those.
"""

from __future__ import annotations

import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.errors import RagdistillError
from retrieval.base import Hit, Retriever, check_k

MAX_K = 100
MAX_QUERY_CHARS = 2000

logger = logging.getLogger(__name__)


def validate_query(query: object, max_chars: int = MAX_QUERY_CHARS) -> str:
    """A non-empty query of at most `max_chars` characters, or a RagdistillError saying what is wrong."""
    if not isinstance(query, str) or not query.strip():
        raise RagdistillError("query must be a non-empty string")
    if len(query) > max_chars:
        raise RagdistillError(f"query is {len(query)} characters long; the limit is {max_chars}")
    return query


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


def create_app(retriever: Retriever, *, info: dict[str, Any] | None = None, max_k: int = MAX_K) -> FastAPI:
    """A FastAPI app serving `retriever`; `info` (e.g. retriever name, index dir) is shown by /health."""
    app = FastAPI(title="ragdistill search", description="Search in the dspy.ColBERTv2 protocol.")
    search_lock = threading.Lock()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": True, "message": message}, status_code=status)

    def answer(query: object, k: object) -> JSONResponse:
        try:
            query = validate_query(query)
            k = check_k(10 if k is None else k, max_k=max_k)
        except RagdistillError as err:
            return error(400, str(err))
        start = time.perf_counter()
        try:
            with search_lock:
                hits = retriever.search(query, k)
        except Exception:
            logger.exception("search failed for query %r", query[:200])
            return error(500, "search failed; see the server log")
        latency_ms = (time.perf_counter() - start) * 1000.0
        return JSONResponse({"query": query, "topk": topk_json(hits), "latency_ms": latency_ms})

    @app.get("/api/search")
    def search_get(query: str | None = None, k: str | None = None) -> JSONResponse:
        """Search with `?query=...&k=...` (k defaults to 10)."""
        return answer(query, k)

    @app.post("/api/search")
    async def search_post(request: Request) -> JSONResponse:
        """Search with a JSON body `{"query": ..., "k": ...}`."""
        try:
            body = await request.json()
        except ValueError:
            return error(400, 'the body must be JSON: {"query": ..., "k": ...}')
        if not isinstance(body, dict):
            return error(400, 'the body must be a JSON object: {"query": ..., "k": ...}')
        # The search itself blocks, so it runs in the thread pool, as GET requests do.
        return await run_in_threadpool(answer, body.get("query"), body.get("k"))

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness and what is being served."""
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


def serve_forever(host: str, port: int, build_app: Callable[[], FastAPI], path: str = "") -> None:
    """Bind host:port first (a busy port fails before anything loads), then build the app and serve it until stopped.

    uvicorn handles SIGTERM/SIGINT: in-flight requests finish before the process exits.
    """
    sock = bind_socket(host, port)
    try:
        app = build_app()
        print(f"serving {app.title} at http://{host}:{sock.getsockname()[1]}{path}", file=sys.stderr, flush=True)
        make_server(app, sock).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve `app` from a background thread for the duration of the block; yields its base URL."""
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
