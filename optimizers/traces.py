"""Teacher traces saved to a file and read back, so a later distillation trains without calling the teacher.

`Distill` keeps the traces it trained on (DSPy's `bootstrap_trace_data` items: example, prediction, the
predictor calls and the metric score); `write_traces` saves them with their fingerprints, `read_traces` and
`replayable` turn the file back into items `Distill.compile(..., traces=...)` trains on.

The file is JSON Lines. Line 1 is the header: `{"format": "ragdistill-traces/1", "fingerprints": {...}}`
with three fingerprints:
- `teacher`: the teacher LM that answered (its spec, recorded for the reader, never checked);
- `program`: the program's name, each predictor's signature (`inputs -> outputs`) and the SHA-256 of the
  compiled teacher program's saved state; traces are refused when any of them differs (`check_fingerprints`);
- `data`: the number of training examples and the SHA-256 of their fields in order; refused when it differs.
Then one line per training example, in training order:
`{"example": {field: value}, "input_keys": [...], "score": metric score, "failed": the program stopped on an
output that did not parse, "calls": [{"predictor": name, "inputs": {...}, "outputs": {...}, "failed": bool}]}`.
A failed call's outputs hold the unparsed `completion_text`.

Simplified: the program's final prediction is not kept, only whether it failed (targets are chosen from the
score and the calls); values must be JSON (strings, numbers, lists), which the programs' fields are.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import dspy
from dspy.teleprompt.bootstrap_trace import FailedPrediction

from core.atomic import write_text_atomic
from core.errors import ConfigError, DataError, ProgramError, RunFormatError

TRACES_FORMAT = "ragdistill-traces/1"
CHECKED = {"program": "another program", "data": "other training data"}
"""The fingerprints traces must match to be reused, and what a mismatch means."""


def _sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def data_fingerprint(examples: list[dspy.Example]) -> dict[str, Any]:
    """The number of examples and the SHA-256 of their fields and input keys, in order."""
    rows = [{"example": example.toDict(), "input_keys": sorted(example.inputs().keys())} for example in examples]
    return {"examples": len(examples), "sha256": _sha256(rows)}


def program_fingerprint(name: str, program: dspy.Module, state_sha256: str) -> dict[str, Any]:
    """The program's name, each predictor's signature and the SHA-256 of its compiled teacher state."""
    signatures = {
        predictor_name: f"{', '.join(p.signature.input_fields)} -> {', '.join(p.signature.output_fields)}"
        for predictor_name, p in program.named_predictors()
    }
    return {"name": name, "signatures": signatures, "teacher_state_sha256": state_sha256}


def check_fingerprints(saved: dict[str, Any], expected: dict[str, Any], source: Path) -> None:
    """Refuse traces whose program or data fingerprint differs from `expected`, naming the first difference."""
    for key, what in CHECKED.items():
        theirs, ours = saved.get(key) or {}, expected[key]
        for field, value in ours.items():
            if theirs.get(field) != value:
                raise ConfigError(
                    f"the traces in {source} were made by {what}: their {key} {field} is "
                    f"{json.dumps(theirs.get(field))}, this run's is {json.dumps(value)}"
                )


def _plain(outputs: Any) -> tuple[dict[str, Any], bool]:
    """A call's outputs as a dict, and whether they failed to parse."""
    if isinstance(outputs, FailedPrediction):
        return {"completion_text": outputs.completion_text}, True
    return dict(outputs.items()), False


def trace_records(trace_data: list[dict[str, Any]], program: dspy.Module) -> list[dict[str, Any]]:
    """The file's example lines for `trace_data` collected by running `program` (its predictors name the calls)."""
    names = {id(predictor): name for name, predictor in program.named_predictors()}
    records = []
    for item in trace_data:
        calls = []
        for predictor, inputs, outputs in item["trace"]:
            if id(predictor) not in names:
                raise ProgramError("cannot save traces: a traced call was made by a predictor of another program")
            plain, failed = _plain(outputs)
            name = names[id(predictor)]
            calls.append({"predictor": name, "inputs": dict(inputs), "outputs": plain, "failed": failed})
        example = item["example"]
        records.append({
            "example": example.toDict(), "input_keys": sorted(example.inputs().keys()), "score": item.get("score"),
            "failed": isinstance(item["prediction"], FailedPrediction), "calls": calls,
        })  # fmt: skip
    return records


def write_traces(path: str | os.PathLike, fingerprints: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Write the header and one line per example to `path`, atomically."""
    header = {"format": TRACES_FORMAT, "fingerprints": fingerprints}
    try:
        lines = [json.dumps(row, ensure_ascii=False) for row in [header, *records]]
    except (TypeError, ValueError) as err:
        raise DataError(f"cannot save traces as JSON: {err}") from None
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_traces(path: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header fingerprints, example lines) of a traces file.

    Args:
        path: the `traces.jsonl` of a run compiled with distillation.

    Returns:
        The header's fingerprints and the example lines, each with its `calls`.

    Raises:
        RunFormatError: the file is missing, unreadable, has no traces header, or an example line lacks its calls.
    """
    path = Path(path)
    if not path.is_file():
        raise RunFormatError(f"no teacher traces at {path}: was that run compiled with distillation?")
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFormatError(f"cannot read teacher traces {path}: {err}") from None
    if not rows or not isinstance(rows[0], dict) or rows[0].get("format") != TRACES_FORMAT:
        raise RunFormatError(f"{path} is not a ragdistill traces file (no {TRACES_FORMAT} header on its first line)")
    records = rows[1:]
    if not all(isinstance(row, dict) and isinstance(row.get("calls"), list) for row in records):
        raise RunFormatError(f"{path} has an example line without its calls: the file is damaged")
    return rows[0].get("fingerprints") or {}, records


def replayable(records: list[dict[str, Any]], program: dspy.Module, source: Path) -> list[dict[str, Any]]:
    """`bootstrap_trace_data` items rebuilt from example lines, each call made by `program`'s predictor of its name."""
    predictors = dict(program.named_predictors())
    items = []
    for index, record in enumerate(records):
        trace = []
        for call in record["calls"]:
            predictor = predictors.get(call.get("predictor"))
            if predictor is None:
                raise ProgramError(f"{source}: example {index} names predictor {call.get('predictor')!r}, "
                                      f"which the program lacks ({', '.join(predictors)})")  # fmt: skip
            outputs = call.get("outputs") or {}
            if call.get("failed"):
                outputs = FailedPrediction(completion_text=str(outputs.get("completion_text", "")))
            else:
                outputs = dspy.Prediction(**outputs)
            trace.append((predictor, dict(call.get("inputs") or {}), outputs))
        example = dspy.Example(**record.get("example", {})).with_inputs(*record.get("input_keys", []))
        prediction = FailedPrediction(completion_text="") if record.get("failed") else dspy.Prediction()
        items.append({"example_ind": index, "example": example, "prediction": prediction, "trace": trace,
                      "score": record.get("score")})  # fmt: skip
    return items
