"""`core.serving.door`: while admission is full, a computing request is refused before its body is read.

The app is a real `service_app` with one computing route; its one worker is held by a real computation,
and its line has no places, so admission would refuse the next request. The door must answer that request
503 with `Retry-After` without calling `receive` (the body is never read, so a body that is not JSON, or
that does not fit the schema, is refused as cheaply as a good one), while /health and /metrics pass.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading

import httpx
from fastapi import Request
from pydantic import BaseModel

from core.serving.admission import AdmissionConfig
from core.serving.app import ServiceConfig, service_app
from core.serving.door import DoorMiddleware


class Item(BaseModel):
    x: int


def held_app(release: threading.Event, started: threading.Event):
    """A service whose one worker computes until `release` is set, and whose line has no places (refusals are
    sent at once: holding them is tested on its own below)."""
    config = ServiceConfig(max_waiting=0, timeout_s=30, refusal_hold_s=0)
    app = service_app("door test", "", config, AdmissionConfig(workers=1, max_waiting=0, timeout_s=30), ["/work"])
    app.state.admission.rng = random.Random(0)

    def compute(deadline: float) -> dict:
        started.set()
        release.wait(30)
        return {"ok": True}

    @app.post("/work")
    async def work(request: Request, item: Item) -> dict:
        return await app.state.admission.run(request, compute)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def asgi_request(path: str, body: bytes) -> tuple[dict, list[bool]]:
    """An ASGI scope for `POST path` with `body`, and a list that records each call of its `receive`."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 9),
        "server": ("test", 80), "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    return scope, []


def test_a_full_service_refuses_at_the_door_without_reading_the_body():
    release, started = threading.Event(), threading.Event()
    app = held_app(release, started)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            holding = asyncio.create_task(client.post("/work", json={"x": 1}))
            await asyncio.to_thread(started.wait, 30)

            scope, reads = asgi_request("/work", b"{not json")
            sent: list[dict] = []

            async def receive() -> dict:
                reads.append(True)
                return {"type": "http.request", "body": b"{not json", "more_body": False}

            async def send(message: dict) -> None:
                sent.append(message)

            await app(scope, receive, send)
            assert reads == [] and sent[0]["status"] == 503  # not 400: the body was never read
            headers = dict(sent[0]["headers"])
            assert int(headers[b"retry-after"]) >= 1 and headers[b"content-type"] == b"application/json"
            assert json.loads(sent[1]["body"])["error"] is True

            for body in (b"{not json", b'{"x": "not a number"}', b'{"x": 2}', b"[" * 500_000):
                refused = await client.post("/work", content=body, headers={"content-type": "application/json"})
                assert refused.status_code == 503, refused.text  # never 400 or 422 while full
                assert refused.json()["message"].startswith("the service is overloaded; retry in")
            assert (await client.get("/health")).status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert 'ragdistill_dropped_requests_total{reason="overloaded"} 5.0' in metrics.text
            assert 'ragdistill_requests_total{route="/work",status="5xx"} 5.0' in metrics.text

            release.set()
            assert (await holding).json() == {"ok": True}
            after = await client.post("/work", content=b"{not json", headers={"content-type": "application/json"})
            assert after.status_code == 400  # with room again, the request reaches the app and its validation

    asyncio.run(scenario())
    app.state.admission.pool.shutdown()


def test_refusals_are_held_before_they_are_sent_but_never_more_than_max_held_at_once():
    release, started = threading.Event(), threading.Event()
    app = held_app(release, started)
    holds: list[float] = []
    let_go = asyncio.Event()

    async def sleep(seconds: float) -> None:  # stands in for asyncio.sleep: records the hold, waits for the test
        holds.append(seconds)
        await let_go.wait()

    door = DoorMiddleware(app, app.state.admission, ["/work"], hold_s=0.5, max_held=1, sleep=sleep)

    async def refuse(sent: list[dict]) -> None:
        scope, _ = asgi_request("/work", b"{}")

        async def receive() -> dict:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await door(scope, receive, send)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            holding = asyncio.create_task(client.post("/work", json={"x": 1}))
            await asyncio.to_thread(started.wait, 30)
            first, second = [], []
            held = asyncio.create_task(refuse(first))
            while not holds:  # the first refusal is being held
                await asyncio.sleep(0)
            assert first == [] and door.held == 1
            await refuse(second)  # one is held already: the second is sent at once
            assert second[0]["status"] == 503 and holds == [0.5]
            let_go.set()
            await held
            assert first[0]["status"] == 503 and door.held == 0
            assert int(dict(first[0]["headers"])[b"retry-after"]) >= 0.5  # held no longer than its Retry-After
            release.set()
            await holding

    asyncio.run(scenario())
    app.state.admission.pool.shutdown()
