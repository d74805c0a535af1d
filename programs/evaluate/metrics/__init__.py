"""The report's answer metrics as Hugging Face `evaluate` modules, one directory each, loadable offline by path.

    import evaluate
    from programs.evaluate.metrics import metric_path

    em = evaluate.load(metric_path("exact_match"))      # or evaluate.load("programs/evaluate/metrics/exact_match")
    em.compute(predictions=["Paris"], references=[["Paris", "City of Paris"]])   # {"exact_match": 100.0}

| module | result (percent) | per prediction |
|---|---|---|
| `exact_match` | `exact_match` | SQuAD-normalized exact match, best over the aliases (`optimizers.metrics`) |
| `f1` | `f1` | token F1, best over the aliases; yes/no/unanswerable match only exactly (`optimizers.metrics`) |
| `rouge_l` | `rouge_l` | `rouge_score` ROUGE-L F-measure, best over the aliases |
| `bleu` | `bleu` | sacrebleu sentence BLEU against every alias, exponentially smoothed |
| `field_accuracy` | `field_accuracy`, `per_field`, ... | exact match per output field of a typed program |

Each module's `score` is the function the report itself calls (`programs/evaluate/scoring.py`), so a figure
computed with `evaluate.load` equals the report's. The answer metrics take one prediction string and its
references as a list of strings (the answer and its aliases) or one string.

Simplified: the modules need ragdistill installed (they import its metrics), so `evaluate.load` reads them
from a path, never from the Hugging Face hub; they do not support `evaluate`'s distributed (multi-process) mode
beyond what `evaluate.Metric` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

METRIC_NAMES = ("exact_match", "f1", "rouge_l", "bleu", "field_accuracy")


def metric_path(name: str) -> str:
    """The directory of one shipped metric module, for `evaluate.load(metric_path(name))`.

    Args:
        name: one of `METRIC_NAMES`.

    Returns:
        The module's directory, as a string.

    Raises:
        KeyError: `name` is not a shipped metric.
    """
    if name not in METRIC_NAMES:
        raise KeyError(f"no metric module {name!r}: choose one of {', '.join(METRIC_NAMES)}")
    return str(Path(__file__).resolve().parent / name)


def percent_mean(values: Sequence[float]) -> float:
    """The mean of 0-1 scores in percent: how both the report and each module's `compute` make one figure.

    Args:
        values: per-prediction scores, 0-1.

    Returns:
        Their mean times 100.
    """
    return 100 * float(np.mean(values))
