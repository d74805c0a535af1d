"""`CompiledQA` answers questions and serves as a `dspy.ReAct` tool; `load_program` reads run directories."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from core.errors import RagdistillError
from programs.api import CompiledQA, load_program
from programs.rag import RAG, MultiHopRAG
from tests.programs.test_programs import EXAMPLES, PASSAGES, KeywordRetriever


@pytest.fixture
def qa() -> CompiledQA:
    return CompiledQA(program=RAG(KeywordRetriever(PASSAGES), k=2), lm=DummyLM([{"answer": "Queen Elna"}] * 3))


def test_compiled_qa_answers_with_its_own_lm(qa):
    prediction = qa("Who founded Zorvath?")
    assert prediction.answer == "Queen Elna"
    assert [hit.pid for hit in prediction.passages] == ["p1", "p4"]
    assert dspy.settings.lm is None  # the LM was only lent for the call


def test_react_agent_calls_the_tool(qa):
    agent_lm = DummyLM(
        [
            {
                "next_thought": "I should look this up.",
                "next_tool_name": "answer_question",
                "next_tool_args": {"question": "Who founded Zorvath?"},
            },
            {"next_thought": "I have the answer.", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "The tool says Queen Elna.", "answer": "Queen Elna founded Zorvath."},
        ]
    )
    agent = dspy.ReAct("question -> answer", tools=[qa.as_tool()], max_iters=3)
    with dspy.context(lm=agent_lm):
        result = agent(question="Who founded the city of Zorvath?")
    assert result.trajectory["tool_name_0"] == "answer_question"
    assert result.trajectory["observation_0"] == {"answer": "Queen Elna", "sources": ["Zorvath", "Kestrel Bridge"]}
    assert result.answer == "Queen Elna founded Zorvath."
    # The agent was told about the tool, and the QA program ran on its own LM, not the agent's.
    assert "answer_question" in agent_lm.history[0]["messages"][0]["content"]
    assert len(qa.lm.history) == 1


def write_run(run_dir: Path, program: dspy.Module, **manifest_overrides) -> Path:
    run_dir.mkdir()
    manifest = {
        "name": "tiny",
        "program": "rag",
        "retriever": {"name": "bm25", "index_dir": str(run_dir / "no-index"), "k": 2},
        "teacher": {"spec": "openai/gpt-4o-mini", "model_used": "openai/gpt-4o-mini"},
        "student": {"spec": "tiny-t5", "model_used": "tiny-t5", "family": "seq2seq", "adapter_dir": "student"},
        **manifest_overrides,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    program.save(str(run_dir / "teacher_program.json"))
    return run_dir


@pytest.fixture
def run_dir(tmp_path) -> Path:
    program = RAG(KeywordRetriever(PASSAGES), k=2)
    program.generate_answer.demos = [EXAMPLES[1]]
    program.generate_answer.lm = dspy.LM("openai/gpt-4o-mini")  # saved in the state; load_program ignores it
    return write_run(tmp_path / "run", program)


def test_load_program_restores_the_compiled_state(run_dir):
    qa = load_program(run_dir, use="teacher", retriever=KeywordRetriever(PASSAGES))
    assert isinstance(qa.program, RAG)
    assert qa.program.k == 2
    assert qa.program.generate_answer.demos[0]["answer"] == "Miralune"
    assert qa.program.generate_answer.lm is None  # the LM comes from the manifest instead
    assert qa.lm.model == "openai/gpt-4o-mini"

    answered = CompiledQA(program=qa.program, lm=DummyLM([{"answer": "glass"}]))("What is Miralune known for?")
    assert answered.answer == "glass"
    assert answered.passages[0].pid == "p3"


def test_load_program_opens_the_manifests_retriever(run_dir):
    with pytest.raises(RagdistillError, match="no index at .*no-index"):
        load_program(run_dir, use="teacher")


def test_a_student_without_its_adapter_is_a_clear_error(run_dir):
    (run_dir / "teacher_program.json").rename(run_dir / "student_program.json")
    with pytest.raises(RagdistillError, match="student directory .* does not exist"):
        load_program(run_dir, retriever=KeywordRetriever(PASSAGES))


def test_bad_run_directories_are_one_line_errors(tmp_path, run_dir):
    retriever = KeywordRetriever(PASSAGES)
    with pytest.raises(RagdistillError, match="no run manifest at"):
        load_program(tmp_path / "nowhere", use="teacher")
    with pytest.raises(RagdistillError, match="no saved program at .*student_program.json"):
        load_program(run_dir, retriever=retriever)
    with pytest.raises(RagdistillError, match="use must be one of student, teacher"):
        load_program(run_dir, use="both")

    (run_dir / "manifest.json").write_text("{not json")
    with pytest.raises(RagdistillError, match="cannot read run manifest"):
        load_program(run_dir, use="teacher", retriever=retriever)

    (run_dir / "manifest.json").write_text(json.dumps({"name": "no program"}))
    with pytest.raises(RagdistillError, match="is incomplete \\(missing 'program'\\)"):
        load_program(run_dir, use="teacher", retriever=retriever)


def test_a_state_from_another_program_does_not_load(tmp_path):
    run_dir = write_run(tmp_path / "run", MultiHopRAG(KeywordRetriever(PASSAGES)))  # manifest says "rag"
    with pytest.raises(RagdistillError, match="does not fit the RAG program"):
        load_program(run_dir, use="teacher", retriever=KeywordRetriever(PASSAGES))
