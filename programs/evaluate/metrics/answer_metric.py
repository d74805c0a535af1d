"""The `evaluate.Metric` every answer metric module extends: each prediction scored against its gold answers.

A subclass names its result (`key`) and gives `score(prediction, references) -> float` (0-1, one prediction
against its answer and aliases); `compute` returns the mean in percent, as the report shows it. References may
be a list of strings per prediction (the answer and its aliases) or one string.

Simplified: no per-prediction output from `compute` (the report keeps those itself, from the same `score`).
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate

from programs.evaluate.metrics import percent_mean

TEXT = datasets.Value("string")
FEATURES = [
    datasets.Features({"predictions": TEXT, "references": datasets.Sequence(TEXT)}),
    datasets.Features({"predictions": TEXT, "references": TEXT}),
]
INPUTS = """
Args:
    predictions: list of predicted answers (strings).
    references: per prediction, its gold answers (a list of strings: the answer and its aliases) or one string.
Returns:
    {KEY: the mean per-prediction score, in percent (0-100)}.
"""


class AnswerMetric(evaluate.Metric):
    """One answer metric: `score` each prediction against its gold answers, report the mean in percent."""

    key = "score"
    """The name of the result in `compute`'s dict."""
    citation = ""
    """The reference for the scoring method (BibTeX or a URL)."""

    @staticmethod
    def score(prediction: str, references: Sequence[str]) -> float:
        """One prediction's score (0-1) against its gold answers; subclasses define it."""
        raise NotImplementedError

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.__doc__ or "",
            citation=self.citation,
            inputs_description=INPUTS.replace("KEY", repr(self.key)),
            features=FEATURES,
        )

    def _compute(self, predictions: list[str], references: list) -> dict[str, float]:
        gold = [[answers] if isinstance(answers, str) else list(answers) for answers in references]
        return {self.key: percent_mean([float(self.score(p, g)) for p, g in zip(predictions, gold, strict=True)])}
