"""Progress lines, and a log file for what third-party libraries print.

Progress goes to stderr so that stdout stays for results (tables, JSON). A headline names a stage
(`==> stage index`); a detail line is indented under it. Simplified on purpose: no levels, no handlers.

Libraries that talk a lot (colbert-ai prints hundreds of lines per index build, some from C++ through
faiss) run inside `library_output_to_log()`: their stdout and stderr, at the file-descriptor level so
C/C++ output is caught too, go to one log file per process under `<cache>/logs/`, whose path is said once.
Simplified: the redirection is process-wide while it lasts (another thread printing then is logged too).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import click

from core.cache import cache_dir


def say(message: str, *, detail: bool = False) -> None:
    """Print one progress line on stderr: a headline (`==> message`), or with `detail` an indented line."""
    prefix = "    " if detail else click.style("==> ", fg="cyan")
    click.echo(prefix + message, err=True)


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
    """Send everything printed inside the block (Python and C/C++, stdout and stderr) to `library_log()`."""
    path = library_log()
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
