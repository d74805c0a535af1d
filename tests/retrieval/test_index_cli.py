"""The index CLI: --help, one-line errors with exit status 2 for bad input, and the add/delete commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from retrieval.compat import gpu_count
from retrieval.index import main
from retrieval.indexdir import passages_jsonl
from tests.fixtures_retrieval import TINY_PASSAGES


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr


def test_help_lists_the_options_and_commands():
    completed = subprocess.run(
        [sys.executable, "-m", "retrieval.index", "--help"], capture_output=True, text=True, check=True
    )
    for word in ("--corpus", "--out", "--checkpoint", "--nbits", "--doc-maxlen", "add", "delete", "rebuild"):
        assert word in completed.stdout


def test_missing_corpus_file_exits_2_in_a_subprocess(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "retrieval.index", "--corpus", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"error: corpus file {tmp_path / 'nope.jsonl'} does not exist"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("this is not json\n")
    out = str(tmp_path / "index")
    assert_one_line_error(run("--out", out), "missing --corpus")
    assert_one_line_error(run("--corpus", str(empty), "--out", out), "no usable rows")
    assert_one_line_error(run("--corpus", str(broken), "--out", out), str(broken))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(passages_jsonl(TINY_PASSAGES[:3]))
    assert_one_line_error(run("--corpus", str(corpus)), "missing --out")
    assert_one_line_error(run("--corpus", str(corpus), "--out", out, "--doc-maxlen", "2"), "doc_maxlen")
    assert_one_line_error(run("--corpus", str(corpus), "--out", out, "--nranks", "0"), "--nranks must be at least 1")
    assert not (tmp_path / "index").exists()


@pytest.mark.skipif(gpu_count() >= 2, reason="this machine can index with 2 ranks")
def test_more_ranks_than_gpus_is_one_line_saying_why(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(passages_jsonl(TINY_PASSAGES))
    result = run("--corpus", str(corpus), "--out", str(tmp_path / "index"), "--nranks", "2")
    assert_one_line_error(result, f"--nranks 2 needs 2 CUDA devices and this machine has {gpu_count()}")
    assert "one process per GPU" in result.stderr and not (tmp_path / "index").exists()


def test_add_and_delete_commands(tiny_index_dir, tmp_path):
    index = shutil.copytree(tiny_index_dir, tmp_path / "index")
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"pid": "zz1", "title": "Zanzibar", "text": "Zanzibar exports cloves."}) + "\n")
    assert run("add", "--index", str(index), "--corpus", str(new)).exit_code == 0
    assert run("delete", "--index", str(index), "--pid", "p1", "--pid", "p2").exit_code == 0
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["updates"] == {"added": 1, "deleted": 2}
    assert_one_line_error(run("delete", "--index", str(index), "--pid", "nope"), "nope")
    assert_one_line_error(run("delete", "--index", str(index)), "--pid")
    assert_one_line_error(run("add", "--index", str(tmp_path / "missing"), "--corpus", str(new)), "no index at")


@pytest.mark.slow
def test_build_end_to_end_in_a_subprocess(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(passages_jsonl(TINY_PASSAGES))
    out = tmp_path / "index"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "retrieval.index",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
            "--checkpoint",
            "minilm-colbert",
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "indexing 40 passages" in completed.stderr and "done in" in completed.stderr
    assert json.loads((out / "manifest.json").read_text())["passages"] == 40
