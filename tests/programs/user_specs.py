"""Objects the user-program tests name by `module:attribute` spec: right ones and each kind of wrong one."""

from __future__ import annotations

import dspy


def not_a_module() -> str:
    return "a string"


def needs_two(first, second) -> dspy.Module:
    return dspy.Predict("text -> label")


def metric_of_one(example) -> bool:
    return True


def metric_of_two(example, prediction) -> bool:
    return prediction.label == example.label


class Echo(dspy.Module):
    """A program whose forward takes **kwargs: its inputs must be named."""

    def __init__(self):
        super().__init__()
        self.step = dspy.Predict("text -> label")

    def forward(self, **inputs) -> dspy.Prediction:
        return self.step(**inputs)
