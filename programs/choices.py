"""Questions that offer their answers: "Is X older than Y?" (yes or no) and "Which is older, X or Y?" (X or Y).

A third of HotpotQA's questions are of these kinds, and a 135M student reads them badly: it says "yes" to every
yes/no question it was trained on a few of, and on "X or Y" questions writes a name from its passages that is
neither. Such an answer is a choice, like a `Literal` output of a user's signature (which `finetune.adapter`
decides by scoring), so it is chosen rather than generated: `question_choices` finds the offered answers in the
question, and `choose` scores each with the student after the answer step's prompt and picks the one the
passages raise the most, its log-probability with the passages minus without them (contextual calibration, Zhao
et al. 2021, "Calibrate Before Use"): "yes" is likely after any question for this student, and a short name more
likely than a long one, with or without passages; what the passages add is the evidence.

`question_choices` reads two patterns:
- two options joined by "or", each starting with a capital or a digit (quotes removed): after the question's
  first comma or colon and up to the next comma, colon or "?" ("Which band, Letters to Cleo or Screaming Trees, had more
  members?"), or else the capitalized runs around the "or" ("Is the Marsilea or the Brabejum the genus ...?");
- yes or no, for any other question opening with an auxiliary verb ("Were Scott Derrickson and Ed Wood of the
  same nationality?").

Simplified: English question shapes only, two options at most, one "or" per question; an LM that cannot score
(a teacher, a served student) keeps its generated answer.
"""

from __future__ import annotations

import re
from typing import Any

from programs.refusal import score_answers

YES_NO = ["yes", "no"]
AUXILIARIES = frozenset(
    "is are was were do does did can could has have had will would shall should may might must".split()
)
QUESTION_WORDS = frozenset("who whom whose which what when where why how".split())
MAX_OPTION_WORDS = 12
"""An "option" longer than this is a clause, not a name."""

_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def question_choices(question: str) -> list[str]:
    """The answers `question` offers: its two options, yes and no, or none (an open question)."""
    text = " ".join(str(question).split())
    options = offered_options(text)
    if options:
        return options
    first = text.split(" ", 1)[0].lower()
    return list(YES_NO) if first in AUXILIARIES else []


def offered_options(text: str) -> list[str]:
    """The two options of an "X or Y" question (whitespace already collapsed), or [] when it offers none."""
    if len(re.findall(r"\sor\s", text)) != 1:
        return []
    left, right = re.split(r"\sor\s", text)
    delimited = re.search(r"[,:]\s", left)
    if delimited:
        left = left[delimited.end() :]
        right = re.split(r"[,:;?]", right, maxsplit=1)[0]
    else:
        left = capitalized_run(left.split(), from_end=True)
        right = capitalized_run(_ARTICLE.sub("", right).split(), from_end=False)
    options = [_ARTICLE.sub("", option.strip()).strip(_QUOTES + " ") for option in (left, right)]
    if all(is_option(option) for option in options) and options[0].lower() != options[1].lower():
        return options
    return []


def capitalized_run(words: list[str], *, from_end: bool) -> str:
    """The longest run of capitalized words, none a question word or an auxiliary, at the end (or the start) of
    `words`; a run from the start ends at the first word with trailing punctuation."""
    run: list[str] = []
    for word in reversed(words) if from_end else words:
        if not word[:1].isupper() or word.lower() in AUXILIARIES | QUESTION_WORDS:
            break
        run.append(word)
        if not from_end and word[-1] in "?,;:":
            break
    return " ".join(reversed(run) if from_end else run).rstrip("?,;:")


def is_option(text: str) -> bool:
    """Whether `text` reads as a named option: it starts with a capital or a digit, and is short."""
    return bool(text) and (text[0].isupper() or text[0].isdigit()) and len(text.split()) <= MAX_OPTION_WORDS


def choose(lm: Any, context: list[str], question: str, choices: list[str]) -> str | None:
    """The choice whose log-probability the passages raise the most (ties: the first), under the student `lm`;
    None when `lm` cannot score."""
    read = score_answers(lm, context, question, choices)
    if read is None:
        return None
    prior = score_answers(lm, [], question, choices)
    gains = [with_passages - without for with_passages, without in zip(read, prior, strict=True)]
    return choices[gains.index(max(gains))]
