"""Every optimizer compiles RAG over the tiny keyword retriever with a DummyLM and gains demos or instructions.

The LM (`DemoFollowingLM`) answers a known question correctly only when its prompt shows demonstrations,
as a weak model might: so bootstrapping succeeds (the teacher carries labeled demos), and the searching
optimizers can only win by choosing a candidate with demos over the zero-shot program.
"""

from __future__ import annotations

from collections.abc import Iterator

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from core.errors import RagdistillError
from optimizers import OPTIMIZERS, make_optimizer
from optimizers.bootstrap import Bootstrap
from optimizers.fewshot import FewShot, ZeroShot
from optimizers.metrics import answer_exact_match, short_answer_exact_match
from optimizers.mipro import MIPRO
from optimizers.random_search import RandomSearch
from programs.rag import RAG, MultiHopRAG
from tests.programs.test_programs import EXAMPLES, PASSAGES, KeywordRetriever

# What MIPROv2's instruction proposer asks its prompt model for (dataset summary, program and module
# descriptions, the instruction itself).
PROPOSER_FIELDS = {
    "observations": "Questions about a fictional world, answered with names.",
    "summary": "Short factual questions about a fictional world.",
    "program_description": "Retrieves passages and answers from them.",
    "module_description": "Answers from the retrieved passages.",
    "proposed_instruction": "Reply with the exact name from the passages.",
}


class DemoFollowingLM(DummyLM):
    """A DummyLM that knows each training question's answer but gives it only when shown demos.

    Every reply also fills `query` (the question itself) and the proposer's fields, so any signature parses.
    `prompts` collects every request's messages; copies of the LM (DSPy makes some) share it.
    """

    def __init__(self, examples: list[dspy.Example]):
        super().__init__({}, follow_examples=True)
        self.answers = {example.question: example.answer for example in examples}
        self.prompts: list[list[dict]] = []

    def _use_example(self, messages: list[dict]) -> str:
        self.prompts.append(messages)
        fields = {"answer": "unknown", "query": "unknown", **PROPOSER_FIELDS}
        shows_demos = len(messages) > 2  # system + (user, assistant) demo pairs + the question
        for question, answer in self.answers.items():
            if question in messages[-1]["content"]:
                fields["query"] = question
                fields["answer"] = answer if shows_demos else "unknown"
        return self._format_answer_fields(fields)


TRAINSET, VALSET = EXAMPLES[:4], EXAMPLES[:3]


@pytest.fixture
def lm() -> Iterator[DemoFollowingLM]:
    lm = DemoFollowingLM(EXAMPLES)
    with dspy.context(lm=lm):
        yield lm


@pytest.fixture
def student() -> RAG:
    return RAG(KeywordRetriever(PASSAGES), k=2)


def accuracy(program: dspy.Module, examples: list[dspy.Example]) -> float:
    return sum(answer_exact_match(example, program(**example.inputs())) for example in examples) / len(examples)


def demos(program: dspy.Module) -> list[list[dspy.Example]]:
    return [predictor.demos for predictor in program.predictors()]


def test_the_test_lm_needs_demos(lm, student):
    assert accuracy(student, VALSET) == 0.0


def test_zero_shot_is_a_fresh_copy(lm, student):
    student.generate_answer.demos = [TRAINSET[0]]
    compiled = ZeroShot().compile(student, trainset=TRAINSET)
    assert compiled is not student
    assert demos(compiled) == [[]]


def test_fewshot_gives_labeled_demos(lm, student):
    compiled = FewShot(k=2).compile(student, trainset=TRAINSET)
    assert len(compiled.generate_answer.demos) == 2
    assert all(demo in TRAINSET for demo in compiled.generate_answer.demos)
    assert demos(student) == [[]]  # the student is untouched
    assert accuracy(compiled, VALSET) == 1.0


def test_bootstrap_keeps_traces_with_their_context(lm, student):
    # The teacher (a copy of the student) answers with labeled demos; the labeled slots are then all taken.
    compiled = Bootstrap(short_answer_exact_match, max_bootstrapped_demos=2, max_labeled_demos=2).compile(
        student, trainset=TRAINSET
    )
    bootstrapped = compiled.generate_answer.demos
    assert len(bootstrapped) == 2
    # A bootstrapped demo is a full trace: the passages the program retrieved, the question and the answer.
    assert bootstrapped[0]["context"][0].startswith("Zorvath | ")
    assert bootstrapped[0]["answer"] == "Queen Elna"
    assert accuracy(compiled, VALSET) == 1.0


def test_bootstrap_multihop_fills_every_predictor(lm):
    student = MultiHopRAG(KeywordRetriever(PASSAGES), k=2)
    compiled = Bootstrap(answer_exact_match, max_bootstrapped_demos=1, max_labeled_demos=1).compile(
        student, trainset=TRAINSET
    )
    assert [len(predictor_demos) for predictor_demos in demos(compiled)] == [1, 1, 1]
    assert "query" in compiled.generate_query[0].demos[0]


def test_random_search_picks_a_program_with_demos(lm, student):
    optimizer = RandomSearch(
        answer_exact_match, max_bootstrapped_demos=2, max_labeled_demos=2, num_candidate_programs=1
    )
    compiled = optimizer.compile(student, trainset=TRAINSET, valset=VALSET)
    assert compiled.generate_answer.demos
    assert accuracy(compiled, VALSET) == 1.0


def test_mipro_searches_instructions_and_demos(lm, student):
    optimizer = MIPRO(answer_exact_match, auto=None, num_candidates=3, num_trials=4, num_threads=1)
    compiled = optimizer.compile(student, trainset=TRAINSET, valset=VALSET)
    assert compiled.generate_answer.demos
    assert accuracy(compiled, VALSET) == 1.0
    # The prompt model was asked for instructions; the chosen one is either the original or its proposal.
    assert compiled.generate_answer.signature.instructions in {
        student.generate_answer.signature.instructions,
        PROPOSER_FIELDS["proposed_instruction"],
    }
    assert any("proposed_instruction" in messages[0]["content"] for messages in lm.prompts)


def test_mipro_uses_the_teachers_lm(student):
    teacher = student.deepcopy()
    teacher_lm = DemoFollowingLM(EXAMPLES)
    teacher.set_lm(teacher_lm)
    optimizer = MIPRO(answer_exact_match, auto=None, num_candidates=3, num_trials=2, num_threads=1)
    compiled = optimizer.compile(student, trainset=TRAINSET, teacher=teacher, valset=VALSET)
    assert compiled.generate_answer.demos
    assert teacher_lm.prompts  # no LM was configured: the teacher's did all the work


def test_mipro_settings_are_checked():
    with pytest.raises(RagdistillError, match="auto preset"):
        MIPRO(answer_exact_match, num_trials=3)
    with pytest.raises(RagdistillError, match="set both"):
        MIPRO(answer_exact_match, auto=None, num_candidates=3)
    with pytest.raises(RagdistillError, match="auto must be one of"):
        MIPRO(answer_exact_match, auto="huge")


def test_mipro_without_any_lm_is_a_clear_error(student):
    with pytest.raises(RagdistillError, match="mipro needs an LM"):
        MIPRO(answer_exact_match).compile(student, trainset=TRAINSET)


def test_registry_builds_optimizers_by_name():
    assert set(OPTIMIZERS) == {"none", "fewshot", "bootstrap", "random_search", "mipro", "distill"}
    optimizer = make_optimizer("bootstrap", answer_exact_match, max_bootstrapped_demos=2)
    assert isinstance(optimizer, Bootstrap)
    assert (optimizer.metric, optimizer.max_bootstrapped_demos) == (answer_exact_match, 2)
    assert isinstance(make_optimizer("none"), ZeroShot)
    with pytest.raises(RagdistillError, match="unknown optimizer 'copro'"):
        make_optimizer("copro", answer_exact_match)
    with pytest.raises(RagdistillError, match="does not accept these settings"):
        make_optimizer("fewshot", None, max_bootstrapped_demos=2)


def test_mipro_light_preset_runs_on_a_small_set(lm, student):
    compiled = MIPRO(answer_exact_match, num_threads=1).compile(student, trainset=TRAINSET, valset=VALSET)
    assert accuracy(compiled, VALSET) == 1.0


def test_max_demos_caps_every_kind_of_demo(student):
    bootstrap = make_optimizer("bootstrap", answer_exact_match).with_max_demos(1)
    assert bootstrap.max_bootstrapped_demos == bootstrap.max_labeled_demos == 1
    compiled = make_optimizer("fewshot").with_max_demos(2).compile(student, trainset=TRAINSET)
    assert [len(predictor.demos) for predictor in compiled.predictors()] == [2]
    assert make_optimizer("none").with_max_demos(2) == make_optimizer("none")
