"""The one error envelope of both services: every error status is answered with the same JSON shape.

    {"error": true, "message": "the service is overloaded; retry in 3 s"}

`error` is always `true` (so `body.get("error")` tells an error from an answer, as the `dspy.ColBERTv2`
client does) and `message` is one line for a person. The status code says what kind of error it is; 503
also carries `Retry-After`. `error_responses(...)` declares statuses in a route's OpenAPI entry with this
model, so the schema tells the truth.

Simplified: no machine-readable error code beside the HTTP status (each status means one thing here).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel

DESCRIPTIONS = {
    400: "The body is not JSON (or, for search, a parameter is invalid).",
    401: "The API key is missing or wrong.",
    413: "The request body is too large.",
    422: "The request does not fit the schema.",
    499: "The client left before its request was computed (never received by a client).",
    500: "The service failed; see its log.",
    503: "Overloaded: retry after `Retry-After` seconds (jittered, so that refused clients spread out).",
    504: "The request's deadline passed before it was answered.",
}


class ErrorEnvelope(BaseModel):
    """Every error answer of both services."""

    error: Literal[True] = True
    message: str


def error_body(message: str) -> dict[str, Any]:
    """The envelope for `message`, as JSON-ready data."""
    return {"error": True, "message": message}


def error_response(status: int, message: str, **headers: str) -> JSONResponse:
    """A JSON response with the envelope for `message`."""
    return JSONResponse(error_body(message), status_code=status, headers=headers or None)


def error_responses(*statuses: int, api_key: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring `statuses` (and 401 when a key is required) with the envelope."""
    retry_after = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
    declared = {*statuses, *([401] if api_key else [])}
    return {
        status: {
            "model": ErrorEnvelope,
            "description": DESCRIPTIONS[status],
            **({"headers": retry_after} if status == 503 else {}),
        }
        for status in sorted(declared)
    }
