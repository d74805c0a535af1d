"""Trace reuse: saved teacher traces train a new student with zero teacher calls; other program or data refused."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from click.testing import CliRunner
from dspy.utils import DummyLM

from core.errors import RagdistillError
from finetune.adapter import StudentAdapter
from finetune.lm import StudentLM
from optimizers.distill import Distill
from optimizers.traces import (
    check_fingerprints,
    data_fingerprint,
    program_fingerprint,
    read_traces,
    replayable,
    trace_records,
    write_traces,
)
from programs.compile.__main__ import main as compile_main
from tests.fixtures_models import COPY_WORDS, copy_task, strict_match
from tests.optimizers.test_distill import PassthroughRAG, teacher_program

QUICK = {"max_steps": 2, "batch_size": 4, "val_fraction": 0.0}


def test_saved_traces_train_a_student_without_calling_the_teacher(tiny_t5_dir: Path, tmp_path: Path):
    teacher = teacher_program({w: w for w in COPY_WORDS} | {"amber": "wrong"})
    first = Distill(strict_match, student_lm=StudentLM.from_base(str(tiny_t5_dir)),
                    train_kwargs={**QUICK, "output_dir": str(tmp_path / "first")})  # fmt: skip
    with dspy.context(adapter=StudentAdapter()):
        first.compile(PassthroughRAG(), trainset=copy_task(), teacher=teacher)
    assert len(teacher.respond.lm.history) == len(COPY_WORDS)
    expected = {"program": program_fingerprint("passthrough", teacher, "state"), "data": data_fingerprint(copy_task())}
    path = tmp_path / "traces.jsonl"
    write_traces(path, expected, trace_records(first.trace_data, teacher))

    saved, records = read_traces(path)
    check_fingerprints(saved, expected, path)
    silent = PassthroughRAG()
    silent.set_lm(DummyLM([]))  # a teacher that would fail if asked
    second = Distill(strict_match, student_lm=StudentLM.from_base(str(tiny_t5_dir)),
                     train_kwargs={**QUICK, "output_dir": str(tmp_path / "second"), "r": 4})  # fmt: skip
    with dspy.context(adapter=StudentAdapter()):
        second.compile(PassthroughRAG(), trainset=copy_task(), teacher=silent, traces=replayable(records, silent, path))
    assert silent.respond.lm.history == []
    assert second.stats == first.stats and second.stats["passed_metric"] == len(COPY_WORDS) - 1
    assert (tmp_path / "second" / "adapter_config.json").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": data_fingerprint(copy_task()[:7])}, "made by other training data: their data examples is 8"),
        ({"program": {"name": "multihop"}}, 'made by another program: their program name is "passthrough"'),
    ],
)
def test_traces_of_another_program_or_data_are_refused(tmp_path: Path, change: dict, message: str):
    saved = {"program": {"name": "passthrough", "signatures": {}}, "data": data_fingerprint(copy_task())}
    with pytest.raises(RagdistillError, match=message):
        check_fingerprints(saved, {**saved, **change}, tmp_path / "traces.jsonl")


def compile_options(source: Path, *extra: str) -> list[str]:
    """The tiny_run fixture's options (same data and index) for a new run next to it."""
    root = source.parent
    return [
        "--out", str(root), "--teacher", "openai/never-called", "--retriever", "bm25", "--index-dir",
        str(root / "index"), "--train-size", "6", "--trace-size", "2", "--dev-size", "2", "--test-size", "3",
        "--threads", "1", "--traces-from", str(source), *extra,
    ]  # fmt: skip


def test_compile_traces_from_makes_zero_teacher_calls(tiny_run: Path, tiny_corpus_path: Path, tiny_causal_dir: Path,
                                                      monkeypatch):  # fmt: skip
    import engine.teacher

    built: list[str] = []

    def counting_teacher(spec: str, **kwargs) -> DummyLM:
        built.append(spec)
        return DummyLM([])

    monkeypatch.setattr(engine.teacher, "make_teacher", counting_teacher)
    options = compile_options(tiny_run, "--name", "again", "--corpus", str(tiny_corpus_path), "--student",
                              str(tiny_causal_dir), "--epochs", "2", "--targets", "gold")  # fmt: skip
    result = CliRunner().invoke(compile_main, options)
    assert result.exit_code == 0, result.output
    assert built == []  # no teacher LM was even built, so none answered
    run_dir = tiny_run.parent / "again"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    source = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["teacher"]["from_run"] == manifest["traces"]["from_run"] == str(tiny_run)  # as given
    assert manifest["program"] == source["program"]  # --program auto follows the traces
    # The tiny corpus holds the answers of 2 of the 6 world questions: the other 4 teach no guessing.
    assert manifest["student"]["family"] == "causal" and manifest["targets"]["from_gold"] == 2
    assert manifest["targets"]["examples"] == source["targets"]["examples"] == 6
    assert not any(name.startswith("teacher") for name in manifest["report"]["systems"])
    assert (run_dir / "teacher_program.json").read_bytes() == (tiny_run / "teacher_program.json").read_bytes()
    assert read_traces(run_dir / "traces.jsonl")[1] == read_traces(tiny_run / "traces.jsonl")[1]


@pytest.mark.parametrize(
    ("change", "message"),
    [("data", "made by other training data"), ("program", "made by another program")],
)
def test_compile_refuses_traces_of_other_data_or_program(tiny_run: Path, tiny_corpus_path: Path, change, message):
    program = json.loads((tiny_run / "manifest.json").read_text())["program"]
    other_program = "rag" if program == "multihop" else "multihop"
    extra = ["--train-size", "5"] if change == "data" else ["--program", other_program]
    options = compile_options(tiny_run, "--name", "refused", "--corpus", str(tiny_corpus_path), *extra)
    result = CliRunner().invoke(compile_main, options)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.output
    assert not (tiny_run.parent / "refused").exists()
