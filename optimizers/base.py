"""The compile contract every ragdistill optimizer shares, written once: DSPy's.

An optimizer is a dataclass of settings, the metric first (`Optimizer(metric, **settings)`), and
`compile(student, *, trainset, teacher=None, valset=None)` returns a new program, as in
`dspy.teleprompt`. Most of ours configure one DSPy optimizer (`DSPY`): every field named like one of its
constructor's parameters is passed to it (so a field *is* the DSPy setting of that name), `PASSES` says
which of `teacher` and `valset` its `compile` takes, and `compile_settings` adds compile-time ones;
`Optimizer.compile` does the rest. An optimizer that needs more overrides `build`; `Distill` trains an
LM instead and overrides `compile` itself.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import dspy

from optimizers.metrics import Metric


@dataclass
class Optimizer:
    """Settings of one optimization strategy; `compile` returns the optimized copy of a program."""

    metric: Metric | None
    """Judges a prediction (and, called with a trace, whether it may become a demo)."""

    DSPY: ClassVar[type | None] = None
    """The DSPy optimizer class this one configures."""
    PASSES: ClassVar[tuple[str, ...]] = ()
    """Which of `teacher`, `valset` the DSPy optimizer's `compile` takes besides the trainset."""
    DEMO_LIMITS: ClassVar[tuple[str, ...]] = ()
    """The settings that cap demonstrations per predictor (`with_max_demos` sets them all)."""

    def with_max_demos(self, max_demos: int) -> Optimizer:
        """A copy keeping at most `max_demos` demonstrations of each kind per predictor (no-op without demos)."""
        return replace(self, **{name: max_demos for name in self.DEMO_LIMITS})

    def dspy_settings(self, target: type) -> dict[str, Any]:
        """This optimizer's fields that `target`'s constructor takes, by name."""
        accepted = inspect.signature(target).parameters
        return {spec.name: getattr(self, spec.name) for spec in fields(self) if spec.name in accepted}

    def build(self, teacher: dspy.Module | None) -> dspy.teleprompt.Teleprompter:
        """The DSPy optimizer configured with these settings (`teacher` is the program about to be passed)."""
        return self.DSPY(**self.dspy_settings(self.DSPY))

    def compile_settings(self) -> dict[str, Any]:
        """Extra keyword arguments for the DSPy optimizer's `compile`."""
        return {}

    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: list[dspy.Example],
        teacher: dspy.Module | None = None,
        valset: list[dspy.Example] | None = None,
    ) -> dspy.Module:
        """A new, optimized program; `student` is left unchanged."""
        given = {"teacher": teacher, "valset": valset}
        passed = {name: given[name] for name in self.PASSES}
        return self.build(teacher).compile(student, trainset=trainset, **passed, **self.compile_settings())


@dataclass
class DemoOptimizer(Optimizer):
    """The settings every demo-bootstrapping optimizer shares (Bootstrap, RandomSearch, MIPRO)."""

    metric: Metric
    """Filters bootstrapped traces (called with a trace) and, where candidates compete, scores them."""
    max_bootstrapped_demos: int = 4
    """Most bootstrapped demonstrations per predictor."""
    max_labeled_demos: int = 4
    """Most labeled training examples per predictor, filling slots bootstrapping left empty."""

    DEMO_LIMITS = ("max_bootstrapped_demos", "max_labeled_demos")
