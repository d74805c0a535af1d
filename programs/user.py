"""Users' own DSPy programs: `--program pkg.module:build`, `--metric pkg.module:metric`, `--inputs a,b`.

A program spec names an importable object, `module:attribute`: a function returning a `dspy.Module`, or a
`dspy.Module` class. It may take one argument, the retriever (`build(retriever)`, given when the run indexes
a corpus), or none. A metric spec names DSPy's usual metric, `metric(example, prediction, trace=None)`; one that
takes only `(example, prediction)` is called without the trace. The program's inputs are the parameters of its
`forward` (or `--inputs`, when `forward` takes `**kwargs`); each data row is an example whose other fields are
its labels (`data.loaders.load_task_examples`).

Every way a spec can be wrong (module not found, no such attribute, not a `dspy.Module`, a metric with the
wrong arity) is one `ProgramError` line; the compile CLI prints it and exits 2.

Simplified: specs name modules importable from the working directory or the installed packages (no file
paths, `core.imports`); the default metric (`labels_match`, used when no `--metric` is given) compares every
labelled output exactly (JSON-equal), which suits classifiers and extractors better than free text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy

from core.errors import ProgramError, first_line
from core.imports import import_object

BUNDLED = ("auto", "rag", "multihop")
"""The bundled programs' names; any other `--program` is a `module:attribute` spec."""


def is_user_program(name: str) -> bool:
    """Whether a `--program` value names a user's program (`module:attribute`) rather than a bundled one."""
    return name not in BUNDLED


def _positional(function: Callable) -> tuple[int, int, bool]:
    """(required, accepted, unbounded) positional parameters of `function`."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 0, 0, True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in positional)
    unbounded = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return required, len(positional), unbounded


def takes_retriever(spec: str) -> bool:
    """Whether the builder a spec names takes the retriever (it has a positional parameter)."""
    return _positional(import_object(spec, "program"))[1] >= 1


def build_user_program(spec: str, retriever: Any = None) -> dspy.Module:
    """A fresh program from the builder a spec names, given `retriever` when it takes one.

    Raises:
        ProgramError: the spec is wrong, the builder needs other arguments, or it returns no `dspy.Module`.
    """
    build = import_object(spec, "program")
    if not callable(build):
        raise ProgramError(f"program {spec!r} is not callable: name a function or a dspy.Module class")
    required, _, _ = _positional(build)
    if required > 1:
        raise ProgramError(f"program {spec!r} takes {required} arguments: it may take the retriever, or nothing")
    try:
        program = build(retriever) if takes_retriever(spec) else build()
    except TypeError as err:
        raise ProgramError(f"program {spec!r} could not be built ({first_line(err)})") from None
    if not isinstance(program, dspy.Module):
        raise ProgramError(f"program {spec!r} returned a {type(program).__name__}, not a dspy.Module")
    if not program.predictors():
        raise ProgramError(f"program {spec!r} has no dspy.Predict inside: there is nothing to distil")
    return program


def program_inputs(program: dspy.Module, given: str | None = None) -> tuple[str, ...]:
    """The program's input fields: `--inputs` when given, else the parameters of its `forward`.

    Raises:
        ProgramError: `forward` takes `*args`/`**kwargs` (ambiguous) and no `--inputs` was given.
    """
    if given:
        return tuple(name.strip() for name in given.split(",") if name.strip())
    parameters = list(inspect.signature(program.forward).parameters.values())
    if not parameters or any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in parameters):
        raise ProgramError(
            f"cannot tell the inputs of {type(program).__name__}.forward: name the row fields it takes with --inputs"
        )
    return tuple(p.name for p in parameters)


@dataclass(frozen=True)
class Metric:
    """A user's metric, always callable as DSPy calls metrics: `metric(example, prediction, trace=None)`."""

    function: Callable
    """The user's function."""
    takes_trace: bool
    """Whether it takes the third, `trace` argument."""

    def __call__(self, example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> Any:
        if self.takes_trace:
            return self.function(example, prediction, trace)
        return self.function(example, prediction)


def load_metric(spec: str | None) -> Callable:
    """The metric a spec names, or `labels_match` for None.

    Raises:
        ProgramError: the spec is wrong, or the function cannot take (example, prediction[, trace]).
    """
    if spec is None:
        return labels_match
    function = import_object(spec, "metric")
    if not callable(function):
        raise ProgramError(f"metric {spec!r} is not callable")
    required, accepted, unbounded = _positional(function)
    if required > 3 or (accepted < 2 and not unbounded):
        raise ProgramError(
            f"metric {spec!r} takes {required} required arguments: a DSPy metric takes (example, prediction) "
            "or (example, prediction, trace)"
        )
    return Metric(function, takes_trace=unbounded or accepted >= 3)


def same_value(predicted: Any, gold: Any) -> bool:
    """Whether a predicted output equals its label, compared as JSON (pydantic models and enums as plain values)."""
    from dspy.adapters.utils import serialize_for_json

    def plain(value: Any) -> Any:
        value = serialize_for_json(value)
        return json.loads(json.dumps(value, sort_keys=True, default=str))

    return plain(predicted) == plain(gold)


def labels_match(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    """The default metric of a user's program: every labelled field the prediction has is exactly right."""
    labels = {name: value for name, value in example.labels().items() if name in prediction}
    return bool(labels) and all(same_value(prediction[name], value) for name, value in labels.items())
