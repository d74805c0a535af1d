"""Three DSPy programs nobody tuned the student on, with their data and a recorded teacher (`benchmarks.distill_any`).

They are written in other styles than the bundled examples: signatures made from a dict of fields and from
typed strings, a bare `ChainOfThought` as the whole program, a module whose steps' signatures are constructor
arguments.

- `email_desk`: one `dspy.ChainOfThought` step reading a customer email: `intent` (`Literal`), the `people` it
  names (`list[str]`) and its `priority` (an `Enum`).
- `order_desk`: two steps sharing field names: `extract` reads a `message` into an `order` (a pydantic model:
  item, quantity, express), `confirm` reads the same `message` and that `order` and writes a `reply`.

- `squad_reader`: real text, the hard one: a `ChainOfThought` step reads a SQuAD passage (up to 337 words) and a
  crowd-written question into a short `answer` copied from the passage and its `kind` (`Literal`: a number, a
  name or another phrase, a rule of the answer's words).

`email_desk()`, `OrderDesk()` and `SquadReader()` build the programs, `*_examples(seed)` 88 examples (48 to
train, 40 held out; the first two made from templates, which differ from the bundled examples' in `examples/`,
the third drawn from the SQuAD sample in `data/samples/`), `*_teacher(examples)` a `DummyLM` answering every step
as a strong LM would (right on every example: SQuAD's first gold answer), and `*_metric` the task's metric.

Simplified: the first two are templated text; the SQuAD sample's questions all come from one article; the
recorded teacher stands in for a hosted LM, as it does offline everywhere.
"""

from __future__ import annotations

import enum
import json
import random
from typing import Literal

import dspy
from dspy.utils import DummyLM
from pydantic import BaseModel

from data.loaders import SAMPLES_DIR
from optimizers.metrics import exact_match

PEOPLE = ["Ana Silva", "Tom Berg", "Mei Lin", "Omar Haddad", "Lena Vogel", "Raj Patel", "Sofia Rossi", "Jon Park"]


class Priority(enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


ReadEmail = dspy.Signature(
    {
        "email": (str, dspy.InputField()),
        "intent": (Literal["meeting", "quote", "complaint", "cancellation"], dspy.OutputField()),
        "people": (list[str], dspy.OutputField(desc="full names of the people the email names")),
        "priority": (Priority, dspy.OutputField()),
    },
    "Read a customer email: what the sender wants, the people it names, and how soon it must be handled.",
)


def email_desk() -> dspy.Module:
    """The program: the reasoning step itself, with no module around it."""
    return dspy.ChainOfThought(ReadEmail)


ASKS = {
    "meeting": ["Could we meet with {a} next week", "Please book a call with {a} on Monday",
                "Can {a} join us for a meeting on Friday"],
    "quote": ["Please send a price quote for forty chairs to {a}", "What would {a} pay for a yearly licence",
              "Could you quote {a} for the new printers"],
    "complaint": ["{a} received a broken lamp and is unhappy", "The service {a} got yesterday was rude",
                  "{a} is still waiting for a refund and is upset"],
    "cancellation": ["Please cancel the subscription of {a}", "{a} wants to end the contract",
                     "Stop the weekly deliveries to {a}"],
}  # fmt: skip
URGENCY = {Priority.HIGH: "We need an answer by tomorrow.", Priority.LOW: "No hurry, whenever you have a moment.",
           Priority.NORMAL: "Thank you."}  # fmt: skip


def email_examples(seed: int = 3, count: int = 88) -> list[dspy.Example]:
    """Emails with their intent, people and priority (the people appear as written)."""
    rng, examples, seen = random.Random(seed), [], set()
    while len(examples) < count:
        intent, priority = rng.choice(list(ASKS)), rng.choice(list(Priority))
        people = rng.sample(PEOPLE, rng.choice([1, 2]))
        named = " and ".join(people)
        email = f"Hello, {rng.choice(ASKS[intent]).format(a=named)}. {URGENCY[priority]} Best, the office"
        if email not in seen:
            seen.add(email)
            examples.append(
                dspy.Example(email=email, intent=intent, people=people, priority=priority).with_inputs("email")
            )
    return examples


def email_teacher(examples: list[dspy.Example]) -> DummyLM:
    """Every email answered right, with a one-sentence reasoning."""
    answers = {}
    for ex in examples:
        reasoning = (
            f"The sender asks about a {ex.intent}, names {' and '.join(ex.people)}, priority {ex.priority.value}."
        )
        answers[f"[[ ## email ## ]]\n{ex.email}\n"] = {
            "reasoning": reasoning, "intent": ex.intent, "people": json.dumps(ex.people), "priority": ex.priority.value,
        }  # fmt: skip
    return DummyLM(answers)


def email_metric(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """Right intent, the same people (any order) and the right priority."""
    return (
        prediction.intent == example.intent
        and sorted(prediction.people or []) == sorted(example.people)
        and prediction.priority == example.priority
    )


class Order(BaseModel):
    item: str
    quantity: int
    express: bool


ExtractOrder = dspy.Signature("message: str -> order: Order", "Read the order in the customer's message.")
ConfirmOrder = dspy.Signature(
    "message: str, order: Order -> reply: str",
    "Write the one-line confirmation of the order in the customer's message.",
)


class OrderDesk(dspy.Module):
    def __init__(self, extract: type[dspy.Signature] = ExtractOrder, confirm: type[dspy.Signature] = ConfirmOrder):
        super().__init__()
        self.extract = dspy.Predict(extract)
        self.confirm = dspy.Predict(confirm)

    def forward(self, message: str) -> dspy.Prediction:
        extracted = self.extract(message=message)
        confirmed = self.confirm(message=message, order=extracted.order)
        return dspy.Prediction(order=extracted.order, reply=confirmed.reply)


ITEMS = ["desk lamps", "office chairs", "printer cartridges", "monitors", "keyboards", "whiteboards", "headsets"]
ORDERS = ["Please send {q} {i}{e}.", "I would like to order {q} {i}{e}.", "We need {q} {i} for the new team{e}.",
          "Can you ship {q} {i}{e}?"]  # fmt: skip


def confirmation(order: Order) -> str:
    """The reply a strong LM writes for an order."""
    return f"Confirmed: {order.quantity} {order.item}, {'express' if order.express else 'standard'} delivery."


def order_examples(seed: int = 5, count: int = 88) -> list[dspy.Example]:
    """Order messages with the order and the confirmation."""
    rng, examples, seen = random.Random(seed), [], set()
    while len(examples) < count:
        order = Order(item=rng.choice(ITEMS), quantity=rng.randint(2, 60), express=rng.random() < 0.5)
        urgency = rng.choice([" by express delivery", " as an express order"]) if order.express else ""
        message = rng.choice(ORDERS).format(q=order.quantity, i=order.item, e=urgency)
        if message not in seen:
            seen.add(message)
            examples.append(
                dspy.Example(message=message, order=order, reply=confirmation(order)).with_inputs("message")
            )
    return examples


def order_teacher(examples: list[dspy.Example]) -> DummyLM:
    """Both steps answered right for every message."""
    answers = {}
    for ex in examples:
        answers[f"[[ ## message ## ]]\n{ex.message}\n\n[[ ## order ## ]]"] = {"reply": ex.reply}
        answers[f"[[ ## message ## ]]\n{ex.message}\n\nRespond"] = {"order": ex.order.model_dump_json()}
    return DummyLM(answers)


def order_metric(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """The right order and the exact confirmation."""
    return prediction.order == example.order and prediction.reply == example.reply


ReadPassage = dspy.Signature(
    "passage: str, question: str -> answer: str, kind: Literal['number', 'name', 'phrase']",
    "Answer the question with the shortest span of the passage that answers it, and say what kind of answer it is: "
    "a number (it holds a digit), a name (every word capitalized) or another phrase.",
)


class SquadReader(dspy.Module):
    def __init__(self):
        super().__init__()
        self.read = dspy.ChainOfThought(ReadPassage)

    def forward(self, passage: str, question: str) -> dspy.Prediction:
        return self.read(passage=passage, question=question)


def answer_kind(answer: str) -> str:
    """`number` when the answer holds a digit, `name` when every word is capitalized, else `phrase`."""
    if any(char.isdigit() for char in answer):
        return "number"
    return "name" if all(word[:1].isupper() for word in answer.split()) else "phrase"


def squad_examples(seed: int = 7, count: int = 88) -> list[dspy.Example]:
    """`count` questions of the SQuAD sample, drawn at random, with their gold passage, answers and answer kind."""
    rows = [json.loads(line) for line in (SAMPLES_DIR / "squad_v1.1_dev_sample.jsonl").open(encoding="utf-8")]
    examples = []
    for row in random.Random(seed).sample(rows, count):
        answer = row["answers"][0]
        example = dspy.Example(passage=row["gold_passages"][0], question=row["question"], answer=answer,
                               kind=answer_kind(answer), answers=row["answers"])  # fmt: skip
        examples.append(example.with_inputs("passage", "question"))
    return examples


def squad_teacher(examples: list[dspy.Example]) -> DummyLM:
    """Every question answered with its first gold answer, after a one-sentence reasoning."""
    answers = {}
    for ex in examples:
        reasoning = f"The passage gives the answer to '{ex.question}': {ex.answer}."
        answers[f"[[ ## question ## ]]\n{ex.question}\n"] = {
            "reasoning": reasoning,
            "answer": ex.answer,
            "kind": ex.kind,
        }
    return DummyLM(answers)


def squad_metric(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    """SQuAD's exact match against any gold answer, and the right kind."""
    return bool(exact_match(prediction.answer or "", example.answers)) and prediction.kind == example.kind


PROGRAMS = {
    "email_desk": (email_desk, email_examples, email_teacher, email_metric),
    "order_desk": (OrderDesk, order_examples, order_teacher, order_metric),
    "squad_reader": (SquadReader, squad_examples, squad_teacher, squad_metric),
}
"""Name -> (program builder, examples, teacher, metric)."""
