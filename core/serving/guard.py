"""The guard in front of both services: an API key, a body size limit, and no exposure without a key.

With an API key set, every request but `GET /health` must send it, in a header (`Authorization: Bearer KEY`
or `X-API-Key: KEY`) or in the URL's query string (`?api_key=KEY`, for clients that send no headers, such
as `dspy.ColBERTv2(url=...)`), or get 401. The key is compared in constant time (`hmac.compare_digest`)
and taken out of the query string before the app sees it, so no route, log line or error message can
repeat it (the servers keep uvicorn's access log off, see `core.serving.runtime`); `redact_key(text)` hides
it wherever a client shows a URL that carries it. A body longer than
`max_body_bytes` gets 413 (by its `Content-Length`, or as soon as the bytes received pass the limit).
`check_exposure(host, api_key)` refuses to bind an interface other than loopback without an API key.

Simplified: one shared key, no users or scopes, no TLS (put a TLS proxy in front; a key in a URL is as
secret as the URL, so prefer the header where the client can send one); /health stays open so that a load
balancer can probe it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ConfigError
from core.serving.envelope import error_response

API_KEY_ENV = "RAGDISTILL_API_KEY"
QUERY_KEY = b"api_key"
"""The query parameter that may carry the API key."""
OPEN_PATHS = frozenset({"/health"})
KEY_IN_URL = re.compile(r"([?&]api_key=)[^&#\s]*")


def redact_key(text: str) -> str:
    """`text` with the value of every `api_key=` URL parameter in it replaced by `***` (for messages and /health)."""
    return KEY_IN_URL.sub(r"\1***", text)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback interface (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse to listen beyond this machine without an API key (a one-line `ConfigError`)."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"--host {host} exposes the service to the network: set --api-key or {API_KEY_ENV} (see docs/serving.md)"
        )


def take_query_key(query_string: bytes) -> tuple[bytes | None, bytes]:
    """The `api_key` parameter's value (None if absent) and the query string without it (others byte for byte)."""
    sent, kept = None, []
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == QUERY_KEY:
            sent = unquote_to_bytes(value.replace(b"+", b" "))
        else:
            kept.append(part)
    return sent, b"&".join(kept)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class GuardMiddleware:
    """ASGI middleware: the API key check and the body size limit (see the module docstring)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value for name, value in scope["headers"]}
        sent_in_query, rest = take_query_key(scope["query_string"])
        if sent_in_query is not None:
            scope["query_string"] = rest  # in place: the metrics read what the router writes into this scope
        if self.api_key is not None and scope["path"] not in OPEN_PATHS and not self.authorized(headers, sent_in_query):
            refused = error_response(401, "a valid API key is required", **{"WWW-Authenticate": "Bearer"})
            await refused(scope, receive, send)
            return
        length = headers.get("content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body_bytes:
            message = str(BodyTooLarge(self.max_body_bytes).detail) if length.isdigit() else "bad Content-Length"
            await error_response(413 if length.isdigit() else 400, message)(scope, receive, send)
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

    def authorized(self, headers: dict[str, bytes], sent_in_query: bytes | None) -> bool:
        """Whether the request carries the key, in a header or the query string, compared in constant time."""
        sent = headers.get("x-api-key") or headers.get("authorization", b"").removeprefix(b"Bearer ").strip()
        return hmac.compare_digest(sent or sent_in_query or b"", self.api_key)
