"""Which systems of a report are there to be compared with, and how many questions they answer.

A report scores the distilled student on every test question. The systems it is compared with are slow on a
small local machine: a teacher, an untrained base model writing until its token cap, the same student behind a
second retriever. `baseline_limit=N` has them answer the first N questions only (each system's `questions` in the
report says how many). Both evaluators (`evaluation` for the bundled QA programs, `user_program` for a user's own)
apply the same rule through `questions_for`.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

BASELINES = ("teacher_zero_shot", "teacher_compiled", "student_base")
"""Systems that are there to be compared with, and slow locally (a teacher, or a base model writing until its cap)."""
OTHER_RETRIEVER = "student_distilled@"
"""Prefix of the distilled student behind a retriever other than the run's (`student_distilled@bm25`)."""


def is_comparison(name: str) -> bool:
    """Whether system `name` is a baseline or the distilled student behind another retriever."""
    return name in BASELINES or name.startswith(OTHER_RETRIEVER)


def questions_for(name: str, examples: list[T], baseline_limit: int | None) -> list[T]:
    """The questions system `name` answers: the first `baseline_limit` for a comparison (all when None)."""
    return examples[:baseline_limit] if baseline_limit and is_comparison(name) else examples
