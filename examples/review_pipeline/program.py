"""A two-step review pipeline whose steps share field names: both read `review` and write `label`.

Step `topic` says which part of the product a review talks about; step `sentiment` says whether the review is
positive or negative about that part. Distilled into one multitask student, the two steps stay apart because
the student's prompt carries each predictor's name and instructions (`finetune.prompt`):

    python -m programs.compile --program examples.review_pipeline.program:build \
        --metric examples.review_pipeline.program:metric --teacher examples.review_pipeline.program:teacher \
        --train examples/review_pipeline/train.jsonl --dev examples/review_pipeline/dev.jsonl \
        --test examples/review_pipeline/test.jsonl --name reviews

`teacher()` replays what a strong LM answered for the bundled reviews (`teacher.jsonl`), so the example runs
offline; with a key, `--teacher openai/gpt-4o-mini` asks a real one. Simplified: reviews come from templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import dspy
from dspy.utils import DummyLM

HERE = Path(__file__).resolve().parent


class Topic(dspy.Signature):
    """Which part of the product does the review talk about?"""

    review: str = dspy.InputField()
    label: Literal["battery", "screen", "sound", "price", "delivery"] = dspy.OutputField()


class Sentiment(dspy.Signature):
    """Is the review positive or negative about that part of the product?"""

    review: str = dspy.InputField()
    topic: str = dspy.InputField()
    label: Literal["positive", "negative"] = dspy.OutputField()


class ReviewPipeline(dspy.Module):
    """Find the topic, then judge the review on it."""

    def __init__(self):
        super().__init__()
        self.topic = dspy.Predict(Topic)
        self.sentiment = dspy.Predict(Sentiment)

    def forward(self, review: str) -> dspy.Prediction:
        topic = self.topic(review=review).label
        return dspy.Prediction(topic=topic, sentiment=self.sentiment(review=review, topic=topic).label)


def build() -> dspy.Module:
    """The program (`--program examples.review_pipeline.program:build`)."""
    return ReviewPipeline()


def metric(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """Both steps right."""
    return prediction.topic == example.topic and prediction.sentiment == example.sentiment


def teacher() -> dspy.BaseLM:
    """The offline stand-in for a hosted teacher: the recorded answers of both steps, keyed by review."""
    answers = {}
    for line in (HERE / "teacher.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        review, topic = row["review"], row["topic"]
        answers[f"[[ ## review ## ]]\n{review}\n\n[[ ## topic ## ]]\n{topic}\n"] = {"label": row["sentiment"]}
        answers[f"[[ ## review ## ]]\n{review}\n\nRespond"] = {"label": topic}
    return DummyLM(answers)
