"""What every retriever shares: the `Hit` it returns, the `Retriever` protocol, the check of `k`.

All retrievers over one index directory (see retrieval/indexdir.py) answer the same shape, so programs,
metrics, the server and the reports never care which one they hold. `retrieval.factory` opens one by name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from core.errors import ConfigError


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with the retriever's score (higher is better)."""

    pid: str
    title: str
    text: str
    score: float

    def as_context(self) -> str:
        """The passage as shown to an LM: `title | text`."""
        return f"{self.title} | {self.text}"

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Retriever(Protocol):
    """Anything that finds passages for a query."""

    def search(self, query: str, k: int = 5) -> list[Hit]: ...

    def search_batch(self, queries: list[str], k: int = 5) -> list[list[Hit]]: ...


def check_k(k: object, *, max_k: int = 100) -> int:
    """Validate a user-supplied k (1..max_k) and return it as an int.

    Args:
        k: the value as given (an int, or text from a query string or flag).
        max_k: the largest k accepted.

    Returns:
        k as an int.

    Raises:
        ConfigError: k is not an integer, or is outside 1..max_k.
    """
    try:
        k_int = int(str(k))
    except ValueError:
        raise ConfigError(f"k must be an integer between 1 and {max_k}, got {k!r}") from None
    if not 1 <= k_int <= max_k:
        raise ConfigError(f"k must be between 1 and {max_k}, got {k_int}")
    return k_int
