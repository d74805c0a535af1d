"""Questions that offer their answers: reading the offer, and choosing among it with the student."""

from __future__ import annotations

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from data.loaders import load_examples
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from programs.choices import choose, question_choices
from programs.rag import RAG
from programs.refusal import score_answers
from tests.programs.test_programs import PASSAGES, KeywordRetriever


@pytest.mark.parametrize(
    ("question", "offered"),
    [
        ("Which band, Letters to Cleo or Screaming Trees, had more members?", ["Letters to Cleo", "Screaming Trees"]),
        ("Which film was released first: Sacred Planet or Oz the Great and Powerful?",
         ["Sacred Planet", "Oz the Great and Powerful"]),
        ('Which came to market first, "Hey Pa! There\'s a Goat on the Roof" or "Poleconomy"',
         ["Hey Pa! There's a Goat on the Roof", "Poleconomy"]),
        ("Who was born first Am Rong or Ava DuVernay ?", ["Am Rong", "Ava DuVernay"]),
        ("Is the Marsilea or the Brabejum the genus of more individual species of plants?", ["Marsilea", "Brabejum"]),
        ("Is Gasherbrum II or Nuptse closest to the tallest mountain in the world?", ["Gasherbrum II", "Nuptse"]),
        ("Were Scott Derrickson and Ed Wood of the same nationality?", ["yes", "no"]),
        ("did the Zorvath river flood?", ["yes", "no"]),
        ("What city or town hosted the first games?", []),  # "or" inside an open question offers nothing
        ("Which committee invited companies owned by people, who are transgender or gay, to take part?", []),
        ("Who founded Zorvath?", []),
        ("", []),
    ],
)  # fmt: skip
def test_the_offered_answers_are_read_from_the_question(question, offered):
    assert question_choices(question) == offered


def test_most_bundled_hotpotqa_choice_questions_offer_their_gold_answer():
    rows = load_examples("data/samples/hotpotqa_dev_sample.jsonl")
    offering = [(row, question_choices(row.question)) for row in rows]
    offering = [(row, choices) for row, choices in offering if choices]
    golds = sum(any(choice.lower() in map(str.lower, row.answers) for choice in choices) for row, choices in offering)
    assert len(offering) >= len(rows) // 3
    assert golds >= 0.75 * len(offering)  # the others name a person in full ("Adeline Virginia Woolf")
    assert question_choices("Who founded Zorvath?") == []
    assert not any(question_choices(row.question) for row in load_examples("test"))  # the world: open questions


@pytest.fixture
def student(tiny_t5_dir) -> StudentLM:
    return StudentLM.from_base(str(tiny_t5_dir), backend="transformers", compute_type="float32")


def test_the_choice_is_the_one_the_passages_raise_most_under_the_student(student):
    context = ["Zorvath | Zorvath is a river city founded by Queen Elna."]
    question, offered = "Was Zorvath founded by Queen Elna?", ["yes", "no"]
    read, prior = score_answers(student, context, question, offered), score_answers(student, [], question, offered)
    gains = [with_passages - without for with_passages, without in zip(read, prior, strict=True)]
    assert read != prior  # the passages are part of what is scored
    assert choose(student, context, question, offered) == offered[gains.index(max(gains))]
    assert choose(DummyLM([{"answer": "x"}]), context, question, offered) is None  # a teacher cannot score


@pytest.mark.parametrize("offered_choices", [True, False])
def test_a_program_answers_a_yes_no_question_with_yes_or_no_only_when_choices_are_on(student, offered_choices):
    program = RAG(KeywordRetriever(PASSAGES), k=2, copy_check=False, offered_choices=offered_choices)
    question = "Was Zorvath founded by Queen Elna?"
    with dspy.context(lm=student, adapter=StudentAdapter()):
        answer = program(question=question).answer
        generated = program.generate_answer(context=program(question=question).context, question=question).answer
    if offered_choices:
        assert answer in ("yes", "no")
    else:
        assert answer == generated
    assert generated not in ("yes", "no")  # an untrained student writes something else
