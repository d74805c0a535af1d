"""The two optimizers that score nothing: `ZeroShot` (the program as written) and `FewShot` (labeled demos).

`FewShot` is DSPy's `LabeledFewShot`: each predictor gets `k` training examples as demonstrations,
sampled with a fixed seed. Only the fields an example has are shown, so a multi-hop query writer sees
question/answer pairs without queries. Both accept a metric only so that every optimizer is built the
same way (`make_optimizer(name, metric, ...)`); neither uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import dspy

from optimizers.base import Optimizer
from optimizers.metrics import Metric


@dataclass
class ZeroShot(Optimizer):
    """No optimization: a fresh copy of the program, without demos (the baseline every optimizer must beat)."""

    metric: Metric | None = None
    """Unused."""

    def build(self, teacher: dspy.Module | None) -> dspy.LabeledFewShot:
        return dspy.LabeledFewShot(k=0)  # a fresh copy with no demos


@dataclass
class FewShot(Optimizer):
    """Labeled demos: `k` training examples per predictor (DSPy's `LabeledFewShot`)."""

    metric: Metric | None = None
    """Unused: labeled demos are not scored."""
    k: int = 4
    """How many training examples each predictor sees as demonstrations."""

    DEMO_LIMITS = ("k",)

    DSPY = dspy.LabeledFewShot
