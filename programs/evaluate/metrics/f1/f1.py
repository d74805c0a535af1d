"""Token F1: the word overlap of the normalized prediction with its best normalized gold answer (HotpotQA's F1).

    evaluate.load("programs/evaluate/metrics/f1").compute(predictions=[...], references=[[...], ...])

As in the official HotpotQA script, "yes", "no" and "noanswer" only match exactly, and so do abstentions and the
answers of questions the data marks unanswerable. `score` is `optimizers.metrics.token_f1`.
"""

from __future__ import annotations

from optimizers import metrics
from programs.evaluate.metrics import answer_metric

CITATION = "Yang et al., HotpotQA: A Dataset for Diverse, Explainable Multi-hop Question Answering, EMNLP 2018."


class F1(answer_metric.AnswerMetric):
    """Token F1 of each prediction against its best gold answer (HotpotQA rules), in percent."""

    key = "f1"
    citation = CITATION
    score = staticmethod(metrics.token_f1)
