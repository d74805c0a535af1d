"""Atomic writes: build an artifact under a temporary name, then rename it into place; clear what kill -9 left.

An interrupted run therefore leaves either the old artifact or the new one, never half of one.
Renames are atomic on POSIX when source and target share a file system, so temporaries are created
next to their target, as hidden entries named after it and after the process writing them:
`.{name}.tmp-{pid}-{random}`. A process killed with SIGKILL cannot remove its temporaries, so every
writer first removes those of its target whose process is gone (one `note:` line says so); a temporary
whose process still runs is never touched. Scratch directories elsewhere (`scratch_dir`, e.g. a trainer's
checkpoints in the system temp directory) carry the pid the same way and are cleared the same way.

Simplified: a process counts as alive when `os.kill(pid, 0)` finds it on this machine, so a pid reused by
another process only delays the clean-up, and temporaries on a file system shared between machines
could be taken for stale while another machine writes them (write artifacts from one machine at a time).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.log import say


def _read_umask() -> int:
    mask = os.umask(0)  # the only portable way to read it: set and restore, once, at import
    os.umask(mask)
    return mask


UMASK = _read_umask()
"""The process's umask: an artifact gets the mode a plain `open()` or `mkdir()` would give it, not the private
mode of a temporary (`mkstemp` makes 0600, `mkdtemp` 0700)."""


def temp_stem(target: Path) -> str:
    """The name every temporary of `target` starts with, before its owner's pid: `.{name}.tmp-`."""
    return f".{target.name}.tmp-"


def process_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def remove_stale(directory: Path, stem: str) -> list[Path]:
    """Remove the entries `{stem}{pid}-*` of `directory` whose process is gone; say so in one `note:` line."""
    if not directory.is_dir():
        return []
    stale = []
    for entry in directory.iterdir():
        pid = entry.name[len(stem) :].partition("-")[0] if entry.name.startswith(stem) else ""
        if pid.isdigit() and not process_alive(int(pid)):
            stale.append(entry)
    for entry in stale:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if stale:
        names = ", ".join(entry.name for entry in stale)
        say(f"note: removed {len(stale)} temporaries in {directory} left by killed processes: {names}", detail=True)
    return stale


@contextmanager
def scratch_dir(stem: str, directory: str | os.PathLike | None = None) -> Iterator[Path]:
    """A temporary directory `{stem}{pid}-*` (in `directory`, else the system's), removed after the block.

    Stale ones of the same stem, left by killed processes, are removed first.
    """
    directory = Path(directory or tempfile.gettempdir())
    remove_stale(directory, stem)
    with tempfile.TemporaryDirectory(prefix=f"{stem}{os.getpid()}-", dir=directory) as scratch:
        yield Path(scratch)


@contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent, temp_stem(target))
    tmp = Path(tempfile.mkdtemp(prefix=f"{temp_stem(target)}{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f"{temp_stem(target)}{os.getpid()}-old")
    tmp.chmod(0o777 & ~UMASK)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path` (ending in `suffix`); what is written there replaces `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, temp_stem(path))
    fd, tmp = tempfile.mkstemp(prefix=f"{temp_stem(path)}{os.getpid()}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if Path(tmp).exists():
            os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
