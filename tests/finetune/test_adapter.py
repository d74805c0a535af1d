"""`StudentAdapter`: routing by LM, predictor names, choice outputs decided by the student's scores, and the clear
refusal of a student reached through another adapter (tiny random models: mechanics, not answers)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dspy
import pytest
from dspy.utils import DummyLM

from core.errors import ConfigError
from finetune.adapter import StudentAdapter, calling_predictor_name
from finetune.lm import StudentLM
from finetune.prompt import choices


class Route(dspy.Signature):
    """Route the message."""

    text: str = dspy.InputField()
    team: Literal["sales", "support", "legal"] = dspy.OutputField()
    urgent: bool = dspy.OutputField()


class TwoSteps(dspy.Module):
    """Two steps with the same fields and the same (default) instructions: only their names tell them apart."""

    def __init__(self):
        super().__init__()
        self.first = dspy.Predict("text -> label")
        self.second = dspy.Predict("text -> label")

    def forward(self, text: str) -> dspy.Prediction:
        return self.second(text=self.first(text=text).label)


def test_teacher_lms_get_the_normal_chat_adapter():
    teacher = DummyLM([{"team": "legal", "urgent": "true"}])
    with dspy.context(lm=teacher, adapter=StudentAdapter()):
        prediction = dspy.Predict(Route)(text="a lawsuit")
    assert (prediction.team, prediction.urgent) == ("legal", True)


def test_the_calling_predictor_is_named_by_its_path_in_the_program():
    seen = []

    class Recorder(dspy.Module):
        def __init__(self):
            super().__init__()
            self.inner = dspy.ChainOfThought("text -> label")

        def forward(self, text):
            seen.append(calling_predictor_name())  # outside any predictor: no name
            return self.inner(text=text)

    teacher = DummyLM([{"reasoning": "r", "label": "x"}])
    with dspy.context(lm=teacher, adapter=StudentAdapter()):
        Recorder()(text="t")
    assert seen == [None]
    assert calling_predictor_name() is None


def test_two_steps_with_the_same_fields_reach_the_student_under_their_own_names(tiny_causal_dir: Path):
    lm = StudentLM.from_base(str(tiny_causal_dir), backend="transformers")
    program = TwoSteps()
    program.set_lm(lm)
    with dspy.context(adapter=StudentAdapter()):
        program(text="hello")
    prompts = [entry["messages"][0]["content"] for entry in lm.history[-2:]]
    assert prompts[0].startswith("task: first\n") and prompts[1].startswith("task: second\n")


def test_a_student_reached_through_another_adapter_fails_with_the_fix(tiny_causal_dir: Path):
    lm = StudentLM.from_base(str(tiny_causal_dir), backend="transformers")
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_json_adapter_fallback=False)):
        with pytest.raises(ConfigError, match=r"dspy\.configure\(adapter=StudentAdapter\(\)\)"):
            dspy.Predict(Route)(text="hi")


@pytest.mark.parametrize("backend", ["transformers", "ct2"])
def test_choice_outputs_are_the_allowed_value_the_student_scores_highest(tiny_causal_dir: Path, backend: str):
    lm = StudentLM.from_base(str(tiny_causal_dir), backend=backend)
    teams = choices(Route.output_fields["team"].annotation)
    with dspy.context(lm=lm, adapter=StudentAdapter()):
        for text in ("a refund", "a contract", "a demo", "help!"):
            prediction = dspy.Predict(Route)(text=text)
            assert prediction.team in ("sales", "support", "legal") and prediction.urgent in (True, False)
            # A random tiny model writes no valid team, so the team is the one the student scores highest.
            prompt = lm.history[-1]["messages"][0]["content"]
            scores = lm.score(prompt, [f"team: {t}\nurgent:" for t, _ in teams], eos=False)
            assert prediction.team == teams[scores.index(max(scores))][1]


@pytest.mark.parametrize("family_dir", ["tiny_causal_dir", "tiny_t5_dir"])
def test_both_backends_score_alike(family_dir: str, request: pytest.FixtureRequest):
    model_dir = str(request.getfixturevalue(family_dir))
    continuations = ["billing", "technical support", "no"]
    for eos in (True, False):
        stock = StudentLM.from_base(model_dir, backend="transformers").score("task: t\ntext: x", continuations, eos=eos)
        fast = StudentLM.from_base(model_dir, backend="ct2").score("task: t\ntext: x", continuations, eos=eos)
        assert fast == pytest.approx(stock, abs=1e-3)
        assert all(score < 0 for score in stock)
