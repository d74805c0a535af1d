"""ROUGE-L: the longest common subsequence F-measure of the prediction and its best gold answer.

    evaluate.load("programs/evaluate/metrics/rouge_l").compute(predictions=[...], references=[[...], ...])

Computed by `rouge_score` (its default tokenizer: lowercase alphanumeric tokens, no stemming), best over the
aliases (`RougeScorer.score_multi`). Hugging Face's own `evaluate.load("rouge")` fetches its script from the hub
and reports corpus-level aggregates; this one runs offline and averages the per-answer score the report keeps.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from rouge_score import rouge_scorer

from programs.evaluate.metrics import answer_metric

CITATION = "Lin, ROUGE: A Package for Automatic Evaluation of Summaries, ACL Workshop 2004."


@functools.cache
def _scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"])


def score(prediction: str, references: Sequence[str]) -> float:
    """The best ROUGE-L F-measure (0-1) of the prediction against the gold answer and its aliases."""
    return _scorer().score_multi(list(references), prediction)["rougeL"].fmeasure


class RougeL(answer_metric.AnswerMetric):
    """ROUGE-L F-measure of each prediction against its best gold answer, in percent."""

    key = "rouge_l"
    citation = CITATION
    score = staticmethod(score)
