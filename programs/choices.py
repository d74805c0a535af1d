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

Names in full (a program's `full_names`, learned at compile time): data sets differ in how they write a chosen
name. HotpotQA's gold answer to "Who was born earlier, Emma Bull or Virginia Woolf?" is "Adeline Virginia Woolf",
the name her passage opens with, while a question's own wording is the gold answer elsewhere. `full_name` finds
that longer name in the passages read, and `learns_full_names` tells from the training questions which form their
answers take, counted where the two differ; only when the full name wins there does the program answer with it.

Simplified: English question shapes only, two options at most, one "or" per question; an LM that cannot score
(a teacher, a served student) keeps its generated answer; a passage's opening name is the text before its first
parenthesis, comma, semicolon, full stop or "is/was/are/were/or" (no parsing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dspy
from dspy.evaluate.metrics import normalize_text

from optimizers.metrics import exact_match, gold_answers
from programs.refusal import score_answers

YES_NO = ["yes", "no"]
AUXILIARIES = frozenset(
    "is are was were do does did can could has have had will would shall should may might must".split()
)
QUESTION_WORDS = frozenset("who whom whose which what when where why how".split())
MAX_OPTION_WORDS = 12
"""An "option" longer than this is a clause, not a name."""

_OPENING_END = re.compile(r"\s\(|[,;]\s|(?<=[a-z]{2})\.\s|\s(?:is|was|are|were|or)\s")
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


def full_name(option: str, passages: list[str]) -> str | None:
    """The longer name that holds every word of `option` in order and that a passage (`title | text`, as the
    answer step reads it) opens with, from the first such passage, or None: "Adeline Virginia Woolf" for "Virginia
    Woolf" from "Adeline Virginia Woolf (25 January 1882 - 28 March 1941) was an English writer"."""
    wanted = normalize_text(option).split()
    for passage in passages:
        opening = _OPENING_END.split(passage.split(" | ", 1)[-1].strip(), maxsplit=1)[0]
        words = normalize_text(opening).split()
        remaining = iter(words)
        if len(wanted) < len(words) <= MAX_OPTION_WORDS and all(word in remaining for word in wanted):
            return opening
    return None


def learns_full_names(examples: list[dspy.Example], passages: Mapping[str, Any]) -> bool:
    """Whether the gold answers of the "X or Y" questions among `examples` name an option in full, as its gold
    passage (`passages`: pid -> passage with `title` and `text`) opens, more often than as the question offers
    it, counting the options whose two forms differ."""
    in_full = as_offered = 0
    for example in examples:
        golds = gold_answers(example)
        read = [
            f"{passage.title} | {passage.text}"
            for pid in example.get("gold_pids") or []
            if (passage := passages.get(pid))
        ]
        for option in offered_options(" ".join(str(example.question).split())):
            name = full_name(option, read)
            if name is not None:
                in_full += exact_match(name, golds)
                as_offered += exact_match(option, golds)
    return in_full > as_offered
