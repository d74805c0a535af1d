"""The DSPy signatures our programs are made of: each docstring is the task instruction an LM sees.

Kept as plain as DSPy's tutorials: string fields only, no typed outputs, no reasoning field (a small
student learns a short answer more easily than a rationale followed by an answer).
"""

from __future__ import annotations

import dspy

from optimizers.targets import NO_QUERY


class GenerateAnswer(dspy.Signature):
    """Answer the question with a short phrase taken from the context."""

    context: list[str] = dspy.InputField(desc="passages that may contain the answer, each as 'title | text'")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")


class GenerateSearchQuery(dspy.Signature):
    """Write a simple search query that will help answer the question, given what the context already says."""

    context: list[str] = dspy.InputField(desc="passages found so far, each as 'title | text'")
    question: str = dspy.InputField()
    query: str = dspy.OutputField(desc=f"a few keywords naming what is still missing, or '{NO_QUERY}' if nothing is")


class ClosedBookAnswer(dspy.Signature):
    """Answer the question with a short phrase."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")
