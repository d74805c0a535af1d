"""Where ragdistill keeps what it builds or converts once per machine: $RAGDISTILL_CACHE, default ~/.cache/ragdistill.

Models (`engine.models`), colbert-ai's compiled extensions, indexes of evaluated corpora and the logs of
third-party libraries (`core.log`) all live below it.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The ragdistill cache directory: $RAGDISTILL_CACHE, default ~/.cache/ragdistill."""
    return Path(os.environ.get("RAGDISTILL_CACHE") or Path.home() / ".cache" / "ragdistill").expanduser()
