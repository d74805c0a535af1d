"""Evaluate a run of a user's own DSPy program: the user's metric for every system, field by field, with cost.

`evaluate_program_run(run_dir, examples)` rebuilds the run's systems from its directory and runs each on the
same held-out examples (the same systems as a QA run, `programs.evaluate.evaluation`):

- `teacher_zero_shot`  the program with the teacher LM and no demos;
- `teacher_compiled`   the program the teacher-side optimizers compiled;
- `student_base`       the student's base model, untrained;
- `student_distilled`  the distilled student.

For each system `score_items` gives the user's metric (mean, in percent, with a bootstrap interval), the
accuracy of every labelled output field (`field_accuracy`: JSON-equal to the label, `programs.user.same_value`),
the share of choice-valued outputs (`Literal`, `Enum`, `bool`) that are allowed values (`choice_validity`,
over every predictor call of the items that finished), how many items failed to parse (`parse_failures`,
DSPy's `AdapterParseError`) or failed otherwise (`errors`, with the first message), latency, items per second,
and the LM tokens per item. `cost` puts each system's tokens and seconds per item next to the compiled
teacher's.

Simplified: an item whose program raised scores 0 and has no field values; token counts come from the LM's
history, shared equally among the items answered together (as in the QA evaluation).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dspy
import numpy as np
from dspy.utils.exceptions import AdapterParseError
from tqdm import tqdm

from core.errors import DataError, first_line
from core.log import say
from engine.local import engine_label
from finetune.prompt import choices
from programs.api import run_student_lm, run_teacher_lm, student_backend
from programs.evaluate.baselines import questions_for
from programs.rundir import open_program, program_file, read_run_manifest
from programs.user import load_metric, same_value


@dataclass
class ItemRecord:
    """One system's answer to one held-out example."""

    score: float
    """The user's metric (0 when the program raised)."""
    fields: dict[str, bool]
    """Labelled output field -> whether the prediction got it exactly right (empty when the program raised)."""
    latency_s: float
    failure: str | None = None
    """"parse" (an output the adapter could not read), another exception's first line, or None."""
    prediction: dict[str, Any] = field(default_factory=dict)
    choices: tuple[int, int] = (0, 0)
    """(valid, all) choice-valued outputs (`Literal`, `Enum`, `bool`) of the item's predictor calls."""


def choice_counts(trace: list[tuple]) -> tuple[int, int]:
    """(valid, all) choice-valued outputs among the predictor calls of a DSPy trace."""
    valid = total = 0
    for predictor, _, outputs in trace:
        for name, spec in predictor.signature.output_fields.items():
            allowed = choices(spec.annotation)
            if allowed is not None:
                total += 1
                valid += any(outputs.get(name) == value for _, value in allowed)
    return valid, total


def answer_item(program: dspy.Module, lm: dspy.BaseLM, adapter: dspy.Adapter, metric, example: dspy.Example
                ) -> ItemRecord:  # fmt: skip
    """Run `program` on one example under `lm` and score it."""
    started, trace = time.perf_counter(), []
    try:
        with dspy.context(lm=lm, adapter=adapter, trace=trace):
            prediction = program(**example.inputs())
    except AdapterParseError:
        return ItemRecord(0.0, {}, time.perf_counter() - started, failure="parse")
    except Exception as err:  # a user's program may raise anything; the report counts and quotes it
        return ItemRecord(0.0, {}, time.perf_counter() - started, failure=f"{type(err).__name__}: {first_line(err)}")
    latency = time.perf_counter() - started
    labels = {name: value for name, value in example.labels().items() if name in prediction}
    fields = {name: same_value(prediction[name], value) for name, value in labels.items()}
    score = float(metric(example, prediction))
    return ItemRecord(score, fields, latency, prediction=prediction.toDict(), choices=choice_counts(trace))


def score_items(records: list[ItemRecord], wall_s: float, tokens: tuple[int | None, int | None]) -> dict[str, Any]:
    """One system's figures from its item records (see the module docstring)."""
    from programs.evaluate.scoring import bootstrap_ci

    scores = [100.0 * record.score for record in records]
    names = sorted({name for record in records for name in record.fields})
    failures = [record.failure for record in records if record.failure]
    latencies = [record.latency_s for record in records]
    count = len(records)
    return {
        "items": count,
        "score": float(np.mean(scores)),
        "score_ci": list(bootstrap_ci(scores)),
        "field_accuracy": {
            name: 100.0 * float(np.mean([record.fields.get(name, False) for record in records])) for name in names
        },
        "choice_validity": _share(sum(r.choices[0] for r in records), sum(r.choices[1] for r in records)),
        "parse_failures": sum(failure == "parse" for failure in failures),
        "parse_failure_rate": sum(failure == "parse" for failure in failures) / count,
        "errors": sum(failure != "parse" for failure in failures),
        "first_error": next((failure for failure in failures if failure != "parse"), None),
        "latency_p50_s": float(np.percentile(latencies, 50)),
        "latency_p95_s": float(np.percentile(latencies, 95)),
        "items_per_s": count / max(wall_s, 1e-9),
        "tokens_in_mean": tokens[0] / count if tokens[0] is not None else None,
        "tokens_out_mean": tokens[1] / count if tokens[1] is not None else None,
    }


def _share(part: int, whole: int) -> float | None:
    """`part` over `whole` in percent; None when there is nothing to count."""
    return 100.0 * part / whole if whole else None


def _tokens(lm: dspy.BaseLM, since: int) -> tuple[int | None, int | None]:
    usages = [entry.get("usage") or {} for entry in getattr(lm, "history", [])[since:]]
    tokens_in = sum(u.get("prompt_tokens") or 0 for u in usages)
    tokens_out = sum(u.get("completion_tokens") or 0 for u in usages)
    return tokens_in or None, tokens_out or None


def run_system(name: str, program: dspy.Module, lm: dspy.BaseLM, metric, examples: list[dspy.Example],
               threads: int) -> tuple[dict[str, Any], list[ItemRecord]]:  # fmt: skip
    """Every example through one system, `threads` at a time: (figures, records)."""
    from finetune.adapter import StudentAdapter

    adapter = StudentAdapter()
    since = len(getattr(lm, "history", []))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        answers = pool.map(lambda example: answer_item(program, lm, adapter, metric, example), examples)
        records = list(tqdm(answers, total=len(examples), desc=name, file=sys.stderr, leave=False))
    figures = score_items(records, time.perf_counter() - started, _tokens(lm, since))
    return {**figures, "engine": engine_label(lm)}, records


def systems_of(run_dir: Path, manifest: dict, teacher: bool) -> list[tuple[str, dspy.Module, dspy.BaseLM]]:
    """(name, program, LM) of every system the run's artifacts allow, in report order."""
    from engine.models import resolve_model
    from finetune.lm import StudentLM

    systems = []
    if teacher:
        teacher_lm = run_teacher_lm(manifest, cache=False)  # timed: no answer from the cache
        systems.append(("teacher_zero_shot", open_program(run_dir, manifest), teacher_lm))
        if (run_dir / program_file("teacher")).is_file():
            systems.append(("teacher_compiled", open_program(run_dir, manifest, use="teacher"), teacher_lm))
    student = manifest.get("student")
    if student and (run_dir / program_file("student")).is_file():
        base = StudentLM.from_base(resolve_model(student["model_used"]).name_used, **student_backend(student))
        systems.append(("student_base", open_program(run_dir, manifest), base))
        distilled = open_program(run_dir, manifest, use="student")
        systems.append(("student_distilled", distilled, run_student_lm(run_dir, manifest)))
    return systems


def cost_table(systems: dict[str, dict]) -> dict[str, dict[str, float | None]]:
    """Each system's tokens and seconds per item, and its seconds per item over the compiled teacher's."""
    reference = systems.get("teacher_compiled") or systems.get("teacher_zero_shot")
    cost = {}
    for name, figures in systems.items():
        seconds = 1.0 / figures["items_per_s"] if figures["items_per_s"] else None
        relative = None
        if reference and seconds is not None and reference["items_per_s"]:
            relative = seconds * reference["items_per_s"]
        cost[name] = {"tokens_in": figures["tokens_in_mean"], "tokens_out": figures["tokens_out_mean"],
                      "seconds_per_item": seconds, "time_vs_teacher": relative}  # fmt: skip
    return cost


def evaluate_program_run(run_dir: str | Path, examples: list[dspy.Example], *, teacher: bool = True,
                         baseline_limit: int | None = None, threads: int = 1) -> dict[str, Any]:  # fmt: skip
    """Evaluate every system of a user-program run on `examples`; the report dict (`kind`: "program").

    Args:
        run_dir: a run directory written by `python -m programs.compile --program module:build`.
        examples: held-out examples (inputs and labels).
        teacher: include the teacher's systems.
        baseline_limit: the baselines answer only the first N examples.
        threads: examples answered at once.

    Returns:
        {"kind", "name", "program", "metric", "systems", "cost", "examples"}.

    Raises:
        DataError: no examples.
    """
    run_dir = Path(run_dir)
    manifest = read_run_manifest(run_dir)
    if not examples:
        raise DataError("no examples to evaluate")
    metric = load_metric(manifest.get("metric"))
    systems: dict[str, dict] = {}
    for name, program, lm in systems_of(run_dir, manifest, teacher):
        asked = questions_for(name, examples, baseline_limit)
        systems[name], _ = run_system(name, program, lm, metric, asked, threads)
        figures = systems[name]
        say(f"{name:24} score {figures['score']:5.1f}  parse failures {figures['parse_failures']}", detail=True)
    return {
        "kind": "program",
        "name": manifest.get("name", run_dir.name),
        "program": {"name": manifest.get("program"), "inputs": manifest.get("inputs")},
        "metric": manifest.get("metric") or "labels_match (every labelled output exactly right)",
        "systems": systems,
        "cost": cost_table(systems),
        "examples": len(examples),
    }
