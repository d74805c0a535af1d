"""Running a service: warm it up, bind its socket, serve it (in this process, N processes, or a thread).

`warm_up(app)` runs the app's `Warmup` (one real computation, e.g. a fixed question) before it accepts
traffic and seeds the admission's estimates with its time, so that early refusal works from the first
request; a failed or hung warm-up is one `ServiceError`. `serve_forever` binds the port first (a busy port
fails before anything loads), then builds, warms up and serves the app until SIGTERM/SIGINT, optionally
from several worker processes; `serve_in_thread` serves an app from a background thread (tests,
benchmarks). uvicorn's access log is off: a URL may carry the API key (`core.serving.guard`).

Simplified: uvicorn logs warnings and errors only; no TLS (put a TLS proxy in front).
"""

from __future__ import annotations

import functools
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from core.errors import ServiceError, first_line
from core.log import say
from core.serving.admission import Admission
from core.serving.metrics import shared_metrics

WORKER_HEALTHCHECK_S = 60  # a worker busy loading its model may answer the supervisor's ping late


@dataclass
class Warmup:
    """The computation a service runs once before it accepts traffic, through the same code as a request."""

    what: str
    """What it computes, for messages (e.g. 'question "What is this collection about?"')."""
    work: Callable[[], object]
    """The computation; its duration seeds the admission's estimates."""
    limit_s: float
    """Seconds it may take before the service gives up starting (`ServiceConfig.warmup_timeout_s`)."""


def warm_up(app: FastAPI) -> float:
    """Run `app.state.warmup` once, seed the app's admission with its duration, and return that duration.

    It runs in a daemon thread, waited for at most its `limit_s`: a warm-up that fails or hangs is one
    `ServiceError`, and a hung one never holds up the exit. The limit is separate from the requests'
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
        raise ServiceError(
            f"the warm-up {warmup.what} got no answer within --warmup-timeout-s {warmup.limit_s:g} s "
            "(is the model or retriever it uses reachable?)"
        )
    if "error" in outcome:
        error = outcome["error"]
        raise ServiceError(f"the warm-up {warmup.what} failed: {type(error).__name__}: {first_line(error)}")
    admission.seed(outcome["seconds"])
    say(f"warm-up {warmup.what} computed in {outcome['seconds']:.2f} s", detail=True)
    return outcome["seconds"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0 picks a free one), or a `ServiceError` if that fails."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ServiceError(f"cannot listen on {host}:{port} ({err.strerror}): is the port in use?") from None
    return sock


def make_server(app: FastAPI, sock: socket.socket) -> uvicorn.Server:
    """A uvicorn server for `app` on an already bound socket (warnings and errors only, no access log)."""
    host, port = sock.getsockname()[:2]
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


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
    workers share their metrics (`core.serving.metrics.shared_metrics`), so one scrape counts all of them.
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
            port=sock.getsockname()[1], log_level="warning", access_log=False,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
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
            raise ServiceError(f"{app.title} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)
        sock.close()
