"""`RandomSearch`: DSPy's `BootstrapFewShotWithRandomSearch`, keeping the best of several demo sets.

It scores the zero-shot program, the labeled-demo program and `num_candidate_programs` bootstrapped
ones (each from a differently shuffled training set and demo count) on `valset` (default: the training
set) and returns the best. The cost is about `num_candidate_programs + 3` evaluations of the valset.
"""

from __future__ import annotations

from dataclasses import dataclass

import dspy

from optimizers.metrics import Metric


@dataclass
class RandomSearch:
    """Bootstrapped demo sets scored on the valset; the best wins (DSPy's `BootstrapFewShotWithRandomSearch`)."""

    metric: Metric
    """Filters bootstrapped traces (called with a trace) and scores candidates (called without)."""
    max_bootstrapped_demos: int = 4
    """Most bootstrapped demonstrations per predictor; each candidate draws between 1 and this many."""
    max_labeled_demos: int = 4
    """Most labeled training examples per predictor."""
    num_candidate_programs: int = 8
    """Bootstrapped candidates to score, besides the zero-shot and labeled-only programs."""
    max_rounds: int = 1
    """Bootstrap attempts per training example."""
    num_threads: int | None = None
    """Parallel evaluation threads; None uses `dspy.settings.num_threads`."""

    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: list[dspy.Example],
        teacher: dspy.Module | None = None,
        valset: list[dspy.Example] | None = None,
    ) -> dspy.Module:
        optimizer = dspy.BootstrapFewShotWithRandomSearch(
            metric=self.metric,
            max_bootstrapped_demos=self.max_bootstrapped_demos,
            max_labeled_demos=self.max_labeled_demos,
            num_candidate_programs=self.num_candidate_programs,
            max_rounds=self.max_rounds,
            num_threads=self.num_threads,
        )
        return optimizer.compile(student, teacher=teacher, trainset=trainset, valset=valset)
