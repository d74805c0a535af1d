"""Never paying the teacher twice: `--traces-from RUN` trains a new student on the traces RUN's teacher left.

Every distilling compile writes `traces.jsonl` (format: `optimizers.traces`) with three fingerprints: the
teacher (recorded), the program (its name, predictor signatures and the SHA-256 of `teacher_program.json`) and
the training data (the SHA-256 of the examples). A compile with `--traces-from RUN` then:
- with `--program auto`, compiles the program RUN compiled;
- checks, before writing anything, that RUN's traces were made by the same program, by RUN's saved compiled
  teacher, and on the same training examples (`check_traces_source`); any difference is one error line;
- replaces the teacher stage by a copy of RUN's `teacher_program.json` and of its manifest's teacher entry
  (`reuse_teacher`), so no teacher LM is built;
- trains the student on the saved traces (`saved_traces`), with any student settings (base model, LoRA,
  targets), and writes them again into the new run, which can serve as a source in turn;
- reports the student systems only (the teacher's figures are in RUN's report).

Simplified: the training examples must be the very ones the traces were made on (same split, size and order),
not a subset; the program's signatures are checked when the student stage opens the program.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dspy

from core.atomic import atomic_file
from core.errors import ConfigError, RunFormatError
from data.loaders import file_sha256
from optimizers.traces import check_fingerprints, data_fingerprint, program_fingerprint, read_traces, replayable
from programs.compile.config import CompileConfig
from programs.rundir import TRACES_FILE, Run, program_file, read_run_manifest


def traces_source(config: CompileConfig) -> Path:
    """The run directory named by `--traces-from` (a path, or the name of a run under `--out`), refused when it
    holds no traces."""
    source = Path(str(config.traces_from))
    if not source.is_dir() and (Path(config.out) / source).is_dir():
        source = Path(config.out) / source
    if source.resolve() == config.run_dir.resolve():
        raise ConfigError(f"--traces-from {source} is the run being compiled: choose another --name")
    if not (source / TRACES_FILE).is_file():
        raise RunFormatError(f"{source} holds no {TRACES_FILE}: give a run compiled with distillation")
    return source


def traced_program(config: CompileConfig) -> str:
    """The program of the `--traces-from` run (what `--program auto` means when traces are reused)."""
    return str(read_run_manifest(traces_source(config)).get("program"))


def fingerprints(run: Run, teacher: dspy.Module, trainset: list[dspy.Example]) -> dict[str, Any]:
    """The teacher, program and data fingerprints of traces made by `teacher` (the run's compiled teacher)."""
    state = file_sha256(run.dir / program_file("teacher"))
    return {
        "teacher": run.manifest.get("teacher", {}),
        "program": program_fingerprint(run.manifest["program"], teacher, state),
        "data": data_fingerprint(trainset),
    }


def check_traces_source(config: CompileConfig, program_name: str, trainset: list[dspy.Example]) -> None:
    """Refuse `--traces-from` traces made by another program, teacher program or training data (one line)."""
    source = traces_source(config)
    saved, _ = read_traces(source / TRACES_FILE)
    state = file_sha256(source / program_file("teacher"))
    expected = {"program": {"name": program_name, "teacher_state_sha256": state}, "data": data_fingerprint(trainset)}
    check_fingerprints(saved, expected, source / TRACES_FILE)


def reuse_teacher(run: Run, config: CompileConfig) -> dict:
    """The teacher stage of a `--traces-from` compile: RUN's compiled teacher program and teacher entry, copied."""
    source = traces_source(config)
    with atomic_file(run.dir / program_file("teacher"), suffix=".json") as copy:  # whole, or not at all
        shutil.copyfile(source / program_file("teacher"), copy)
    teacher = dict(read_run_manifest(source).get("teacher") or {})
    return {"teacher": {**teacher, "from_run": config.traces_from}}  # as given: no absolute path in a run


def saved_traces(run: Run, config: CompileConfig, teacher: dspy.Module, trainset: list[dspy.Example]) -> list[dict]:
    """RUN's traces as items `Distill` trains on, after checking every fingerprint against this run."""
    path = traces_source(config) / TRACES_FILE
    saved, records = read_traces(path)
    expected = fingerprints(run, teacher, trainset)
    check_fingerprints(saved, {key: expected[key] for key in ("program", "data")}, path)
    return replayable(records, teacher, path)
