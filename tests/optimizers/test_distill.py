"""`optimizers.distill.Distill`: a RAG-like module distilled from a DummyLM teacher into a tiny-T5 student."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import dspy
import pytest
from dspy.utils import DummyLM

from core.errors import RagdistillError
from data.loaders import Passage
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM, anchor_students
from finetune.provider import train_kwargs
from optimizers.distill import Distill
from optimizers.metrics import answer_exact_match
from programs.rag import MultiHopRAG
from tests.fixtures_models import COPY_TRAINING, COPY_WORDS, copy_task, strict_match
from tests.programs.test_programs import EXAMPLES, PASSAGES, KeywordRetriever

REPO = Path(__file__).resolve().parents[2]


class PassthroughRAG(dspy.Module):
    """A minimal retrieve-then-answer module whose retrieval is done by the caller (the context is an input)."""

    def __init__(self):
        super().__init__()
        self.respond = dspy.Predict("context, question -> answer")

    def forward(self, question: str, context: list[str]) -> dspy.Prediction:
        return self.respond(context=context, question=question)


def teacher_program(answers: dict[str, str]) -> PassthroughRAG:
    """The teacher: a DummyLM answering by the passage it sees."""
    teacher = PassthroughRAG()
    teacher.set_lm(DummyLM({f"the code is {w}.": {"answer": a} for w, a in answers.items()}))
    return teacher


def distill(tiny_t5_dir: Path, out_dir: Path, targets: str, answers: dict[str, str]) -> tuple[Distill, dspy.Module]:
    optimizer = Distill(
        strict_match,
        student_lm=StudentLM.from_base(str(tiny_t5_dir)),
        targets=targets,
        train_kwargs=train_kwargs(COPY_TRAINING, output_dir=out_dir),
    )
    compiled = optimizer.compile(PassthroughRAG(), trainset=copy_task(), teacher=teacher_program(answers))
    return optimizer, compiled


@pytest.fixture(scope="module")
def distilled(tiny_t5_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Distill, dspy.Module, Path]:
    """Distilled with targets="both" from a teacher that is wrong on two of the eight questions."""
    run_dir = tmp_path_factory.mktemp("run")
    answers = {w: w for w in COPY_WORDS} | {"amber": "wrong", "birch": "wrong"}
    with dspy.context(adapter=StudentAdapter()):
        optimizer, compiled = distill(tiny_t5_dir, run_dir / "student", "both", answers)
    return optimizer, compiled, run_dir


def test_targets_both_uses_teacher_where_it_passes_and_gold_elsewhere(distilled):
    optimizer, _, _ = distilled
    assert optimizer.stats == {
        "examples": 8,
        "teacher_answered": 8,
        "passed_metric": 6,
        "from_teacher": 6,
        "from_gold": 2,
        "skipped": 0,
        "train_records": 8,
        "steps": {"respond": {"traces": 6, "gold": 2}},
    }


def test_distilled_student_answers_better_than_before(distilled, tiny_t5_dir: Path):
    _, compiled, _ = distilled
    untrained = PassthroughRAG()
    untrained.set_lm(StudentLM.from_base(str(tiny_t5_dir)))
    with dspy.context(adapter=StudentAdapter()):
        before = sum(strict_match(ex, untrained(**ex.inputs())) for ex in copy_task())
        after = sum(strict_match(ex, compiled(**ex.inputs())) for ex in copy_task())
    assert isinstance(compiled.respond.lm, StudentLM)
    assert after > before and after >= 6


RELOAD = """
import dspy
from finetune.adapter import StudentAdapter
from finetune.lm import anchor_students
from tests.optimizers.test_distill import PassthroughRAG
program = PassthroughRAG()
program.load({path!r}, allow_unsafe_lm_state=True)
anchor_students(program, {run_dir!r})
with dspy.context(adapter=StudentAdapter()):
    print(program(question="what is the code?", context=["Codes | the code is cobalt."]).answer)
"""


def test_saved_student_program_reloads_in_a_fresh_process_after_the_run_moves(distilled, tmp_path: Path):
    _, compiled, run_dir = distilled
    anchor_students(compiled, run_dir)
    compiled.save(run_dir / "student_program.json")
    assert compiled.respond.lm.student_engine.adapter_dir == "student"
    moved = tmp_path / "moved"
    shutil.copytree(run_dir, moved)
    script = RELOAD.format(path=str(moved / "student_program.json"), run_dir=str(moved))
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "cobalt"


def test_no_usable_trace_is_a_clear_error(tiny_t5_dir: Path, tmp_path: Path):
    with pytest.raises(RagdistillError, match="0 of 8 teacher traces passed the metric"):
        distill(tiny_t5_dir, tmp_path / "student", "traces", {w: "wrong" for w in COPY_WORDS})


def test_empty_trainset_and_unknown_targets_are_refused(tiny_t5_dir: Path):
    with pytest.raises(RagdistillError, match="targets must be"):
        Distill(strict_match, student_lm=StudentLM.from_base(str(tiny_t5_dir)), targets="teacher")
    optimizer = Distill(strict_match, student_lm=StudentLM.from_base(str(tiny_t5_dir)))
    with pytest.raises(RagdistillError, match="training set is empty"):
        optimizer.compile(PassthroughRAG(), trainset=[])


def test_multihop_student_learns_every_step_and_the_manifest_counts_where_targets_came_from(
    tiny_t5_dir: Path, tmp_path: Path
):
    # The teacher's queries ("xyz") match no passage word, so with k=1 each hop finds p1 (Zorvath); it answers
    # q5 ("Where was the founder of Zorvath born?") right and the others wrong: q5 keeps the teacher's three
    # calls, q1-q4 get gold runs. Their first query is the title each question names; with k=1 it finds the
    # passage for q1 ("Zorvath") and q4 ("Kestrel Bridge") but p1 for "Queen Elna" and p2 for "Miralune", so
    # q2 and q3 get a second query (their title again) and q1 and q4 a stop ("none": nothing is missing).
    retriever = KeywordRetriever(PASSAGES)
    passages = {hit.pid: Passage(hit.pid, hit.title, hit.text) for hit in PASSAGES}
    teacher = MultiHopRAG(retriever, k=1)
    answers = ["wrong"] * 4 + ["Miralune"]
    teacher.set_lm(DummyLM([step for a in answers for step in ({"query": "xyz"}, {"query": "xyz"}, {"answer": a})]))
    optimizer = Distill(
        answer_exact_match,
        student_lm=StudentLM.from_base(str(tiny_t5_dir)),
        train_kwargs=train_kwargs(replace(COPY_TRAINING, epochs=1), output_dir=tmp_path / "student"),
        num_threads=1,
        passages=passages,
    )
    with dspy.context(adapter=StudentAdapter()):
        compiled = optimizer.compile(MultiHopRAG(retriever, k=1), trainset=EXAMPLES, teacher=teacher)
    assert optimizer.stats["steps"] == {
        "generate_query[0]": {"traces": 1, "gold": 4},
        "generate_query[1]": {"traces": 1, "gold": 4},
        "generate_answer": {"traces": 1, "gold": 4},
    }
    assert optimizer.stats["train_records"] == 15 and optimizer.stats["from_gold"] == 4
    assert all(isinstance(predictor.lm, StudentLM) for predictor in compiled.predictors())
