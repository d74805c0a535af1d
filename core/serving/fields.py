"""Request fields both services take, declared once so that their schemas state the same constraints.

Simplified: k is capped at `MAX_K` for every service (the hosted ColBERTv2 server's own limit, which the
`dspy.ColBERTv2` client also asserts).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

MAX_K = 100
"""Most passages one request may ask for."""
MAX_QUERY_CHARS = 2000
"""Longest query or question, in characters."""
WARMUP_QUERY = "What is this collection about?"
"""What a service computes once before it accepts traffic (`core.serving.runtime.warm_up`)."""

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
