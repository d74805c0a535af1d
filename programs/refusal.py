"""Refusing unanswerable questions: the student weighs "unanswerable" against its own answer.

A 135M student trained on a few unanswerable questions learns to say `UNANSWERABLE` rarely (about one time in
eight on the SQuAD sample): generating greedily, its first token is almost always the start of some answer. But
it is much less sure of an answer read from passages of another article than of one it found. So after the
answer step generates, the student scores two completions of the same prompt, its answer and `UNANSWERABLE`,
and `refusal_gap` is log p(unanswerable) - log p(answer). A program with a `refusal_threshold` refuses when the
gap reaches it.

The threshold is chosen on the validation questions (`calibrate_refusal`), only when they hold unanswerable ones:
the highest that refuses a chosen share of them (`refusal_recall`, `--refusal-recall`, 0.7 by default), so refusing
costs as few answers as that operating point allows. The share is set above what one wants on new questions: with
ten or twenty unanswerable validation questions the share a threshold refuses elsewhere varies by about a tenth
either way. (Picking the threshold under which the most validation questions come out right, as SQuAD 2.0's
evaluation does, needs many right answers to place it; a small student gets only a few.) It is saved in the
run's manifest (`student.refusal_threshold`) and applied when the run's distilled program is opened
(`programs.rundir`).

Simplified: one threshold per run, from a small validation set (20 questions by default), blind to what refusing
costs the answerable ones there; LMs that cannot score (teachers, a served student) never refuse this way.
"""

from __future__ import annotations

import math
from typing import Any

import dspy

from data.loaders import UNANSWERABLE
from finetune.lm import StudentLM
from finetune.prompt import build_prompt, format_completion
from optimizers.metrics import abstained, gold_answers, is_unanswerable
from programs.signatures import GenerateAnswer

DEFAULT_RECALL = 0.7


def score_answers(lm: Any, context: list[str], question: str, answers: list[str]) -> list[float] | None:
    """log p of each answer (and the end of its completion) after the answer step's prompt for `context` and
    `question`, under `lm`; None when `lm` cannot score (not a `StudentLM`)."""
    if not isinstance(lm, StudentLM):
        return None
    prompt = build_prompt(GenerateAnswer, {"context": context, "question": question}).render(lm.prompt_budget())
    candidates = [format_completion(GenerateAnswer, {"answer": text}) for text in answers]
    return lm.score(prompt, candidates, eos=True)


def refusal_gap(lm: Any, context: list[str], question: str, answer: str) -> float | None:
    """log p(UNANSWERABLE) - log p(answer) after the answer step's prompt, under `lm`; None when `lm` cannot
    score (not a `StudentLM`) or the answer already is the refusal."""
    scores = None if abstained(answer) else score_answers(lm, context, question, [answer, UNANSWERABLE])
    return None if scores is None else scores[1] - scores[0]


def refuses(gap: float | None, threshold: float | None) -> bool:
    """Whether an answer with this refusal gap is replaced by `UNANSWERABLE`."""
    return gap is not None and threshold is not None and gap >= threshold


def choose_threshold(
    gaps: list[float | None], answers: list[str], golds: list[list[str]], recall: float = DEFAULT_RECALL
) -> float | None:
    """The highest threshold that refuses at least `recall` of the unanswerable questions among these, counting
    those already answered `UNANSWERABLE`: halfway between the lowest gap it must refuse and the next gap below.
    None (never refuse) when no refusal is needed or none can be made."""
    rows = zip(gaps, answers, golds, strict=True)
    unanswerable = [(gap, answer) for gap, answer, gold in rows if is_unanswerable(gold)]
    needed = math.ceil(recall * len(unanswerable) - 1e-9) - sum(abstained(answer) for _, answer in unanswerable)
    refusable = sorted((gap for gap, _ in unanswerable if gap is not None), reverse=True)
    if needed <= 0 or not refusable:
        return None
    lowest = refusable[min(needed, len(refusable)) - 1]
    below = [gap for gap in gaps if gap is not None and gap < lowest]
    return (lowest + max(below)) / 2 if below else lowest - 1.0


def calibrate_refusal(program: dspy.Module, devset: list[dspy.Example], recall: float = DEFAULT_RECALL) -> float | None:
    """The refusal threshold of a distilled QA `program` refusing `recall` of the unanswerable questions of
    `devset`; None when none is unanswerable or the program's answer LM cannot score."""
    if not any(is_unanswerable(gold_answers(example)) for example in devset):
        return None
    program.refusal_threshold = None
    lm = program.generate_answer.lm or dspy.settings.lm
    gaps, answers = [], []
    for example in devset:
        prediction = program(**example.inputs())
        answers.append(prediction.answer)
        gaps.append(refusal_gap(lm, prediction.context, example.question, prediction.answer))
    if all(gap is None for gap in gaps):
        return None
    return choose_threshold(gaps, answers, [gold_answers(example) for example in devset], recall)
