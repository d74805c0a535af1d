"""Write the ticket-triage example's data: `python -m examples.ticket_triage.generate` (deterministic).

Tickets are put together from templates: a greeting, one problem sentence whose wording says the team
(billing, technical, account, shipping), the products it names (none, one or two from a small catalogue)
and, for some, a word that makes it urgent. `train.jsonl` (48), `dev.jsonl` (16) and `test.jsonl` (40) hold
`{"ticket", "category", "products", "urgent"}`; `teacher.jsonl` holds what a strong LM answered for every
ticket (its reasoning and the three fields), which `program.teacher()` replays offline.
"""

from __future__ import annotations

import random
from pathlib import Path

from examples.splits import distinct_rows, write_splits

HERE = Path(__file__).resolve().parent
PRODUCTS = ["Nimbus router", "Atlas phone", "Quill tablet", "Echo speaker", "Vega watch", "Orbit camera",
            "Pulse earbuds", "Terra laptop"]  # fmt: skip
PROBLEMS = {
    "billing": ["I was charged twice for my {p}", "please refund the {p} I returned", "the invoice for my {p} is wrong",
                "my card payment for the {p} failed", "I was overcharged for the {p}"],
    "technical": ["my {p} keeps crashing", "the {p} will not turn on", "my {p} shows an error code",
                  "the {p} keeps disconnecting", "the update broke my {p}"],
    "account": ["I cannot log in to set up my {p}", "please reset my password, I need it for the {p}",
                "I want to change the email on the account of my {p}", "please delete my account and my {p} data",
                "my two-factor code for the {p} app never arrives"],
    "shipping": ["my {p} has not arrived", "the tracking number for my {p} does not work",
                 "my {p} was delivered to the wrong address", "the {p} arrived damaged",
                 "the delivery date of my {p} keeps moving"],
}  # fmt: skip
CUES = {"billing": "a payment", "technical": "a fault", "account": "the account", "shipping": "a delivery"}
URGENT = ["I need this fixed today", "please help asap", "this is urgent", "I need it right now"]
CALM = ["no rush", "thanks in advance", "whenever you can", "have a nice day"]
GREETINGS = ["Hi,", "Hello team,", "Dear support,", "Good morning,", ""]


def ticket(rng: random.Random) -> dict:
    """One ticket with its labels and the teacher's answer."""
    category = rng.choice(list(PROBLEMS))
    products = rng.sample(PRODUCTS, rng.choice([1, 1, 2]))
    problem = rng.choice(PROBLEMS[category]).format(p=products[0])
    if len(products) == 2:
        problem += f", and the same goes for my {products[1]}"
    urgent = rng.random() < 0.4
    closing = rng.choice(URGENT if urgent else CALM)
    sentences = [rng.choice(GREETINGS), f"{problem[0].upper()}{problem[1:]}.", f"{closing[0].upper()}{closing[1:]}."]
    text = " ".join(part for part in sentences if part)
    named = " and ".join(products)
    reasoning = f"The ticket is about {CUES[category]}, so {category} handles it; it names the {named}; " + (
        "it asks for help now, so it is urgent." if urgent else "nothing in it is urgent."
    )
    labels = {"category": category, "products": products, "urgent": urgent}
    return {"ticket": text, **labels, "teacher": {"reasoning": reasoning, **labels}}


def main() -> None:
    rows = distinct_rows(ticket, "ticket", seed=7)
    public = [{k: v for k, v in row.items() if k != "teacher"} for row in rows]
    write_splits(HERE, public, teacher=[{"ticket": row["ticket"], "outputs": row["teacher"]} for row in rows])


if __name__ == "__main__":
    main()
