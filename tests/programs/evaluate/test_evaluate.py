"""`programs.evaluate` on a tiny compiled run: every system, section and figure present and consistent."""

from __future__ import annotations

import json
import shutil

import dspy
import pytest
from click.testing import CliRunner
from dspy.utils import DummyLM

from data.loaders import WORLD_DIR, file_sha256, load_examples
from finetune.adapter import StudentAdapter
from programs.evaluate.__main__ import main as evaluate_main
from programs.evaluate.evaluation import evaluate_run
from programs.evaluate.report_tables import SYSTEMS


def test_report_with_a_dummy_teacher_has_every_system_and_section(tiny_run, tiny_examples):
    examples = tiny_examples[:4]
    teacher = DummyLM([{"answer": example.answer} for example in examples] * 2)
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(
            tiny_run, examples, teacher_lm=teacher, data_files={"questions": str(WORLD_DIR / "test.jsonl")}
        )
    assert set(SYSTEMS) <= set(report["systems"])
    for name, metrics in report["systems"].items():
        per_question = metrics["per_question"]
        assert len(per_question) == len(examples)
        assert metrics["em"] == pytest.approx(100 * sum(q["em"] for q in per_question) / len(examples)), name
        assert metrics["f1"] == pytest.approx(100 * sum(q["f1"] for q in per_question) / len(examples)), name
        assert metrics["em_ci"][0] <= metrics["em"] <= metrics["em_ci"][1]
        assert metrics["answers_per_s"] > 0 and metrics["latency_p50_s"] > 0
    # The DummyLM teacher answers every question right; the closed-book student sees no passages.
    assert report["systems"]["teacher_zero_shot"]["em"] == 100.0
    assert report["systems"]["student_distilled_closed_book"]["passage_recall"] is None
    assert report["retrieval"]["bm25"]["questions"] == len(examples)
    assert report["models"]["student"] == "tiny-t5"
    on_disk = json.loads((tiny_run / "report" / "report.json").read_text())
    assert on_disk["systems"].keys() == report["systems"].keys() and "speed_ratio" in on_disk
    markdown = (tiny_run / "report" / "report.md").read_text()
    assert "student_distilled_closed_book" in markdown and "bm25" in markdown
    page = (tiny_run / "report" / "index.html").read_text()
    assert all(f'id="plot-{plot}"' in page for plot in ("quality", "latency", "recall"))


def test_cli_on_a_file_and_its_bad_inputs(tiny_run, tmp_path):
    questions = tmp_path / "qa.jsonl"
    rows = [{"id": e.id, "question": e.question, "answers": e.answers} for e in load_examples("test", limit=2)]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    runner = CliRunner()
    ok = runner.invoke(evaluate_main, [str(tiny_run), "--data", str(questions)])
    assert ok.exit_code == 0, ok.output
    assert "student_distilled" in ok.output and "report:" in ok.output and "teacher_compiled" in ok.output
    options = ["--no-teacher", "--threads", "1", "--baseline-limit", "1"]
    students = runner.invoke(evaluate_main, [str(tiny_run), "--data", str(questions), *options])
    assert students.exit_code == 0, students.output
    assert "student_distilled" in students.output and "teacher" not in students.output
    for args, message in [
        ([str(tmp_path / "nowhere")], "is not a run directory"),
        ([str(tiny_run), "--split", "validation"], "unknown split 'validation'"),
        ([str(tiny_run), "--retrievers", "grep"], "unknown retriever(s) grep"),
        ([str(tiny_run), "--data", str(tmp_path / "absent.jsonl")], "absent.jsonl: no such file"),
        ([str(tiny_run), "--threads", "0"], "--threads must be at least 1"),
        ([str(tiny_run), "--baseline-limit", "0"], "--baseline-limit must be at least 1"),
    ]:
        result = runner.invoke(evaluate_main, args)
        assert result.exit_code == 2 and message in result.output.strip().splitlines()[-1], result.output


def test_baseline_limit_has_the_baselines_answer_the_first_questions_only(tiny_run, tiny_examples, tmp_path):
    examples = tiny_examples[:3]
    teacher = DummyLM([{"answer": example.answer} for example in examples[:1]] * 2)
    with dspy.context(adapter=StudentAdapter()):
        report = evaluate_run(tiny_run, examples, teacher_lm=teacher, baseline_limit=1, report_dir=tmp_path)
    questions = {name: metrics["questions"] for name, metrics in report["systems"].items()}
    assert questions["teacher_zero_shot"] == questions["teacher_compiled"] == questions["student_base"] == 1
    assert questions["student_distilled"] == 3
    assert "| teacher_compiled | 1 |" in (tmp_path / "report.md").read_text()


def test_a_run_is_evaluated_on_the_data_it_was_compiled_with_by_default(tiny_run, tmp_path):
    shutil.copytree(tiny_run.parent, tmp_path / "runs")  # with its index, which the run names by a relative path
    run = tmp_path / "runs" / tiny_run.name
    questions = tmp_path / "own-test.jsonl"
    rows = [{"id": e.id, "question": e.question, "answers": e.answers} for e in load_examples("dev", limit=2)]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["settings"]["test"] = str(questions)  # as if compiled with --test own-test.jsonl
    (run / "manifest.json").write_text(json.dumps(manifest))
    options = ["--no-teacher", "--threads", "1", "--baseline-limit", "1", "--retrievers", "bm25"]
    for args, data, count in [([], questions, 2), (["--split", "train", "--limit", "1"], WORLD_DIR / "train.jsonl", 1)]:
        result = CliRunner().invoke(evaluate_main, [str(run), *options, *args])
        assert result.exit_code == 0, result.output
        report = json.loads((run / "report" / "report.json").read_text())
        assert report["data"]["questions"] == file_sha256(data)
        assert report["systems"]["student_distilled"]["questions"] == count


def test_the_closed_book_system_answers_as_the_program_does_when_its_retriever_finds_nothing(tiny_run, tiny_examples):
    from programs.api import run_student_lm
    from programs.evaluate.evaluation import NoRetrieval, WithoutPassages
    from programs.rag import build_program
    from programs.rundir import open_program, read_run_manifest

    manifest = read_run_manifest(tiny_run)
    # The run's own program, and a multi-hop one, whose query steps write queries that find nothing.
    programs = [open_program(tiny_run, manifest, use="student", retriever=NoRetrieval())]
    programs.append(build_program("multihop", NoRetrieval()))
    questions = [example.question for example in tiny_examples[:4]]
    for program in programs:
        with dspy.context(lm=run_student_lm(tiny_run, manifest), adapter=StudentAdapter()):
            searching = [program(question=question) for question in questions]
            without = [WithoutPassages(program)(question=question) for question in questions]
        assert [p.answer for p in without] == [p.answer for p in searching]
        assert all(p.context == [] and p.passages == [] for p in searching + without)
        assert all(p.hop_pids == [] for p in without)  # it searched nothing: the report has no hop figures for it
