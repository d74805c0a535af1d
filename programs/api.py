"""Use a compiled program from Python or from an agent: `qa = load_program("runs/world")`.

`load_program(run_dir)` reads a run directory written by `python -m programs.compile` (format:
`programs.rundir`): it rebuilds the program named in `manifest.json` over the retriever it names,
loads the program's saved DSPy JSON state (demos and instructions) and attaches an LM: the LoRA student
(`use="student"`, the default) or the teacher (`use="teacher"`). The result, a `CompiledQA`, answers
with `qa(question)` and becomes a tool for `dspy.ReAct` with `qa.as_tool()`; a run of a user's own program
gives a `CompiledProgram`, called with the program's inputs (`program(ticket="...")`), also a tool.

The LM always comes from the manifest, never from the JSON state: any LM recorded there is dropped,
because loading it could import arbitrary classes and it names the machine that compiled the run.

A run directory holds no path of the machine that compiled it: the index is recorded relative to the run
directory (so a run copied together with its index still finds it) and `load_program(run, index_dir=...)`
opens another copy of the index; the student's base model is a spec (`smollm2`, a hub id), resolved here.

Simplified: a program is answered under `dspy.context(lm=...)`, one question at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy

from core.errors import ConfigError, RunFormatError
from programs.rundir import STUDENT_DIR, USES, open_program, read_run_manifest
from programs.user import is_user_program


@dataclass
class CompiledProgram:
    """A compiled program together with the LM it was compiled for: call it with the program's inputs."""

    program: dspy.Module
    """The compiled program, with its demos and instructions."""
    lm: dspy.BaseLM
    """The LM that answers."""
    adapter: dspy.Adapter | None = None
    """How prompts are formatted for `lm` (students need `finetune.adapter.StudentAdapter`); None: DSPy's."""
    inputs: tuple[str, ...] = ()
    """The program's input fields (what `as_tool` asks an agent for)."""

    def __call__(self, *args: Any, **inputs: Any) -> dspy.Prediction:
        """The program's prediction for these inputs, answered by `lm`."""
        with dspy.context(lm=self.lm, adapter=self.adapter or dspy.settings.adapter):
            return self.program(*args, **inputs)

    def as_tool(self, name: str = "run_program", desc: str | None = None) -> dspy.Tool:
        """This program as a `dspy.Tool` taking its input fields (strings) and returning its outputs as a dict."""

        def run_program(**inputs: Any) -> dict[str, Any]:
            return dict(self(**inputs).toDict())

        desc = desc or f"Run the compiled {type(self.program).__name__} program on {', '.join(self.inputs)}."
        args = {field: {"type": "string"} for field in self.inputs}
        return dspy.Tool(run_program, name=name, desc=desc, args=args, arg_types=dict.fromkeys(self.inputs, str))


@dataclass
class CompiledQA(CompiledProgram):
    """A compiled retrieve-then-answer program: call it with a question."""

    inputs: tuple[str, ...] = ("question",)

    def __call__(self, question: str) -> dspy.Prediction:
        """`answer`, `context` (passages as the LM saw them) and `passages` (`Hit`s) for `question`."""
        return super().__call__(question=question)

    def as_tool(self, name: str = "answer_question", desc: str | None = None) -> dspy.Tool:
        """This QA system as a `dspy.Tool`: it returns the answer and the titles of the passages it read."""

        def answer_question(question: str) -> dict[str, Any]:
            prediction = self(question)
            return {"answer": prediction.answer, "sources": [hit.title for hit in prediction.passages]}

        desc = desc or "Look up a factual question in the document collection; returns a short answer and its sources."
        return dspy.Tool(answer_question, name=name, desc=desc)


def load_program(
    run_dir: str | Path,
    use: str = "student",
    retriever: Any = None,
    index_dir: str | Path | None = None,
    lm: dspy.BaseLM | str | None = None,
) -> CompiledProgram:
    """The program compiled in `run_dir`, answering with its student or teacher LM: a `CompiledQA` for the
    bundled programs (`qa(question)`), a `CompiledProgram` for a user's own (`program(**inputs)`).

    `retriever` replaces the one the manifest names (any object with `search(query, k)`, a
    `dspy.ColBERTv2` client or a server URL, with `?api_key=KEY` for a guarded one); `index_dir` opens the
    manifest's retriever over another copy of the run's index (e.g. when the run was copied without it).
    `lm` replaces the LM: a `dspy.BaseLM`, or the base URL of an OpenAI-compatible server (vLLM, SGLang,
    TGI) serving the run's student exported by `finetune.export`.
    """
    run_dir = Path(run_dir)
    if use not in USES:
        raise ConfigError(f"use must be one of {', '.join(USES)}, got {use!r}")
    manifest = read_run_manifest(run_dir)
    program = open_program(run_dir, manifest, use=use, retriever=retriever, index_dir=index_dir)
    from finetune.adapter import StudentAdapter

    if isinstance(lm, str):
        lm = served_student_lm(run_dir, manifest, lm)
    lm = lm or (run_student_lm(run_dir, manifest) if use == "student" else run_teacher_lm(manifest))
    if is_user_program(manifest["program"]):
        return CompiledProgram(program, lm, StudentAdapter(), tuple(manifest.get("inputs") or ()))
    return CompiledQA(program=program, lm=lm, adapter=StudentAdapter())


def run_student_lm(run_dir: Path, manifest: dict) -> dspy.BaseLM:
    """The run's LoRA student: the base model it was trained from plus the adapter directory in `run_dir`."""
    from finetune.lm import StudentLM  # imported here: torch and peft load only when a student is served

    try:
        student = manifest["student"]
        base_model = student.get("model_used") or student["spec"]
    except (KeyError, TypeError, AttributeError):
        raise RunFormatError("the run manifest names no student (student.spec): recompile the run") from None
    return StudentLM.from_base(
        base_model, run_dir / student.get("adapter_dir", STUDENT_DIR), **student_backend(student)
    )


def student_backend(student: dict) -> dict[str, str]:
    """The backend and compute type a run's manifest records for its student (runs from before: transformers)."""
    return {"backend": student.get("backend", "transformers"), "compute_type": student.get("compute_type", "auto")}


def served_student_lm(run_dir: Path, manifest: dict, api_base: str) -> dspy.BaseLM:
    """The run's exported student answering from the OpenAI-compatible server at `api_base`, capped as trained."""
    from finetune.lm import DEFAULT_MAX_NEW_TOKENS
    from finetune.record import read_student_record
    from finetune.served import ServedStudentLM

    adapter_dir = (manifest.get("student") or {}).get("adapter_dir", STUDENT_DIR)
    train_config = read_student_record(run_dir / adapter_dir).get("train_config", {})
    return ServedStudentLM(api_base, max_tokens=train_config.get("max_target_tokens") or DEFAULT_MAX_NEW_TOKENS)


def run_teacher_lm(manifest: dict, cache: bool = True) -> dspy.BaseLM:
    """The run's teacher LM, from the spec (and LiteLLM `api_base`, if any) it was compiled with.

    `cache=False` leaves DSPy's response cache out: every call is really computed (the report times them).
    """
    from engine.teacher import make_teacher

    try:
        teacher = manifest["teacher"]
        spec = teacher["spec"]
    except (KeyError, TypeError):
        raise RunFormatError("the run manifest names no teacher (teacher.spec): recompile the run") from None
    return make_teacher(spec, api_base=teacher.get("api_base"), cache=cache)
