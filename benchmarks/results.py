"""What every benchmark prints: its figures as JSON, stamped with the command, the commit and the machine.

    {"stamp": {"benchmark", "command", "commit", "machine": {...}, "measured"}, ...the benchmark's figures...}

`emit(figures, out)` prints that document on stdout (floats rounded to 4 digits) and, with `--out FILE`
(`out_option`), writes it there too, atomically: `docs/results/*.json` are such files, and
`python -m benchmarks.docs` writes `docs/results.md` and `docs/performance.md` from them, quoting each stamp.

- `command`: how to run it again, `python -m benchmarks.<name> ARGS` (the options that differ from their
  defaults, rebuilt from the click command, so the same whether started by `python -m` or `ragdistill bench`);
- `commit`: `git describe --always --dirty` of the checkout (`unknown` outside one);
- `machine`: cores this process may use, the CPU model, memory, GPUs (names, or none), OS and Python.

Simplified: the stamp describes the machine the script ran on, not how busy it was; a figure measured on a
shared machine says so only through its spread.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from core.atomic import write_text_atomic

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "docs" / "results"

out_option = click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the stamped JSON here (e.g. docs/results/NAME.json, read by `python -m benchmarks.docs`).",
)


def rounded(value: object, digits: int = 4) -> object:
    """`value` with every float inside it rounded, for a readable report."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    return value


def commit() -> str:
    """The checkout's commit (`git describe --always --dirty`), or `unknown` when git cannot say."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what `platform` says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpus() -> list[str]:
    """The names of the CUDA devices torch sees, if torch is already loaded; [] on a CPU machine."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]


def machine() -> dict:
    """Cores, CPU model, memory, GPUs, OS and Python of this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {
        "cores": cores,
        "cpu": cpu_model(),
        "memory_gib": round(pages * page_size / 2**30, 1),
        "gpus": gpus(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def _option_words(option: click.Option, value: object) -> list[str]:
    """How `option` set to `value` is written on a command line; [] for its default."""
    if value is None or value == option.default or not option.expose_value:
        return []
    if option.is_flag:  # an unset flag (False, no --no-... form) is its default whatever click records as such
        return [option.opts[0]] if value else option.secondary_opts[:1]
    return [max(option.opts, key=len), str(value)]


def command_line(name: str) -> str:
    """`python -m benchmarks.<name>` with the options and arguments this run was given (defaults left out).

    Rebuilt from the running click command's parameters, so it is the same however the benchmark was started
    (`python -m`, `ragdistill bench`, a test); a variadic argument goes last, after `--`.
    """
    context = click.get_current_context(silent=True)
    words, trailing = ["python", "-m", f"benchmarks.{name}"], []
    for param in context.command.params if context else []:
        value = context.params.get(param.name)
        if isinstance(param, click.Option):
            words += _option_words(param, value)
        elif param.nargs == -1 and value:
            trailing = ["--", *[str(item) for item in value]]
        elif value is not None and param.nargs != -1:
            words.append(str(value))
    return shlex.join(words + trailing)


def stamp(name: str) -> dict:
    """The stamp of a benchmark run now: which benchmark, the command, commit, machine and date."""
    return {
        "benchmark": name,
        "command": command_line(name),
        "commit": commit(),
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d"),
    }


def emit(name: str, figures: dict, out: str | os.PathLike | None) -> dict:
    """Print the stamped figures as JSON on stdout and, with `out`, write them there too (atomically).

    Args:
        name: the benchmark's module name under `benchmarks` (`report`, `index`, ...).
        figures: what it measured.
        out: a file to write the same JSON to, or None.

    Returns:
        The stamped document.
    """
    document = {"stamp": stamp(name), **rounded(figures)}
    text = json.dumps(document, indent=2)
    if out:
        write_text_atomic(out, text + "\n")
    click.echo(text)
    return document


def read_result(path: Path) -> dict | None:
    """A stamped result file, or None when it is absent."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
