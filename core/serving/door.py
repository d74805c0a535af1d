"""Refusals at the door: an ASGI middleware that answers 503 + `Retry-After` before a body is read.

Under overload most requests are refused, so a refusal must cost (almost) nothing: no body read, no JSON
parsed, no validation, no routing, no exception handler. `DoorMiddleware` sits in front of the app (behind
the metrics and the guard) and, for a request to one of the app's computing paths, asks the admission
whether it would be admitted now (`Admission.admits`); if not, it sends the envelope with 503 and a
jittered `Retry-After` in two ASGI messages and returns, leaving the body unread (the metrics count it
under its route, as they count a refusal by the route). Every other path
(`/health`, `/metrics`, the schema) always passes. The routes still go through `Admission.run`, which asks
again: the door only answers early what the route would have answered anyway.

A refusal is held `hold_s` seconds (at most its `Retry-After`) before it is sent: held, it costs an idle
coroutine and an open connection, while a client that retries at once would otherwise send hundreds of requests a
second, whose parsing and answering take the CPU the admitted work needs (measured with 64 such clients on two
cores: the goodput fell to two thirds and admitted requests missed their deadline). At most `max_held` refusals
are held at once; beyond that they are sent at once.

Simplified: the door knows paths, not methods (a `GET` to a computing path while the service is full is
answered 503, not 405).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from core.serving.admission import Admission
from core.serving.envelope import error_body


@dataclass(frozen=True)
class RouteTemplate:
    """What the metrics read from `scope["route"]` (the router sets a route there; a refusal never reaches it)."""

    path: str


class DoorMiddleware:
    """ASGI middleware refusing requests to `computing_paths` while `admission` would refuse them."""

    def __init__(
        self,
        app: ASGIApp,
        admission: Admission,
        computing_paths: Iterable[str],
        hold_s: float = 1.0,
        max_held: int = 512,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.app = app
        self.admission = admission
        self.computing_paths = frozenset(computing_paths)
        self.hold_s = hold_s
        self.max_held = max_held
        self.sleep = sleep
        self.held = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.computing_paths or self.admission.admits():
            await self.app(scope, receive, send)
            return
        refusal = self.admission.refuse()
        scope["route"] = RouteTemplate(scope["path"])  # counted under its route, as a refusal by the route would be
        body = json.dumps(error_body(str(refusal))).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(refusal.retry_after_s).encode()),
        ]
        if self.hold_s > 0 and self.held < self.max_held:
            self.held += 1
            try:
                await self.sleep(min(self.hold_s, refusal.retry_after_s))
            finally:
                self.held -= 1
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
