"""What both HTTP services share: admission, metrics, an API key, a body size limit and JSON errors.

`harden(app, config, error_body)` gives a FastAPI app:
- an `Admission` (`app.state.admission`; see `core.admission`) for the routes that compute, and a
  `ServiceMetrics` (`app.state.metrics`) served at `GET /metrics`;
- a guard: with an API key set, every request but `GET /health` must send it (`Authorization: Bearer KEY`
  or `X-API-Key: KEY`; compared in constant time) or get 401; a body longer than `max_body_bytes` gets
  413 (by its `Content-Length`, or as soon as the bytes received pass the limit);
- a JSON body in the service's own error shape for every error status: 401, 404, 405, 413, 500,
  503 (with `Retry-After`), 504, and 499 for a request whose client left before it was computed.
`warm_up(app)` runs the app's `Warmup` (one real computation, e.g. a fixed question) before it accepts
traffic and seeds the admission's computation-time estimate with its time, so that early refusal works
from the first request; a failed or hung warm-up is one `RagdistillError`.
`check_exposure(host, api_key)` refuses to bind an interface other than loopback without an API key.
`error_responses(...)` declares these statuses in a route's OpenAPI entry, so the schema tells the truth.

Simplified: one shared key, no users or scopes, no TLS (put a TLS proxy in front); /health stays open
so that a load balancer can probe it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.admission import Admission, AdmissionConfig, ClientGone, DeadlineExceeded, Overloaded
from core.errors import RagdistillError, first_line
from core.log import say
from core.service_metrics import MetricsMiddleware, ServiceMetrics

API_KEY_ENV = "RAGDISTILL_API_KEY"
OPEN_PATHS = frozenset({"/health"})
ErrorBody = Callable[[str], dict[str, Any]]

logger = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """How an HTTP service admits, limits and guards requests."""

    max_waiting: int = 32
    """Requests that may wait for a worker; more are refused at once with 503 and Retry-After."""
    timeout_s: float = 30.0
    """Seconds from admission to answer; a request not started by then is dropped (504), never computed."""
    warmup_timeout_s: float = 300.0
    """Seconds the warm-up computation at startup may take; beyond that the service refuses to start."""
    max_body_bytes: int = 1_048_576
    """Largest request body accepted, in bytes; a larger one is answered 413."""
    api_key: str | None = None
    """Key every request but /health must send (Bearer or X-API-Key), needed off loopback; else $RAGDISTILL_API_KEY."""

    def __post_init__(self) -> None:
        if self.max_waiting < 0 or min(self.timeout_s, self.warmup_timeout_s) <= 0 or self.max_body_bytes < 1:
            raise RagdistillError(
                "--max-waiting must be >= 0, --timeout-s and --warmup-timeout-s > 0, and --max-body-bytes >= 1"
            )

    def key(self) -> str | None:
        """The API key: the option, else the environment variable, else none."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None


@dataclass
class Warmup:
    """The computation a service runs once before it accepts traffic, through the same code as a request."""

    what: str
    """What it computes, for messages (e.g. 'question "What is this collection about?"')."""
    work: Callable[[], object]
    """The computation; its duration seeds the admission's estimate."""
    limit_s: float
    """Seconds it may take before the service gives up starting (`ServiceConfig.warmup_timeout_s`)."""


def warm_up(app: FastAPI) -> float:
    """Run `app.state.warmup` once, seed the app's admission with its duration, and return that duration.

    It runs in a daemon thread, waited for at most its `limit_s`: a warm-up that fails or hangs is one
    `RagdistillError`, and a hung one never holds up the exit. The limit is separate from the requests'
    deadline because a first computation may pay one-off costs (loading, compiling extensions).
    """
    warmup: Warmup = app.state.warmup
    admission: Admission = app.state.admission
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.perf_counter()
        try:
            warmup.work()
        except Exception as err:  # reported below as one line
            outcome["error"] = err
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    thread.join(warmup.limit_s)
    if thread.is_alive():
        raise RagdistillError(
            f"the warm-up {warmup.what} got no answer within --warmup-timeout-s {warmup.limit_s:g} s "
            "(is the model or retriever it uses reachable?)"
        )
    if "error" in outcome:
        error = outcome["error"]
        raise RagdistillError(f"the warm-up {warmup.what} failed: {type(error).__name__}: {first_line(error)}")
    admission.seed(outcome["seconds"])
    say(f"warm-up {warmup.what} computed in {outcome['seconds']:.2f} s", detail=True)
    return outcome["seconds"]


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback interface (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key (a one-line `RagdistillError`)."""
    if not is_loopback(host) and not api_key:
        raise RagdistillError(
            f"--host {host} exposes the service to the network: set --api-key or {API_KEY_ENV} (see README)"
        )


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class GuardMiddleware:
    """ASGI middleware: the API key check and the body size limit (see the module docstring)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int, error_body: ErrorBody):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}
        if self.api_key is not None and scope["path"] not in OPEN_PATHS and not self.authorized(headers):
            response = JSONResponse(self.error_body("a valid API key is required"), status_code=401)
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        length = headers.get("content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body_bytes:
            message = str(BodyTooLarge(self.max_body_bytes).detail) if length.isdigit() else "bad Content-Length"
            await JSONResponse(self.error_body(message), status_code=413 if length.isdigit() else 400)(
                scope, receive, send
            )
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:  # a chunked body with no Content-Length
                raise BodyTooLarge(self.max_body_bytes)
            return message

        await self.app(scope, receive_limited, send)

    def authorized(self, headers: dict[str, bytes]) -> bool:
        """Whether the request carries the key, compared in constant time."""
        sent = headers.get("x-api-key") or headers.get("authorization", b"").removeprefix(b"Bearer ").strip()
        return hmac.compare_digest(sent, self.api_key)


def error_responses(model: type, *statuses: int, api_key: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring `statuses` (and 401 when a key is required) with the error `model`."""
    descriptions = {
        400: "The body is not JSON (or, for search, a parameter is invalid).",
        401: "The API key is missing or wrong.",
        413: "The request body is too large.",
        422: "The request does not fit the schema.",
        499: "The client left before its request was computed (never received by a client).",
        500: "The service failed; see its log.",
        503: "Overloaded: too many requests wait; retry after `Retry-After` seconds.",
        504: "The request's deadline passed before it was answered.",
    }
    retry_after = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
    declared = {*statuses, *([401] if api_key else [])}
    return {
        status: {
            "model": model,
            "description": descriptions[status],
            **({"headers": retry_after} if status == 503 else {}),
        }
        for status in sorted(declared)
    }


def harden(
    app: FastAPI, config: ServiceConfig, admission: AdmissionConfig, error_body: ErrorBody, invalid_status: int = 422
) -> None:
    """Install admission, metrics (and `GET /metrics`), the guard and JSON error handlers on `app`.

    A body that is not JSON is answered 400, a request that does not fit the schema `invalid_status`.
    """
    app.state.admission = Admission(admission, name=app.title.replace(" ", "-"))
    app.state.metrics = metrics = ServiceMetrics()
    metrics.watch(app.state.admission)

    def error(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse(error_body(message), status_code=status, headers=headers or None)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
        status = 400 if first.get("type") == "json_invalid" else invalid_status
        return error(status, f"{where or 'request'}: {first.get('msg')}")

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        return error(503, str(exc), **{"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(DeadlineExceeded)
    async def too_late(request: Request, exc: DeadlineExceeded) -> JSONResponse:
        return error(504, f"no answer within the deadline of {config.timeout_s} s")

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> JSONResponse:
        return error(499, "the client went away before its request was computed")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path)
        return error(500, "the service failed; see its log")

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Requests by route and status class, latency, queue depth, in-flight requests, batches, tokens."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    if invalid_status != 422:
        _undeclare_422(app)
    app.add_middleware(
        GuardMiddleware, api_key=config.key(), max_body_bytes=config.max_body_bytes, error_body=error_body
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts what the guard refuses too


def _undeclare_422(app: FastAPI) -> None:
    """Drop the 422 that FastAPI declares for every operation with parameters: this app never answers it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in build()["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
        return app.openapi_schema

    app.openapi = openapi
