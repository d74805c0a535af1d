"""`Bootstrap`: DSPy's `BootstrapFewShot` with settings sized for small models.

The teacher (or the student itself) runs on training examples; every run the metric accepts becomes a
full demonstration (context, question and answer, and the queries for multi-hop) for each predictor it
passed through. Labeled examples fill the remaining demo slots. `valset` is accepted for the common
`compile` contract and not used: bootstrapping keeps every demo that passes, it compares no candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import dspy

from optimizers.metrics import Metric


@dataclass
class Bootstrap:
    """Bootstrapped demos: keep the teacher's traces that pass the metric (DSPy's `BootstrapFewShot`)."""

    metric: Metric
    """Decides which traces become demos; it is called with a trace (see `short_answer_exact_match`)."""
    max_bootstrapped_demos: int = 4
    """Most bootstrapped demonstrations per predictor."""
    max_labeled_demos: int = 4
    """Most labeled training examples per predictor, filling slots bootstrapping left empty."""
    max_rounds: int = 1
    """Attempts per training example; later rounds sample at temperature 1.0 to get past the cache."""
    metric_threshold: float | None = None
    """For numeric metrics (F1): the score a trace needs to be kept; None keeps any truthy score."""

    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: list[dspy.Example],
        teacher: dspy.Module | None = None,
        valset: list[dspy.Example] | None = None,
    ) -> dspy.Module:
        optimizer = dspy.BootstrapFewShot(
            metric=self.metric,
            metric_threshold=self.metric_threshold,
            max_bootstrapped_demos=self.max_bootstrapped_demos,
            max_labeled_demos=self.max_labeled_demos,
            max_rounds=self.max_rounds,
        )
        return optimizer.compile(student, teacher=teacher, trainset=trainset)
