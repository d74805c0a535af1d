"""Users' own programs in `python -m programs.compile`: specs that load, and each wrong spec as one error line."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from click.testing import CliRunner

from core.errors import ProgramError
from finetune.record import read_training_pairs
from programs.api import CompiledProgram, load_program
from programs.compile.__main__ import main as compile_main
from programs.evaluate.__main__ import main as evaluate_main
from programs.user import build_user_program, labels_match, load_metric, program_inputs, takes_retriever
from tests.programs.user_specs import Echo

SPECS = "tests.programs.user_specs"


def test_a_builder_and_a_class_both_build_programs():
    assert isinstance(build_user_program("examples.ticket_triage.program:build"), dspy.Module)
    assert isinstance(build_user_program(f"{SPECS}:Echo"), Echo)
    assert not takes_retriever("examples.ticket_triage.program:build")


def test_inputs_come_from_forward_or_must_be_named():
    assert program_inputs(build_user_program("examples.review_pipeline.program:build")) == ("review",)
    with pytest.raises(ProgramError, match="--inputs"):
        program_inputs(Echo())
    assert program_inputs(Echo(), "text") == ("text",)


def test_a_two_argument_metric_is_called_without_the_trace():
    metric = load_metric(f"{SPECS}:metric_of_two")
    example = dspy.Example(text="t", label="x").with_inputs("text")
    assert metric(example, dspy.Prediction(label="x"), None) is True
    assert labels_match(example, dspy.Prediction(label="x")) and not labels_match(example, dspy.Prediction(label="y"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--program", "no_such_module:build"], "cannot import no_such_module"),
        (["--program", f"{SPECS}:missing"], "has no attribute 'missing'"),
        (["--program", f"{SPECS}:not_a_module"], "returned a str, not a dspy.Module"),
        (["--program", f"{SPECS}:needs_two"], "takes 2 arguments"),
        (["--program", "examples.review_pipeline.program:build", "--metric", f"{SPECS}:metric_of_one"],
         "a DSPy metric takes (example, prediction)"),
        (["--program", f"{SPECS}:Echo"], "name the row fields it takes with --inputs"),
        (["--program", "examples.review_pipeline.program:build", "--inputs", "text"], "missing input field 'text'"),
        (["--program", "rag_typo"], "unknown program 'rag_typo'"),
    ],
)  # fmt: skip
def test_each_bad_spec_is_one_error_line_and_exit_2(options: list[str], message: str, tmp_path: Path):
    data = [f"--{split}=examples/review_pipeline/{split}.jsonl" for split in ("train", "dev", "test")]
    result = CliRunner().invoke(compile_main, [*options, *data, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.output
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("example", ["ticket_triage", "review_pipeline"])
def test_each_example_compiles_distils_and_reports_on_a_tiny_student(example: str, tiny_t5_dir: Path, tmp_path: Path):
    spec = f"examples.{example}.program"
    data = [f"--{split}=examples/{example}/{split}.jsonl" for split in ("train", "dev", "test")]
    options = [
        "--program", f"{spec}:build", "--metric", f"{spec}:metric", "--teacher", f"{spec}:teacher", *data,
        "--student", str(tiny_t5_dir), "--train-size", "10", "--dev-size", "4", "--test-size", "4",
        "--baseline-test-size", "2", "--epochs", "1", "--out", str(tmp_path), "--name", example,
    ]  # fmt: skip
    result = CliRunner().invoke(compile_main, options)
    assert result.exit_code == 0, result.output
    run = tmp_path / example
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages_done"] == ["teacher", "student", "report"]  # no retriever: no index stage
    # A user's steps have no gold runs: the teacher answers all 10 training examples, not only --trace-size (8).
    targets = manifest["targets"]
    assert (targets["teacher_answered"], targets["from_teacher"], targets["skipped"]) == (10, 10, 0)
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["kind"] == "program" and report["metric"] == f"{spec}:metric"
    systems = report["systems"]
    assert set(systems) == {"teacher_zero_shot", "teacher_compiled", "student_base", "student_distilled"}
    assert systems["teacher_compiled"]["score"] == 100.0  # the recorded teacher is right on every example
    first_row = json.loads(Path(f"examples/{example}/test.jsonl").read_text().splitlines()[0])
    labels = set(first_row) - set(manifest["inputs"])
    assert set(systems["teacher_compiled"]["field_accuracy"]) == labels
    distilled = systems["student_distilled"]
    assert distilled["items"] == 4
    assert report["cost"]["student_distilled"]["tokens_in"] > 0
    assert "Accuracy per output field" in (run / "report" / "report.md").read_text()

    program = load_program(run)  # the Python API: the distilled program, called with its inputs
    assert isinstance(program, CompiledProgram) and program.inputs == tuple(manifest["inputs"])
    text = json.loads(Path(f"examples/{example}/test.jsonl").read_text().splitlines()[-1])[manifest["inputs"][0]]
    tool = program.as_tool()
    assert tool.args == {manifest["inputs"][0]: {"type": "string"}}
    evaluated = CliRunner().invoke(evaluate_main, [str(run), "--no-teacher", "--limit", "2"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "student_distilled" in evaluated.output and json.loads((run / "report" / "report.json").read_text())[
        "systems"]["student_distilled"]["items"] == 2  # fmt: skip
    if example == "review_pipeline":  # choice outputs only: always valid, whatever the tiny student writes
        prediction = program(**{manifest["inputs"][0]: text})
        assert prediction.topic in ("battery", "screen", "sound", "price", "delivery")
        assert prediction.sentiment in ("positive", "negative")


def test_traces_from_and_resume_work_for_a_users_program(tiny_t5_dir: Path, tmp_path: Path):
    spec = "examples.review_pipeline.program"
    options = [
        "--program", f"{spec}:build", "--metric", f"{spec}:metric", "--teacher", f"{spec}:teacher",
        *[f"--{split}=examples/review_pipeline/{split}.jsonl" for split in ("train", "dev", "test")],
        "--student", str(tiny_t5_dir), "--train-size", "6", "--dev-size", "2", "--test-size", "2",
        "--baseline-test-size", "1", "--epochs", "1", "--out", str(tmp_path),
    ]  # fmt: skip
    assert CliRunner().invoke(compile_main, [*options, "--name", "first"]).exit_code == 0
    again = CliRunner().invoke(compile_main, [*options, "--name", "second", "--traces-from", "first"])  # a run name
    assert again.exit_code == 0, again.output
    assert read_training_pairs(tmp_path / "second" / "student") == read_training_pairs(tmp_path / "first" / "student")
    assert "teacher_compiled" not in json.loads((tmp_path / "second" / "report" / "report.json").read_text())["systems"]
    resumed = CliRunner().invoke(compile_main, [*options, "--name", "first", "--resume"])
    assert resumed.exit_code == 0 and resumed.output.count("skipped (--resume)") == 3, resumed.output


@pytest.mark.slow
@pytest.mark.parametrize("example", ["ticket_triage", "review_pipeline"])
def test_each_example_distils_into_smollm2_with_valid_outputs(example: str, tmp_path: Path):
    spec = f"examples.{example}.program"
    options = [
        "--program", f"{spec}:build", "--metric", f"{spec}:metric", "--teacher", f"{spec}:teacher",
        *[f"--{split}=examples/{example}/{split}.jsonl" for split in ("train", "dev", "test")],
        "--out", str(tmp_path), "--name", example,
    ]  # fmt: skip
    result = CliRunner().invoke(compile_main, options)
    assert result.exit_code == 0, result.output
    systems = json.loads((tmp_path / example / "report" / "report.json").read_text())["systems"]
    distilled, base = systems["student_distilled"], systems["student_base"]
    assert distilled["parse_failures"] == 0 and distilled["choice_validity"] == 100.0  # percent
    assert distilled["score"] > base["score"]
