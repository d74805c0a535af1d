"""Questions that offer their answers: reading the offer, and choosing among it with the student."""

from __future__ import annotations

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from data.loaders import SAMPLES_DIR, WORLD_CORPUS, load_corpus, load_examples
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from programs.choices import choose, full_name, learns_full_names, question_choices
from programs.rag import RAG
from programs.refusal import score_answers
from programs.rundir import open_program, read_run_manifest
from retrieval.base import Hit
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


WOOLF = "Virginia Woolf | Adeline Virginia Woolf (25 January 1882 - 28 March 1941) was an English writer."
BULL = "Emma Bull | Emma Bull (born December 13, 1954) is an American science fiction and fantasy author."


@pytest.mark.parametrize(
    ("option", "passages", "named"),
    [
        ("Virginia Woolf", [BULL, WOOLF], "Adeline Virginia Woolf"),
        ("Doug Liman", ['Doug Liman | Douglas Eric "Doug" Liman (born July 24, 1965) is an American director.'],
         'Douglas Eric "Doug" Liman'),
        ("Bearno's", ["Bearno's | Bearno's Pizza is a pizza chain in Louisville."], "Bearno's Pizza"),
        ("Emma Bull", [BULL, WOOLF], None),  # her passage opens with her name as offered
        ("Daviesia", ["Daviesia | Daviesia, commonly known as Bitter-peas, is a genus of shrubs."], None),
        ("New York Enterprise Report", ["NYER | The New York Enterprise Report or NY Report is a magazine."], None),
        ("Woolf", ["Walls | Thick walls keep a house warm. Adeline Virginia Woolf wrote."], None),  # openings only
    ],
)  # fmt: skip
def test_a_name_in_full_is_the_longer_name_a_passage_opens_with(option, passages, named):
    assert full_name(option, passages) == named


def test_full_names_are_learnt_from_hotpotqa_training_answers_and_not_from_the_worlds():
    hotpotqa = {passage.pid: passage for passage in load_corpus(SAMPLES_DIR / "hotpotqa_dev_sample_corpus.jsonl")}
    assert learns_full_names(load_examples(str(SAMPLES_DIR / "hotpotqa_dev_sample.jsonl") + "[:158]"), hotpotqa)
    world = {passage.pid: passage for passage in load_corpus(WORLD_CORPUS)}
    assert not learns_full_names(load_examples("train"), world)  # no question offers its answers
    assert not learns_full_names(load_examples(str(SAMPLES_DIR / "hotpotqa_dev_sample.jsonl") + "[:158]"), {})


def test_a_student_that_learnt_full_names_answers_its_choice_in_full(student):
    hits = [Hit(f"p{i}", *passage.split(" | "), 0.0) for i, passage in enumerate([BULL, WOOLF])]
    question = "Who was born earlier, Emma Bull or Virginia Woolf?"
    program = RAG(KeywordRetriever(hits), k=2, copy_check=False)
    with dspy.context(lm=student, adapter=StudentAdapter()):
        offered = program(question=question)
        program.full_names = True
        in_full = program(question=question)
    assert offered.answer in ("Emma Bull", "Virginia Woolf")
    assert in_full.answer == {"Emma Bull": "Emma Bull", "Virginia Woolf": "Adeline Virginia Woolf"}[offered.answer]


def test_the_runs_distilled_program_opens_knowing_whether_it_names_in_full(tiny_run):
    manifest = read_run_manifest(tiny_run)
    assert (
        open_program(tiny_run, manifest, use="student").full_names is False
    )  # no training question offers its answers
    manifest["student"]["full_names"] = True
    assert open_program(tiny_run, manifest, use="student").full_names is True
    assert open_program(tiny_run, manifest, use="teacher").full_names is False
