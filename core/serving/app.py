"""The app factory both HTTP services start from: admission, metrics, guard, door and JSON errors, once.

`service_app(title, description, config, admission, computing_paths)` gives a FastAPI app with:
- an `Admission` (`app.state.admission`; see `core.serving.admission`) for the routes that compute, and a
  `ServiceMetrics` (`app.state.metrics`) served at `GET /metrics`;
- three ASGI middlewares, outermost first: the metrics (they count every answer, refusals included), the
  guard (API key in a header or the query string, body size limit; `core.serving.guard`) and the door
  (503 + `Retry-After` before the body is read while admission is full, held `refusal_hold_s` first;
  `core.serving.door`);
- one exception handler per error, each answering the one envelope (`core.serving.envelope`): 400 for a
  body that is not JSON, `invalid_status` for a request that does not fit the schema (422, or 400 where a
  protocol says so), 401, 404, 405, 413, 500, 503 (with `Retry-After`), 504, and 499 for a request whose
  client left before it was computed.
A service adds its own routes (each computing one through `app.state.admission.run`) and its `Warmup`
(`app.state.warmup`, see `core.serving.runtime`).

Simplified: one admission per app (one line of waiting requests for all its computing routes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from core.errors import ConfigError
from core.serving.admission import Admission, AdmissionConfig, ClientGone, DeadlineExceeded, Overloaded
from core.serving.door import DoorMiddleware
from core.serving.envelope import error_response
from core.serving.guard import API_KEY_ENV, GuardMiddleware
from core.serving.metrics import MetricsMiddleware, ServiceMetrics

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
    """Key every request but /health must send (Bearer, X-API-Key or ?api_key=), needed off loopback; else
    $RAGDISTILL_API_KEY."""
    refusal_hold_s: float = 1.0
    """Seconds a 503 is held before it is sent (at most its Retry-After; 0: at once), so that clients retrying
    at once ask about once a second instead of hundreds of times, and their refusals leave the CPU to the work."""

    def __post_init__(self) -> None:
        if self.max_waiting < 0 or min(self.timeout_s, self.warmup_timeout_s) <= 0 or self.max_body_bytes < 1:
            raise ConfigError(
                "--max-waiting must be >= 0, --timeout-s and --warmup-timeout-s > 0, and --max-body-bytes >= 1"
            )
        if self.refusal_hold_s < 0:
            raise ConfigError("--refusal-hold-s must not be negative")

    def key(self) -> str | None:
        """The API key: the option, else the environment variable, else none."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None


def service_app(
    title: str,
    description: str,
    config: ServiceConfig,
    admission: AdmissionConfig,
    computing_paths: Iterable[str],
    invalid_status: int = 422,
) -> FastAPI:
    """A FastAPI app with everything the module docstring lists; the service adds its routes to it."""
    app = FastAPI(title=title, description=description, redirect_slashes=False)
    app.state.admission = Admission(admission, name=title.replace(" ", "-"))
    app.state.metrics = metrics = ServiceMetrics()
    metrics.watch(app.state.admission)
    install_error_handlers(app, config.timeout_s, invalid_status)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Requests by route and status class, latency, queue depth, in-flight requests, batches, tokens."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    if invalid_status != 422:
        undeclare_422(app)
    app.add_middleware(
        DoorMiddleware, admission=app.state.admission, computing_paths=computing_paths, hold_s=config.refusal_hold_s
    )
    app.add_middleware(GuardMiddleware, api_key=config.key(), max_body_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts what the guard and door refuse too
    return app


def install_error_handlers(app: FastAPI, timeout_s: float, invalid_status: int) -> None:
    """Answer every error with the envelope (see the module docstring); the only place they are registered."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
        status = 400 if first.get("type") == "json_invalid" else invalid_status
        return error_response(status, f"{where or 'request'}: {first.get('msg')}")

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        return error_response(503, str(exc), **{"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(DeadlineExceeded)
    async def too_late(request: Request, exc: DeadlineExceeded) -> JSONResponse:
        return error_response(504, f"no answer within the deadline of {timeout_s} s")

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> JSONResponse:
        return error_response(499, "the client went away before its request was computed")

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "the service failed; see its log")


def undeclare_422(app: FastAPI) -> None:
    """Drop the 422 that FastAPI declares for every operation with parameters: this app never answers it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in build()["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
        return app.openapi_schema

    app.openapi = openapi
