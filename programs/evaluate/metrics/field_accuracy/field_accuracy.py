"""Per-field accuracy of a typed program's outputs: exact match per output field, averaged over the fields.

    metric = evaluate.load("programs/evaluate/metrics/field_accuracy")
    metric.compute(predictions=[{"city": "Paris", "year": 1889}], references=[{"city": "paris", "year": 1889}])
    # {"field_accuracy": 100.0, "per_field": {"city": 100.0, "year": 100.0}, "all_fields": 100.0,
    #  "parse_failure_rate": 0.0}

Predictions and references are dicts (one output field per key) or JSON strings of them. Every field of the
reference is scored: a string field by SQuAD-normalized exact match (`optimizers.metrics.exact_match`), any other
value (number, boolean, list, object) by equality of the parsed values; a field the prediction lacks is wrong,
one it adds is ignored. A prediction that is not a JSON object is a parse failure: all its fields are wrong.

Results, in percent: `per_field` (each field's accuracy over the predictions), `field_accuracy` (their mean,
each field weighing the same), `all_fields` (predictions with every field right), `parse_failure_rate`.

Simplified: no partial credit (token F1) for string fields and no tolerance for numbers; a reference that is not
a JSON object is an error, not a failure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import datasets
import evaluate
import numpy as np

from core.errors import DataError
from optimizers import metrics

FEATURES = datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")})


def parse_outputs(value: dict | str) -> dict | None:
    """A program's outputs as a dict: `value` itself, or the JSON object a string holds; None if it holds none."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def field_matches(prediction: dict | str, reference: dict | str) -> dict[str, bool] | None:
    """Whether each field of `reference` is right in `prediction`; None when the prediction does not parse.

    Args:
        prediction: the program's outputs (a dict, or its JSON string).
        reference: the gold outputs (a dict, or its JSON string).

    Returns:
        `{field: right}` for every field of the reference, or None for a parse failure.

    Raises:
        DataError: the reference is not a JSON object.
    """
    gold = parse_outputs(reference)
    if gold is None:
        raise DataError(f"a reference must be a dict or a JSON object string, got {str(reference)[:80]!r}")
    predicted = parse_outputs(prediction)
    if predicted is None:
        return None
    return {field: field in predicted and _same(predicted[field], value) for field, value in gold.items()}


def _same(predicted: object, gold: object) -> bool:
    if isinstance(predicted, str) and isinstance(gold, str):
        return metrics.exact_match(predicted, gold)
    return predicted == gold


def field_accuracy(predictions: Sequence[dict | str], references: Sequence[dict | str]) -> dict:
    """Per-field accuracy of typed outputs (the module docstring says what each figure is).

    Args:
        predictions: the program's outputs per example (dicts or JSON strings).
        references: the gold outputs per example (dicts or JSON strings).

    Returns:
        `{"field_accuracy", "per_field": {field: ...}, "all_fields", "parse_failure_rate"}`, in percent.

    Raises:
        DataError: a reference is not a JSON object, or there are no predictions.
    """
    if not predictions:
        raise DataError("field accuracy needs at least one prediction")
    matches = [field_matches(p, r) for p, r in zip(predictions, references, strict=True)]
    right: dict[str, list[bool]] = {}
    for match, reference in zip(matches, references, strict=True):
        for field in parse_outputs(reference) or {}:
            right.setdefault(field, []).append(match is not None and match[field])
    per_field = {field: 100 * float(np.mean(right[field])) for field in sorted(right)}
    return {
        "field_accuracy": float(np.mean(list(per_field.values()))) if per_field else 0.0,
        "per_field": per_field,
        "all_fields": 100 * float(np.mean([bool(match) and all(match.values()) for match in matches])),
        "parse_failure_rate": 100 * float(np.mean([match is None for match in matches])),
    }


def _as_json(values: Sequence[dict | str] | None) -> list[str] | None:
    return None if values is None else [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in values]


class FieldAccuracy(evaluate.Metric):
    """Exact match per output field of a typed program, averaged over the fields, in percent."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.__doc__ or "",
            citation="",
            inputs_description="predictions, references: lists of dicts (one key per output field) or JSON strings.",
            features=FEATURES,
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs) -> None:
        """Add a batch of predictions and references (dicts are stored as JSON strings)."""
        super().add_batch(predictions=_as_json(predictions), references=_as_json(references), **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs) -> None:
        """Add one prediction and its reference (a dict is stored as a JSON string)."""
        [prediction], [reference] = _as_json([prediction]), _as_json([reference])
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions: list[str], references: list[str]) -> dict:
        return field_accuracy(predictions, references)
