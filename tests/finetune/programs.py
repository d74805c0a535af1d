"""DSPy programs that are not retrieve-then-answer, for the distillation tests (importable by a fresh process)."""

from __future__ import annotations

from typing import Literal

import dspy

TEXTS = ["refund my order", "the app crashes", "price for ten seats", "cancel the contract", "login fails",
         "invoice is wrong"]  # fmt: skip


class Classify(dspy.Signature):
    """Say which team handles the message and whether it is urgent."""

    text: str = dspy.InputField()
    team: Literal["sales", "support"] = dspy.OutputField()
    urgent: bool = dspy.OutputField()


class Triage(dspy.Module):
    """A ChainOfThought step with choice-valued outputs, then two steps with the same fields and instructions."""

    def __init__(self):
        super().__init__()
        self.classify = dspy.ChainOfThought(Classify)
        self.tone = dspy.Predict("text -> label")
        self.topic = dspy.Predict("text -> label")

    def forward(self, text: str) -> dspy.Prediction:
        classified = self.classify(text=text)
        tone, topic = self.tone(text=text).label, self.topic(text=text).label
        return dspy.Prediction(team=classified.team, urgent=classified.urgent, tone=tone, topic=topic)


def teacher_answers(texts: list[str]) -> list[dict[str, str]]:
    """What a teacher says for each text, in call order (classify, tone, topic), as DSPy's DummyLM takes it."""
    answers = []
    for i, text in enumerate(texts):
        team = "sales" if i % 2 == 0 else "support"
        answers += [
            {"reasoning": f"{text} is a {team} matter", "team": team, "urgent": "true" if i % 3 == 0 else "false"},
            {"label": "calm"},
            {"label": text.split()[-1]},
        ]
    return answers


def examples(texts: list[str]) -> list[dspy.Example]:
    """Training examples with the teacher's team as the label."""
    teams = [answer["team"] for answer in teacher_answers(texts)[::3]]
    return [dspy.Example(text=t, team=team).with_inputs("text") for t, team in zip(texts, teams, strict=True)]


def same_team(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """The metric: the predicted team is the labelled one."""
    return prediction.team == example.team
