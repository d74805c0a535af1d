"""Gold runs: the program run on a training example with every step answering its gold target.

Gold targets (`optimizers.targets`) say what each predictor call should output. Written into the teacher's own
trace they keep the inputs the teacher's run saw — and when a weak teacher's first query finds the wrong
passages, the second query and the answer are then taught on a context that lacks what they need (the student
learns to guess). A gold run re-runs the program instead: each predictor call returns its gold outputs, so the
next search uses the gold query and every later step sees what the gold queries retrieve. It costs searches
only, no LM call, which is why distillation asks the teacher about a few training questions and fills the
rest with gold runs (`Distill(teacher_questions=...)`).

While `gold_run` lasts, the program's predictors answer from `optimizers.targets.gold_outputs` (their
`forward` is replaced on the instance and restored after). A query step with no gold target (a later hop whose
missing passage's title none of its inputs names) searches with the question itself and is left out
of the trace, as is any call without a gold target: only calls with a gold target become training data.
An answer step whose context does not hold its gold answer (the gold queries' searches missed it) answers it
but is left out of the trace too: taught there, the student would learn to guess. (Answers no passage spells out,
`ANSWERS_NOT_READ`, stay: a yes/no question's, an unanswerable one's `UNANSWERABLE`.)

Simplified: runs are sequential (the predictors are patched in place, so the program must not answer anything
else at the same time); a step with no gold target and no `question` input ends the run (no trace).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dspy
from dspy.evaluate.metrics import normalize_text

from data.loaders import UNANSWERABLE
from optimizers.metrics import answer_in_context, gold_answers
from optimizers.targets import QUERY_FIELD, QueryTargets, gold_outputs

ANSWERS_NOT_READ = ("yes", "no", UNANSWERABLE)
"""Gold answers (normalized) taught from any context: a passage says why, never the word itself."""


class NoGoldTarget(Exception):
    """A step had neither a gold target nor a question to search with."""


@contextmanager
def _answering_gold(program: dspy.Module, example: dspy.Example, queries: QueryTargets | None,
                    trace: list[tuple]) -> Iterator[None]:  # fmt: skip
    """Make every predictor of `program` return its gold outputs (recorded in `trace`) while the block runs."""

    def gold_forward(predictor: dspy.Predict):
        def forward(**inputs: Any) -> dspy.Prediction:
            outputs = gold_outputs(predictor, inputs, example, queries)
            if outputs is not None:
                prediction = dspy.Prediction(**outputs)
                if not answer_unread(inputs, outputs, example):
                    trace.append((predictor, dict(inputs), prediction))
                return prediction
            if list(predictor.signature.output_fields) == [QUERY_FIELD] and inputs.get("question"):
                return dspy.Prediction(**{QUERY_FIELD: inputs["question"]})
            raise NoGoldTarget(predictor.signature.__name__)

        return forward

    predictors = program.predictors()
    for predictor in predictors:
        predictor.forward = gold_forward(predictor)
    try:
        yield
    finally:
        for predictor in predictors:
            del predictor.forward


def answer_unread(inputs: dict[str, Any], outputs: dict[str, Any], example: dspy.Example) -> bool:
    """Whether a call answers (an `answer` among its gold outputs) from passages (a list `context`) that do not hold
    the example's answer or an alias of it."""
    context = inputs.get("context")
    if "answer" not in outputs or not isinstance(context, list) or not context:
        return False
    golds = gold_answers(example)
    if any(normalize_text(gold) in ANSWERS_NOT_READ for gold in golds):
        return False
    return not answer_in_context(golds, [str(passage) for passage in context])


def gold_run(program: dspy.Module, example: dspy.Example, queries: QueryTargets | None) -> list[tuple]:
    """The (predictor, inputs, gold outputs) calls of one gold run of `program` on `example` (empty: no run)."""
    trace: list[tuple] = []
    with _answering_gold(program, example, queries, trace):
        try:
            program(**example.inputs())
        except NoGoldTarget:
            return []
    return trace


def gold_runs(program: dspy.Module, examples: list[tuple[int, dspy.Example]],
              queries: QueryTargets | None) -> list[dict[str, Any]]:  # fmt: skip
    """`bootstrap_trace_data`-shaped items (example_ind, example, prediction, trace, score) of gold runs, one
    per (index, example) that yields at least one call with a gold target."""
    items = []
    for index, example in examples:
        if trace := gold_run(program, example, queries):
            prediction = dspy.Prediction(**example.labels())
            items.append({"example_ind": index, "example": example, "prediction": prediction, "trace": trace,
                          "score": True})  # fmt: skip
    return items
