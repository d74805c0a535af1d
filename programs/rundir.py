"""The run directory format, and its one owner: every file name, the manifest, saving and opening programs.

The compile pipeline writes run directories; `load_program`, evaluation and the QA service read them.
It sits below all of them (not inside `programs/compile/`) so that arrows between the rooms stay one-way.

`runs/<name>/` as `python -m programs.compile` leaves it:
- `manifest.json`: the settings, library versions, data hashes, finished stages with their timings, and
  what each stage recorded (`retriever`, `teacher`, `student`, `targets`, `report`); the index directory
  and the report are recorded relative to the run directory, so a run can move (with its index, or be
  given another copy of it: `load_program(run, index_dir=...)`);
- `teacher_program.json`, `student_program.json`: DSPy's JSON state of the compiled programs (demos,
  instructions), saved without their LMs;
- `student/`: the trained student (peft adapter or model, with its record, see `finetune.record`);
- `traces.jsonl`: the teacher traces the student was trained on, with their fingerprints (`optimizers.traces`);
  `--traces-from RUN` trains another student from them without calling the teacher;
- `report/`: the evaluation report (`programs.evaluate.report`).

`Run` writes the manifest atomically after every stage; `open_program` rebuilds the program a manifest
names (a bundled one with the settings it was compiled with, `k` and `fusion`, or a user's `module:build`,
`programs.user`) over its retriever and loads a saved state into it; `read_json` turns a missing or corrupt file
into one line. Any LM recorded in a saved state is dropped on loading: the manifest says which LM answers.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy

from core.atomic import atomic_file, write_json_atomic
from core.errors import ConfigError, RagdistillError, RunFormatError
from finetune.record import STUDENT_DIR as STUDENT_DIR  # re-exported: where a run keeps its student
from programs.rag import build_program
from programs.user import build_user_program, is_user_program
from retrieval.factory import load_retriever

MANIFEST_FILE = "manifest.json"
REPORT_DIR = "report"
USES = ("student", "teacher")
TRACES_FILE = "traces.jsonl"


def program_file(use: str) -> str:
    """The saved program of the `student` or the `teacher`."""
    return f"{use}_program.json"


def read_json(path: Path, *, what: str) -> dict:
    """The JSON object in `path`; a missing or unreadable file is a one-line `RunFormatError`."""
    if not path.is_file():
        raise RunFormatError(f"no {what} at {path}: is this a run directory written by python -m programs.compile?")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFormatError(f"cannot read {what} {path}: {err}") from None
    if not isinstance(value, dict):
        raise RunFormatError(f"{what} {path} is not a JSON object")
    return value


def read_run_manifest(run_dir: Path) -> dict:
    """The run's manifest.json."""
    return read_json(Path(run_dir) / MANIFEST_FILE, what="run manifest")


def save_program(program: dspy.Module, path: Path) -> None:
    """DSPy's `program.save(path)` (JSON state), made atomic: written beside `path`, then renamed onto it."""
    with atomic_file(path, suffix=".json") as tmp:  # DSPy picks the format by the suffix
        program.save(str(tmp))


def load_program_state(program: dspy.Module, state: dict, *, source: Path) -> None:
    """Load DSPy's saved JSON state (written by `program.save(source)`) into `program`, without its LMs."""
    program_name = type(program).__name__
    saved, expected = set(state) - {"metadata"}, {name for name, _ in program.named_parameters()}
    if saved != expected:
        raise RunFormatError(
            f"{source} does not fit the {program_name} program: it holds {sorted(saved)}, not {sorted(expected)}"
        )
    for predictor_state in state.values():
        if isinstance(predictor_state, dict) and "lm" in predictor_state:
            predictor_state["lm"] = None
    try:
        program.load_state(state)
    except (KeyError, TypeError, ValueError) as err:
        raise RunFormatError(f"{source} does not fit the {program_name} program ({err!r})") from None


def run_index_dir(run_dir: str | Path, manifest: dict) -> Path:
    """The run's index directory: recorded relative to the run directory (absolute in runs made before that)."""
    return Path(run_dir) / manifest["retriever"]["index_dir"]


def open_program(
    run_dir: Path,
    manifest: dict,
    *,
    use: str | None = None,
    retriever: Any = None,
    index_dir: str | Path | None = None,
) -> dspy.Module:
    """The program the manifest names, over its retriever (or `retriever`); with `use`, the saved state loaded.

    `index_dir` opens the manifest's retriever over another copy of the run's index.
    """
    state_path = Path(run_dir) / program_file(use) if use else None
    state = read_json(state_path, what="saved program") if state_path else None  # before the index: fail fast
    try:
        program_name = manifest["program"]
        retriever_settings = manifest.get("retriever") or {}
        searches = program_name != "closedbook" and (not is_user_program(program_name) or retriever_settings)
        if retriever is None and searches:
            retriever = load_retriever(retriever_settings["name"], index_dir or run_index_dir(run_dir, manifest))
        if is_user_program(program_name):
            program = build_user_program(program_name, retriever)
        else:
            program = build_program(
                program_name, retriever, retriever_settings.get("k", 5), **program_settings(manifest)
            )
    except RagdistillError:
        raise  # a user program's ProgramError is a TypeError too: it keeps its own message
    except (KeyError, TypeError) as err:
        raise RunFormatError(
            f"{Path(run_dir) / MANIFEST_FILE} is incomplete (missing {err}): recompile the run"
        ) from None
    if state is not None:
        load_program_state(program, state, source=state_path)
    if use == "student" and hasattr(program, "refusal_threshold"):
        learned = manifest.get("student") or {}
        program.refusal_threshold = learned.get("refusal_threshold")
        program.full_names = bool(learned.get("full_names"))
    return program


PROGRAM_SETTINGS_BEFORE: dict[str, Any] = {"fusion": "off", "copy_check": False, "offered_choices": False}
"""The bundled QA programs' compile settings (`--fusion`, `--copy-check`, `--offered-choices`), each with what runs
compiled before the setting existed were compiled with."""


def program_settings(manifest: dict) -> dict[str, Any]:
    """The run's QA program settings (`PROGRAM_SETTINGS_BEFORE`'s names), as `build_program` takes them."""
    saved = manifest.get("settings") or {}
    return {name: saved.get(name, before) for name, before in PROGRAM_SETTINGS_BEFORE.items()}


def versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour shapes a run."""
    from importlib.metadata import version

    packages = ("dspy", "torch", "transformers", "peft", "colbert-ai", "bm25s")
    return {"python": platform.python_version(), **{name: version(name) for name in packages}}


@dataclass
class Run:
    """A run directory and its manifest, saved atomically after every stage."""

    dir: Path
    """The run directory (`<out>/<name>`)."""
    manifest: dict = field(default_factory=dict)
    """What the run has recorded so far."""

    def open(self, *, resume: bool, name: str, program: str, settings: dict) -> None:
        """Start the manifest, or continue an earlier run's with `resume`; refuse to overwrite a run."""
        path = self.dir / MANIFEST_FILE
        if resume and path.is_file():
            self.manifest = json.loads(path.read_text(encoding="utf-8"))
        elif path.is_file():
            raise ConfigError(f"{self.dir} already holds a run: pass --resume to continue it or choose --name")
        self.manifest.setdefault("stages_done", [])
        self.manifest.setdefault("timings", {})
        self.manifest.update(name=name, program=program, settings=settings, versions=versions())

    def done(self, stage: str) -> bool:
        return stage in self.manifest["stages_done"]

    def finish(self, stage: str, seconds: float, **entries) -> None:
        """Record a finished stage, its timing and its manifest entries, and save the manifest."""
        self.manifest.update(entries)
        self.manifest["timings"][stage] = round(seconds, 1)
        if stage not in self.manifest["stages_done"]:
            self.manifest["stages_done"].append(stage)
        write_json_atomic(self.dir / MANIFEST_FILE, self.manifest)
