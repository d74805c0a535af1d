"""Sentence BLEU: sacrebleu's BLEU of each prediction against every gold answer, smoothed, averaged.

    evaluate.load("programs/evaluate/metrics/bleu").compute(predictions=[...], references=[[...], ...])

Per prediction, sacrebleu's *sentence* BLEU with all aliases as references, exponential smoothing and the n-gram
order capped by the answer's length (`effective_order`). Corpus BLEU (Hugging Face's `bleu`/`sacrebleu` metrics)
scores a right one- or two-word answer 0, as it has no 4-grams; this scores it 100.
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu

from programs.evaluate.metrics import answer_metric

CITATION = "Post, A Call for Clarity in Reporting BLEU Scores, WMT 2018."


class Bleu(answer_metric.AnswerMetric):
    """Smoothed sentence BLEU of each prediction against its gold answers, averaged, in percent."""

    key = "bleu"
    citation = CITATION

    @staticmethod
    def score(prediction: str, references: Sequence[str]) -> float:
        """Sentence BLEU (0-1: sacrebleu's score / 100) of the prediction against the gold answer and its aliases."""
        return float(sacrebleu.sentence_bleu(prediction, list(references), smooth_method="exp").score) / 100
