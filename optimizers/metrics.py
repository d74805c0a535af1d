"""Answer and passage metrics: SQuAD-style exact match and token F1, and the multi-hop passage match.

`exact_match` and `token_f1` compare one predicted string with a list of gold answers (the answer and its
aliases) and keep the best score; the scores and their normalization are DSPy's
SQuAD-style `EM`, `F1` and `normalize_text`, with our alias handling (a string or a list; no aliases
scores 0) on top. The `answer_*` functions wrap them in DSPy's metric signature
`metric(example, pred, trace=None)`, for `dspy.Evaluate` and the optimizers. When DSPy bootstraps
demonstrations it passes a `trace`; `short_answer_exact_match` then also rejects long answers, so a
rambling-but-correct teacher output never becomes a demo.

Token F1 follows the official HotpotQA script (DSPy's `HotPotF1`): the special answers "yes", "no" and
"noanswer" only match exactly ("yes it is" vs "yes" scores 0, not 0.67), and so does our `UNANSWERABLE`, the
answer of a question the data marks unanswerable. `abstained` and `is_unanswerable` tell an abstention and
an unanswerable question; `answer_in_context` whether passages hold a gold answer.

Simplified: normalization is SQuAD v1.1's as DSPy writes it (Unicode NFD, lowercase, drop punctuation and
English articles, squeeze whitespace); there is no number or date canonicalization.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dspy
from dspy.evaluate.metrics import EM, HotPotF1, normalize_text

from data.loaders import UNANSWERABLE

MAX_DEMO_ANSWER_WORDS = 8

Metric = Callable[..., float | bool]
"""A DSPy metric: `metric(example, pred, trace=None)`, higher is better."""


def _as_list(answers: str | Sequence[str]) -> list[str]:
    return [answers] if isinstance(answers, str) else list(answers)


def exact_match(prediction: str, answers: str | Sequence[str]) -> bool:
    """True when the normalized prediction equals one normalized gold answer (DSPy's `EM`)."""
    answers = _as_list(answers)
    return bool(answers) and bool(EM(prediction, answers))


def token_f1(prediction: str, answers: str | Sequence[str]) -> float:
    """The best token-overlap F1 (0..1) between the normalized prediction and a normalized gold answer (DSPy's
    `HotPotF1`); an abstention, or an unanswerable question, scores only on an exact match."""
    answers = _as_list(answers)
    if not answers:
        return 0.0
    if abstained(prediction) or is_unanswerable(answers):
        return float(exact_match(prediction, answers))
    return float(HotPotF1(prediction, answers))


def abstained(prediction: str) -> bool:
    """Whether a predicted answer is the abstention `UNANSWERABLE` (normalized)."""
    return normalize_text(prediction) == UNANSWERABLE


def is_unanswerable(answers: str | Sequence[str]) -> bool:
    """Whether gold answers mark an unanswerable question (the loader gives those `[UNANSWERABLE]`)."""
    answers = _as_list(answers)
    return bool(answers) and all(abstained(answer) for answer in answers)


def answer_in_context(gold: Sequence[str], passages: Sequence[str]) -> bool:
    """True if a normalized gold answer occurs as whole words in a normalized passage."""
    texts = [f" {normalize_text(passage)} " for passage in passages]
    answers = [normalize_text(answer) for answer in gold]
    return any(answer and f" {answer} " in text for answer in answers for text in texts)


def gold_answers(example: dspy.Example) -> list[str]:
    """The example's answer and aliases: `answers` when it has them, else `[answer]`."""
    answers = example.get("answers") or []
    return list(answers) or [example.answer]


def answer_exact_match(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> bool:
    """DSPy metric: the predicted answer matches the gold answer or an alias exactly (normalized)."""
    return exact_match(pred.answer, gold_answers(example))


def answer_f1(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> float:
    """DSPy metric: the best token F1 of the predicted answer against the gold answer and aliases."""
    return token_f1(pred.answer, gold_answers(example))


def short_answer_exact_match(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> bool:
    """`answer_exact_match`; when bootstrapping (a trace is given), also at most `MAX_DEMO_ANSWER_WORDS` words."""
    if trace is not None and len(pred.answer.split()) > MAX_DEMO_ANSWER_WORDS:
        return False
    return answer_exact_match(example, pred)


def passage_match(example: dspy.Example, pred: dspy.Prediction, trace: object = None) -> bool:
    """DSPy metric for multi-hop: every gold passage id is among the retrieved passages (`pred.passages`)."""
    retrieved = {hit.pid for hit in pred.passages}
    return all(str(pid) in retrieved for pid in example.gold_pids)


METRICS: dict[str, Metric] = {
    "em": answer_exact_match,
    "f1": answer_f1,
    "em_short": short_answer_exact_match,
    "passage_match": passage_match,
}
"""Metrics by the name a CLI option uses."""
