"""Refusing unanswerable questions: the student weighs "unanswerable" against its own answer.

A 135M student trained on a few unanswerable questions learns to say `UNANSWERABLE` rarely (about one time in
eight on the SQuAD sample): generating greedily, its first token is almost always the start of some answer. But
it is much less sure of an answer read from passages of another article than of one it found. So after the
answer step generates, the student scores two completions of the same prompt, its answer and `UNANSWERABLE`,
and `refusal_gap` is log p(unanswerable) - log p(answer). A program with a `refusal_threshold` refuses when the
gap reaches it.

The threshold is chosen on the validation questions (`calibrate_refusal`), only when they hold unanswerable ones:
the lowest that refuses none of the answers the student got right there (halfway to the next gap above them), so
refusing costs as little answerable EM as the validation set can tell, provided it refuses at least one
unanswerable question there. It is saved in the run's manifest
(`student.refusal_threshold`) and applied when the run's distilled program is opened (`programs.rundir`).

Simplified: one threshold per run, from a small validation set (20 questions by default); LMs that cannot
score (teachers, a served student) never refuse this way.
"""

from __future__ import annotations

from typing import Any

import dspy

from data.loaders import UNANSWERABLE
from finetune.lm import StudentLM
from finetune.prompt import build_prompt, format_completion
from optimizers.metrics import abstained, exact_match, gold_answers, is_unanswerable
from programs.signatures import GenerateAnswer


def refusal_gap(lm: Any, context: list[str], question: str, answer: str) -> float | None:
    """log p(UNANSWERABLE) - log p(answer) after the answer step's prompt, under `lm`; None when `lm` cannot
    score (not a `StudentLM`) or the answer already is the refusal."""
    if not isinstance(lm, StudentLM) or abstained(answer):
        return None
    prompt = build_prompt(GenerateAnswer, {"context": context, "question": question}).render(lm.prompt_budget())
    candidates = [format_completion(GenerateAnswer, {"answer": text}) for text in (answer, UNANSWERABLE)]
    answer_score, refusal_score = lm.score(prompt, candidates, eos=True)
    return refusal_score - answer_score


def refuses(gap: float | None, threshold: float | None) -> bool:
    """Whether an answer with this refusal gap is replaced by `UNANSWERABLE`."""
    return gap is not None and threshold is not None and gap >= threshold


def choose_threshold(gaps: list[float | None], answers: list[str], golds: list[list[str]]) -> float | None:
    """The lowest threshold that refuses none of the right answers among these questions, halfway between the
    highest gap of a right answer and the next gap above it (0 when no answer is right); None (never refuse)
    when it would refuse no unanswerable question."""
    known = [(gap, answer, gold) for gap, answer, gold in zip(gaps, answers, golds, strict=True) if gap is not None]
    right = [gap for gap, answer, gold in known if not is_unanswerable(gold) and exact_match(answer, gold)]
    if not right:
        threshold = 0.0
    else:
        floor = max(right)
        above = [gap for gap, _, _ in known if gap > floor]
        threshold = (floor + min(above)) / 2 if above else floor + 1.0
    refused = [gap for gap, _, gold in known if is_unanswerable(gold) and refuses(gap, threshold)]
    return threshold if refused else None


def calibrate_refusal(program: dspy.Module, devset: list[dspy.Example]) -> float | None:
    """The refusal threshold of a distilled QA `program` on `devset`; None when no dev question is unanswerable
    or the program's answer LM cannot score."""
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
    return choose_threshold(gaps, answers, [gold_answers(example) for example in devset])
