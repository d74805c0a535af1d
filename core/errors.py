"""User-facing errors shared by every ragdistill package and CLI.

A `RagdistillError` means "the user gave us something we cannot use"; its subclasses say what kind of thing,
and each is also the standard exception a Python caller would expect (`ConfigError` is a `ValueError`,
`ModelNotFoundError` a `FileNotFoundError`, ...), so `except ValueError` keeps working around our code:

| class | raised for | also a |
|---|---|---|
| `ConfigError` | a setting or option we cannot use (unknown optimizer, k < 1, bad train_kwargs) | `ValueError` |
| `DataError` | a data file or row we cannot read (missing field, bad JSON, empty split) | `ValueError` |
| `ModelNotFoundError` | a model, checkpoint or adapter that is absent or cannot be loaded | `FileNotFoundError` |
| `RunFormatError` | a run or index directory that is missing, incomplete or corrupt | `ValueError` |
| `ProgramError` | a user's DSPy program or metric that does not fit (not a `dspy.Module`, wrong arity) | `TypeError` |
| `ServiceError` | a service that cannot start or be reached | `RuntimeError` |

CLIs print any of them as one line on stderr and exit with status 2 (`exit_cleanly_on_error`); they never
show a traceback for them. Programming errors stay ordinary exceptions and keep their tracebacks.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from core.log import quiet_libraries

P = ParamSpec("P")
R = TypeVar("R")

EXIT_USAGE = 2


class RagdistillError(Exception):
    """An error caused by user input; its message is a complete, one-line explanation."""


class ConfigError(RagdistillError, ValueError):
    """A setting, option or argument value that cannot be used."""


class DataError(RagdistillError, ValueError):
    """A data file, row or split that cannot be read or used."""


class ModelNotFoundError(RagdistillError, FileNotFoundError):
    """A model, checkpoint or trained adapter that is absent or cannot be loaded."""


class RunFormatError(RagdistillError, ValueError):
    """A run or index directory that is missing, incomplete or corrupt."""


class ProgramError(RagdistillError, TypeError):
    """A user's DSPy program, builder or metric that does not fit what ragdistill calls it with."""


class ServiceError(RagdistillError, RuntimeError):
    """A service that cannot start, or a remote service that cannot be reached."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type's name if it has none), to quote in a one-line error.

    Args:
        err: any exception.

    Returns:
        Its message's first line, or its type's name when the message is empty.
    """
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def exit_cleanly_on_error(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a CLI entry point: a `RagdistillError` becomes `error: <message>` and exit status 2.

    The command first keeps known library noise off the terminal (`core.log.quiet_libraries`).

    Args:
        func: the CLI function.

    Returns:
        The wrapped function; a Ctrl-C exits with status 130 and one line.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            quiet_libraries()
            return func(*args, **kwargs)
        except RagdistillError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was kept", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
