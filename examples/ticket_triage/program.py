"""A support-ticket triager: one `dspy.ChainOfThought` step with typed outputs (`Literal`, `list[str]`, `bool`).

This is the kind of program a DSPy user writes for their own task; ragdistill distils it like any other:

    python -m programs.compile --program examples.ticket_triage.program:build \
        --metric examples.ticket_triage.program:metric --teacher examples.ticket_triage.program:teacher \
        --train examples/ticket_triage/train.jsonl --dev examples/ticket_triage/dev.jsonl \
        --test examples/ticket_triage/test.jsonl --name triage

`teacher()` stands in for a hosted LM (`--teacher openai/gpt-4o-mini` with a key): a `dspy.utils.DummyLM` that
replays the answers a strong LM gave for the bundled tickets (`teacher.jsonl`, written with the data by
`generate.py`), so the example runs offline. Simplified: the tickets are generated from templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import dspy
from dspy.utils import DummyLM

HERE = Path(__file__).resolve().parent
Category = Literal["billing", "technical", "account", "shipping"]


class TriageTicket(dspy.Signature):
    """Sort a customer support ticket: the team that handles it, the products it names, and whether it is urgent."""

    ticket: str = dspy.InputField()
    category: Category = dspy.OutputField()
    products: list[str] = dspy.OutputField(desc="the products the ticket names, as written")
    urgent: bool = dspy.OutputField()


class TicketTriage(dspy.Module):
    """Reason about the ticket, then answer every field."""

    def __init__(self):
        super().__init__()
        self.triage = dspy.ChainOfThought(TriageTicket)

    def forward(self, ticket: str) -> dspy.Prediction:
        return self.triage(ticket=ticket)


def build() -> dspy.Module:
    """The program (`--program examples.ticket_triage.program:build`)."""
    return TicketTriage()


def metric(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """Right team, the same products (in any order) and the right urgency."""
    return (
        prediction.category == example.category
        and sorted(prediction.products or []) == sorted(example.products)
        and prediction.urgent == example.urgent
    )


def teacher() -> dspy.BaseLM:
    """The offline stand-in for a hosted teacher: the recorded answers, keyed by ticket."""
    answers = {}
    for line in (HERE / "teacher.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        outputs = {
            name: value if isinstance(value, str) else json.dumps(value) for name, value in row["outputs"].items()
        }
        answers[f"[[ ## ticket ## ]]\n{row['ticket']}\n"] = outputs
    return DummyLM(answers)
