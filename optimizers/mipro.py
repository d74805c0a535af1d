"""`MIPRO`: DSPy's `MIPROv2`, which searches instructions and demo sets together.

MIPROv2 bootstraps candidate demo sets, asks a prompt model to propose instructions (grounded in a
summary of the data, the program's code and the demos), then lets Optuna's Bayesian search pick the
combination that scores best on the valset. Here the teacher's LM is both the prompt model (it writes
instructions) and the task model (it runs the program while searching), unless settings name others.

`auto="light"` is DSPy's smallest preset (6 demo-set candidates, 3 instructions, ~10 trials per
predictor pair). For tiny budgets, set `auto=None` with `num_candidates` and `num_trials`. Minibatch
scoring only happens with `auto=None, minibatch=True` (the presets decide it themselves, from the valset
size) and needs a valset larger than `minibatch_size`.

Simplified: the returned program carries no trial statistics (`track_stats=False`), so copies stay light.
Needs `optuna` (`pip install optuna`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import dspy

from core.errors import ConfigError
from optimizers.base import DemoOptimizer

AUTO_PRESETS = ("light", "medium", "heavy")


@dataclass
class MIPRO(DemoOptimizer):
    """Instructions and demos searched together (DSPy's `MIPROv2`)."""

    auto: str | None = "light"
    """DSPy's budget preset: light, medium, heavy; None to set `num_candidates` and `num_trials` yourself."""
    num_candidates: int | None = None
    """Instruction and demo-set candidates per predictor (only with auto=None)."""
    num_trials: int | None = None
    """Search trials (only with auto=None)."""
    minibatch: bool = False
    """Score trials on minibatches of the valset (only with auto=None; the valset must exceed minibatch_size)."""
    minibatch_size: int = 35
    """Examples per minibatch."""
    prompt_model: dspy.BaseLM | None = None
    """The LM that proposes instructions; None uses the teacher's LM, else the configured `dspy.settings.lm`."""
    task_model: dspy.BaseLM | None = None
    """The LM that runs the program during the search; None as for `prompt_model`."""
    num_threads: int | None = None
    """Parallel evaluation threads; None uses `dspy.settings.num_threads`."""
    seed: int = 9
    """Seed for demo shuffling, instruction tips and the Optuna sampler."""

    def __post_init__(self) -> None:
        if self.auto is not None and self.auto not in AUTO_PRESETS:
            raise ConfigError(f"mipro: auto must be one of {', '.join(AUTO_PRESETS)} or None, got {self.auto!r}")
        budget_given = self.num_candidates is not None or self.num_trials is not None
        if self.auto is not None and budget_given:
            raise ConfigError("mipro: num_candidates and num_trials are set by the auto preset; pass auto=None")
        if self.auto is None and (self.num_candidates is None or self.num_trials is None):
            raise ConfigError("mipro: with auto=None, set both num_candidates and num_trials")

    PASSES = ("teacher", "valset")

    def build(self, teacher: dspy.Module | None) -> dspy.MIPROv2:
        if importlib.util.find_spec("optuna") is None:
            raise ConfigError("mipro needs the optuna package: pip install optuna")
        lm = teacher_lm(teacher) or dspy.settings.lm
        prompt_model, task_model = self.prompt_model or lm, self.task_model or lm
        if prompt_model is None or task_model is None:
            raise ConfigError("mipro needs an LM: give a teacher program with an LM or call dspy.configure(lm=...)")
        settings = self.dspy_settings(dspy.MIPROv2)
        return dspy.MIPROv2(
            **{**settings, "prompt_model": prompt_model, "task_model": task_model, "track_stats": False}
        )

    def compile_settings(self) -> dict:
        return {"num_trials": self.num_trials, "minibatch": self.minibatch, "minibatch_size": self.minibatch_size}


def teacher_lm(teacher: dspy.Module | None) -> dspy.BaseLM | None:
    """The one LM all of the teacher's predictors use, or None (no teacher, no LM set, or several LMs)."""
    if teacher is None:
        return None
    lms = {id(predictor.lm): predictor.lm for predictor in teacher.predictors()}
    return next(iter(lms.values())) if len(lms) == 1 else None
