"""`RandomSearch`: DSPy's `BootstrapFewShotWithRandomSearch`, keeping the best of several demo sets.

It scores the zero-shot program, the labeled-demo program and `num_candidate_programs` bootstrapped
ones (each from a differently shuffled training set and demo count) on `valset` (default: the training
set) and returns the best. The cost is about `num_candidate_programs + 3` evaluations of the valset.
"""

from __future__ import annotations

from dataclasses import dataclass

import dspy

from optimizers.base import DemoOptimizer


@dataclass
class RandomSearch(DemoOptimizer):
    """Bootstrapped demo sets scored on the valset; the best wins (DSPy's `BootstrapFewShotWithRandomSearch`)."""

    num_candidate_programs: int = 8
    """Bootstrapped candidates to score, besides the zero-shot and labeled-only programs."""
    max_rounds: int = 1
    """Bootstrap attempts per training example."""
    num_threads: int | None = None
    """Parallel evaluation threads; None uses `dspy.settings.num_threads`."""

    DSPY = dspy.BootstrapFewShotWithRandomSearch
    PASSES = ("teacher", "valset")
