"""Exact match: the normalized prediction equals one normalized gold answer (SQuAD v1.1, best over aliases).

    evaluate.load("programs/evaluate/metrics/exact_match").compute(predictions=[...], references=[[...], ...])

Normalization is SQuAD's as DSPy writes it (lowercase, no punctuation or articles, squeezed whitespace); a
prediction with no gold answers scores 0. `score` is `optimizers.metrics.exact_match`, the metric the compile
optimizes, so the report and the compile agree on what a right answer is.
"""

from __future__ import annotations

from optimizers import metrics
from programs.evaluate.metrics import answer_metric

CITATION = "Rajpurkar et al., SQuAD: 100,000+ Questions for Machine Comprehension of Text, EMNLP 2016."


class ExactMatch(answer_metric.AnswerMetric):
    """SQuAD-style exact match of each prediction against its gold answer or an alias, in percent."""

    key = "exact_match"
    citation = CITATION
    score = staticmethod(metrics.exact_match)
