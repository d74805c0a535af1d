"""`Bootstrap`: DSPy's `BootstrapFewShot` with settings sized for small models.

The teacher (or the student itself) runs on training examples; every run the metric accepts becomes a
full demonstration (context, question and answer, and the queries for multi-hop) for each predictor it
passed through. Labeled examples fill the remaining demo slots. `valset` is accepted for the common
`compile` contract and not used: bootstrapping keeps every demo that passes, it compares no candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import dspy

from optimizers.base import DemoOptimizer


@dataclass
class Bootstrap(DemoOptimizer):
    """Bootstrapped demos: keep the teacher's traces that pass the metric (DSPy's `BootstrapFewShot`)."""

    max_rounds: int = 1
    """Attempts per training example; later rounds sample at temperature 1.0 to get past the cache."""
    metric_threshold: float | None = None
    """For numeric metrics (F1): the score a trace needs to be kept; None keeps any truthy score."""

    DSPY = dspy.BootstrapFewShot
    PASSES = ("teacher",)
