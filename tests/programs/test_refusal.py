"""Refusing unanswerable questions: the threshold rule, the student's refusal gap, and where a run keeps it."""

from __future__ import annotations

import math

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from data.loaders import UNANSWERABLE
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from finetune.prompt import build_prompt, format_completion
from programs.rag import RAG
from programs.refusal import calibrate_refusal, choose_threshold, refusal_gap, refuses
from programs.rundir import open_program, read_run_manifest
from programs.signatures import GenerateAnswer
from tests.programs.test_programs import EXAMPLES, PASSAGES, KeywordRetriever, make_example

UNANSWERABLE_GOLD = [UNANSWERABLE]


def test_the_threshold_is_the_highest_that_refuses_the_asked_share_of_unanswerable_questions():
    gaps = [-4.0, -1.0, 0.5, -2.0, -3.0, 1.0, -5.0]
    answers = ["Miralune", "glass", "wrong", "wrong", "wrong", "wrong", "wrong"]
    golds = [["Miralune"], ["glass"], UNANSWERABLE_GOLD, ["Elna"], *[UNANSWERABLE_GOLD] * 3]
    half = choose_threshold(gaps, answers, golds, recall=0.5)
    assert half == pytest.approx(-0.25)  # refuses the two highest (1.0, 0.5), halfway to the next gap (-1.0)
    assert refuses(0.5, half) and not refuses(-1.0, half)
    assert choose_threshold(gaps, answers, golds, recall=0.75) == pytest.approx(-3.5)  # down to -3.0; next is -4.0
    assert choose_threshold(gaps, answers, golds, recall=1.0) == pytest.approx(-6.0)  # below every gap


def test_answers_already_unanswerable_count_towards_the_share():
    gaps, answers = [None, 0.3, -0.2], [UNANSWERABLE, "x", "y"]
    golds = [UNANSWERABLE_GOLD, UNANSWERABLE_GOLD, ["Elna"]]
    assert choose_threshold(gaps, answers, golds, recall=0.5) is None  # one of two refused already
    assert choose_threshold(gaps, answers, golds, recall=1.0) == pytest.approx(0.05)


def test_no_threshold_without_an_unanswerable_question_to_refuse():
    assert choose_threshold([-4.0, 1.0], ["wrong", "glass"], [["Elna"], ["glass"]]) is None
    assert not refuses(5.0, None) and not refuses(None, -10.0)


@pytest.fixture
def student(tiny_t5_dir) -> StudentLM:
    return StudentLM.from_base(str(tiny_t5_dir), backend="transformers", compute_type="float32")


def test_the_gap_compares_the_refusal_with_the_answer_under_the_trained_prompt(student):
    context = ["Zorvath | Zorvath is a river city founded by Queen Elna."]
    gap = refusal_gap(student, context, "Who founded Zorvath?", "Queen Elna")
    prompt = build_prompt(GenerateAnswer, {"context": context, "question": "Who founded Zorvath?"})
    answer, refusal = student.score(
        prompt.render(student.prompt_budget()),
        [format_completion(GenerateAnswer, {"answer": text}) for text in ("Queen Elna", UNANSWERABLE)],
    )
    assert gap == pytest.approx(refusal - answer)
    assert refusal_gap(student, context, "Who founded Zorvath?", "Unanswerable.") is None
    assert refusal_gap(DummyLM([{"answer": "x"}]), context, "Who founded Zorvath?", "Queen Elna") is None


def test_a_program_refuses_when_the_gap_reaches_its_threshold(student):
    program = RAG(KeywordRetriever(PASSAGES), k=2)
    with dspy.context(lm=student, adapter=StudentAdapter()):
        answer = program(question="Who founded Zorvath?").answer
        program.refusal_threshold = math.inf
        assert program(question="Who founded Zorvath?").answer == answer
        program.refusal_threshold = -math.inf
        assert program(question="Who founded Zorvath?").answer == UNANSWERABLE


def test_calibration_needs_unanswerable_validation_questions_and_a_scoring_lm():
    program = RAG(KeywordRetriever(PASSAGES), k=2)
    unanswerable = make_example("u1", "Who painted the Night Watch?", UNANSWERABLE_GOLD, [])
    assert calibrate_refusal(program, EXAMPLES) is None  # answers nothing: no unanswerable question
    with dspy.context(lm=DummyLM([{"answer": "Miralune"}] * 6)):
        assert calibrate_refusal(program, [*EXAMPLES, unanswerable]) is None


def test_the_runs_distilled_program_opens_with_the_saved_threshold(tiny_run):
    manifest = read_run_manifest(tiny_run)
    manifest["student"]["refusal_threshold"] = -1.5
    assert open_program(tiny_run, manifest, use="student").refusal_threshold == -1.5
    assert open_program(tiny_run, manifest, use="teacher").refusal_threshold is None
    del manifest["student"]["refusal_threshold"]  # runs compiled before the setting never refuse
    assert open_program(tiny_run, manifest, use="student").refusal_threshold is None
