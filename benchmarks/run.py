"""A compiled run's figures as one stamped JSON: compile it (or take one already compiled), evaluate it, record.

    python -m benchmarks.run [--eval-limit 60] [--out docs/results/FILE.json] -- [programs.compile options]
    python -m benchmarks.run --record runs/world [--eval-limit 200] [--out docs/results/FILE.json]

After `--`, the options of `python -m programs.compile`: the run is compiled in a child process (its output on
stderr) and timed end to end. With `--record RUN_DIR` nothing is compiled. Then, with `--eval-limit N`, the
run's students are scored on the first N questions of its test data (`python -m programs.evaluate RUN --limit N
--no-teacher --baseline-limit 1`, the run's own retriever, report in `RUN/report-<N>/`).

Printed JSON (`benchmarks.results.emit`): the compile command and wall time, the run's settings, program,
models, stage timings, training and targets (from `manifest.json`), its own report's summary, and the
evaluation's summary. These are the figures of `docs/results.md` (default run, variants, HotpotQA, SQuAD).

Simplified: one compile per call, no repetitions; a recorded run's wall time is the sum of its stage timings.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import click

from benchmarks.report import summary
from benchmarks.results import emit, out_option
from core.errors import RunFormatError, ServiceError, exit_cleanly_on_error
from programs.compile.config import CompileConfig
from programs.rundir import MANIFEST_FILE, REPORT_DIR

REPORT_JSON = "report.json"
STDERR_FD = 2
BUNDLED_SPLITS = ("train", "dev", "test")
MANIFEST_KEYS = ("name", "settings", "program", "program_choice", "timings", "training", "targets", "data")


def run_dir_of(compile_args: tuple[str, ...]) -> Path:
    """Where `python -m programs.compile ARGS` writes its run: `--out` / `--name`, else their defaults."""
    defaults = {field.name: field.default for field in dataclasses.fields(CompileConfig)}
    values = {"out": defaults["out"], "name": defaults["name"]}
    for index, arg in enumerate(compile_args):
        for key in values:
            if arg == f"--{key}" and index + 1 < len(compile_args):
                values[key] = compile_args[index + 1]
            elif arg.startswith(f"--{key}="):
                values[key] = arg.split("=", 1)[1]
    return Path(values["out"]) / values["name"]


def run_module(module: str, args: list[str]) -> float:
    """`python -m module ARGS` in a child process, its output on our stderr; its wall seconds.

    Raises:
        ServiceError: the command failed.
    """
    command = [sys.executable, "-m", module, *args]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=STDERR_FD, check=False)  # our stdout carries only the JSON
    if done.returncode != 0:
        raise ServiceError(f"`{shlex.join(['python', '-m', module, *args])}` failed (exit {done.returncode})")
    return time.perf_counter() - started


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise RunFormatError(f"{path} is missing: is {path.parent} a finished compiled run?")
    return json.loads(path.read_text(encoding="utf-8"))


def evaluation_args(run_dir: Path, manifest: dict, limit: int) -> list[str]:
    """`programs.evaluate` options scoring the run's students on the first `limit` questions of its test data."""
    settings = manifest.get("settings", {})
    args = [str(run_dir), "--limit", str(limit), "--no-teacher", "--baseline-limit", "1"]
    args += [
        "--retrievers",
        manifest.get("retriever", {}).get("name", "colbert"),
        "--out",
        str(run_dir / f"report-{limit}"),
    ]
    test = settings.get("test", "test")
    if test not in BUNDLED_SPLITS:
        args += ["--data", test, "--corpus", settings["corpus"]]
    elif test != "test":
        args += ["--split", test]
    return args


def record(run_dir: Path, compile_args: tuple[str, ...] | None, wall_s: float | None, eval_limit: int | None) -> dict:
    """The run's figures (module docstring), evaluating it first when `eval_limit` is given."""
    manifest = read_json(run_dir / MANIFEST_FILE)
    figures = {
        "run": str(run_dir),
        "compile_command": shlex.join(["python", "-m", "programs.compile", *compile_args]) if compile_args else None,
        "compile_wall_s": wall_s if wall_s is not None else sum(manifest.get("timings", {}).values()),
        **{key: manifest.get(key) for key in MANIFEST_KEYS},
        "teacher": (manifest.get("teacher") or {}).get("model_used"),
        "student": (manifest.get("student") or {}).get("model_used"),
        "retriever": (manifest.get("retriever") or {}).get("name"),
        "report": summary(read_json(run_dir / REPORT_DIR / REPORT_JSON)),
        "evaluation": None,
    }
    if eval_limit:
        args = evaluation_args(run_dir, manifest, eval_limit)
        run_module("programs.evaluate", args)
        evaluation = summary(read_json(run_dir / f"report-{eval_limit}" / REPORT_JSON))
        figures["evaluation"] = {"command": shlex.join(["python", "-m", "programs.evaluate", *args]), **evaluation}
    return figures


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--record", "recorded", type=click.Path(file_okay=False, path_type=Path), help="A compiled run.")
@click.option("--eval-limit", type=click.IntRange(1), default=None, help="Evaluate the students on N questions.")
@out_option
@click.argument("compile_args", nargs=-1, type=click.UNPROCESSED)
@exit_cleanly_on_error
def main(recorded: Path | None, eval_limit: int | None, out: str | None, compile_args: tuple[str, ...]) -> None:
    """Compile a run with COMPILE_ARGS (or take --record RUN_DIR), evaluate it, and print its figures as JSON."""
    if recorded is not None and compile_args:
        raise RunFormatError("give either --record RUN_DIR or compile options after --, not both")
    wall_s = None
    if recorded is None:
        wall_s = run_module("programs.compile", list(compile_args))
    run_dir = recorded if recorded is not None else run_dir_of(compile_args)
    emit("run", record(run_dir, compile_args or None, wall_s, eval_limit), out)


if __name__ == "__main__":
    main()
