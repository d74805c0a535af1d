"""User-facing errors shared by every ragdistill package and CLI.

A `RagdistillError` means "the user gave us something we cannot use" (a malformed file, an unknown
model id, an absent index). CLIs print it as one line on stderr and exit with status 2; they never
show a traceback for it. Programming errors stay ordinary exceptions and keep their tracebacks.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USAGE = 2


class RagdistillError(Exception):
    """An error caused by user input; its message is a complete, one-line explanation."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), to quote in a one-line error."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def exit_cleanly_on_error(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a CLI entry point: a `RagdistillError` becomes `error: <message>` and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RagdistillError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was kept", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
