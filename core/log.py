"""Progress lines, how many of them to show, and a log file for what third-party libraries print.

Progress goes to stderr so that stdout stays for results (tables, JSON). A headline names a stage
(`==> stage index`); a detail line is indented under it.

Verbosity (`-q`/`-v` of the `ragdistill` command, `verbosity_level`) is one of `QUIET` (no progress lines: only
results and errors), `NORMAL` and `VERBOSE` (library output on the terminal too). It is kept in the environment
variable `RAGDISTILL_VERBOSITY`, so processes a command starts (training workers, service workers) inherit it.

Libraries that talk a lot (colbert-ai prints hundreds of lines per index build, some from C++ through
faiss) run inside `library_output_to_log()`: their stdout and stderr, at the file-descriptor level so
C/C++ output is caught too, go to one log file per process under `<cache>/logs/`, whose path is said once.
`quiet_libraries()`, which every CLI runs first (`core.errors.exit_cleanly_on_error`), keeps the rest of the
known library noise off the terminal: Python's deprecation warnings (`DeprecationWarning`, `FutureWarning`:
notes to the developers of the code calling a library, never to its user) and DSPy's log lines go to the same
log file, and transformers' own warnings and Hugging Face progress bars are switched off through their
environment variables (`TRANSFORMERS_VERBOSITY=error`, `HF_HUB_DISABLE_PROGRESS_BARS=1`) unless the user set
those, or asked for `-v`.

Simplified on purpose: three levels, no handlers; the redirection is process-wide while it lasts (another
thread printing then is logged too); transformers' warnings are switched off rather than logged (its handler
writes to the terminal and cannot be redirected without importing transformers in every command).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import click

from core.cache import cache_dir

QUIET, NORMAL, VERBOSE = -1, 0, 1
VERBOSITY_ENV = "RAGDISTILL_VERBOSITY"
LOGGED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
"""Warning categories that go to the log file rather than the terminal (below `VERBOSE`)."""
QUIET_LIBRARY_ENV = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
"""Library settings `quiet_libraries` applies where the user has not set them."""


def verbosity() -> int:
    """The current verbosity: `QUIET`, `NORMAL` (the default) or `VERBOSE`.

    Returns:
        The level from `RAGDISTILL_VERBOSITY`, clamped to the three levels (NORMAL when unset or unreadable).
    """
    try:
        level = int(os.environ.get(VERBOSITY_ENV, NORMAL))
    except ValueError:
        return NORMAL
    return max(QUIET, min(VERBOSE, level))


@contextmanager
def verbosity_level(level: int) -> Iterator[None]:
    """Use `level` inside the block (and in the processes started inside it), then restore the previous one.

    Args:
        level: `QUIET`, `NORMAL` or `VERBOSE`.
    """
    previous = os.environ.get(VERBOSITY_ENV)
    os.environ[VERBOSITY_ENV] = str(level)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(VERBOSITY_ENV, None)
        else:
            os.environ[VERBOSITY_ENV] = previous


def say(message: str, *, detail: bool = False) -> None:
    """Print one progress line on stderr: a headline (`==> message`), or with `detail` an indented line.

    Nothing is printed at `QUIET`.
    """
    if verbosity() <= QUIET:
        return
    prefix = "    " if detail else click.style("==> ", fg="cyan")
    click.echo(prefix + message, err=True)


def progress_bars() -> bool:
    """Whether progress bars are shown: not at `QUIET` (for `tqdm(..., disable=not progress_bars())`)."""
    return verbosity() > QUIET


@functools.cache
def library_log() -> Path:
    """This process's log file for third-party output (created, and its path said, on first use)."""
    command = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-c") else "python"
    if command == "__main__":
        command = Path(sys.argv[0]).parent.name
    path = cache_dir() / "logs" / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    say(f"library output is logged to {path}", detail=True)
    return path


@contextmanager
def library_output_to_log() -> Iterator[Path]:
    """Send everything printed inside the block (Python and C/C++, stdout and stderr) to `library_log()`.

    At `VERBOSE` nothing is redirected: the library's output stays on the terminal.
    """
    path = library_log()
    if verbosity() >= VERBOSE:
        yield path
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    path.parent.mkdir(parents=True, exist_ok=True)  # the cache may have moved (tests point it at temp dirs)
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with redirect_stdout(log), redirect_stderr(log):
                yield path
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _append_to_log(text: str) -> None:
    path = library_log()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(text)


class LibraryLogHandler(logging.Handler):
    """A `logging` handler that appends each record to `library_log()`."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _append_to_log(self.format(record) + "\n")
        except OSError:
            self.handleError(record)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """`warnings.showwarning` for CLIs: deprecation notes to the log file, every other warning as Python shows it."""
    if issubclass(category, LOGGED_WARNINGS) and verbosity() < VERBOSE:
        _append_to_log(warnings.formatwarning(message, category, filename, lineno, line))
        return
    try:
        (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))
    except OSError:  # the terminal went away: as Python's own showwarning, say nothing
        pass


def quiet_libraries() -> None:
    """Keep known library noise off the terminal of a command (the module docstring lists what and where to).

    Below `VERBOSE`: deprecation warnings and DSPy's log lines (once DSPy is imported, which every command that
    runs a program has done by then) go to `library_log()`; transformers' warnings and Hugging Face progress
    bars are switched off where the user has not set `TRANSFORMERS_VERBOSITY` / `HF_HUB_DISABLE_PROGRESS_BARS`.
    Safe to call more than once.
    """
    if verbosity() >= VERBOSE:
        return
    for name, value in QUIET_LIBRARY_ENV.items():
        os.environ.setdefault(name, value)
    transformers_logging = sys.modules.get("transformers.utils.logging")  # read the variables on import: too late
    if transformers_logging is not None and os.environ["TRANSFORMERS_VERBOSITY"] == "error":
        transformers_logging.set_verbosity_error()
    if transformers_logging is not None and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
        transformers_logging.disable_progress_bar()
    dspy_logger = logging.getLogger("dspy")
    if "dspy" in sys.modules and not any(isinstance(h, LibraryLogHandler) for h in dspy_logger.handlers):
        handler = LibraryLogHandler()  # DSPy sets its handlers up on import (replacing others): so only after it
        handler.setFormatter(next((h.formatter for h in dspy_logger.handlers if h.formatter), None))
        dspy_logger.handlers = [handler]
    warnings.showwarning = _show_warning
