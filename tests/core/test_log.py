"""core.log: verbosity levels, deprecation warnings kept in the log file, and a quiet terminal end to end.

The end-to-end test runs what a new user runs first, the retrieval warm-up (building the offline ColBERT
checkpoint into a fresh cache) and a tiny compile, as subprocesses, and reads their stderr for library noise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from core.log import NORMAL, QUIET, VERBOSE, library_log, quiet_libraries, say, verbosity, verbosity_level
from retrieval.compat import extensions_dir

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("MISSING", "deprecated", "Warning")


@pytest.fixture
def fresh_log(tmp_path, monkeypatch):
    """A cache (and so a library log) of this test's own; the log path is forgotten afterwards."""
    monkeypatch.setenv("RAGDISTILL_CACHE", str(tmp_path))
    library_log.cache_clear()
    yield tmp_path
    library_log.cache_clear()


def test_quiet_says_nothing_and_the_level_is_restored_after_the_block(capsys, monkeypatch):
    monkeypatch.delenv("RAGDISTILL_VERBOSITY", raising=False)
    assert verbosity() == NORMAL
    with verbosity_level(QUIET):
        assert os.environ["RAGDISTILL_VERBOSITY"] == str(QUIET)  # processes started here inherit it
        say("hidden")
        with verbosity_level(VERBOSE):
            say("shown", detail=True)
        assert verbosity() == QUIET
    say("back")
    assert capsys.readouterr().err.splitlines() == ["    shown", "==> back"]  # click drops colours off a terminal
    assert "RAGDISTILL_VERBOSITY" not in os.environ


def test_deprecation_warnings_go_to_the_log_file_and_others_stay_on_the_terminal(fresh_log, capsys, monkeypatch):
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "RAGDISTILL_VERBOSITY"):
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        quiet_libraries()
        assert os.environ["TRANSFORMERS_VERBOSITY"] == "error" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        warnings.warn("`old_name` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("skipped 2 bad rows", UserWarning, stacklevel=1)
        with verbosity_level(VERBOSE):
            warnings.warn("`other_name` is deprecated", DeprecationWarning, stacklevel=1)
    err = capsys.readouterr().err
    log = (fresh_log / "logs").glob("*.log")
    assert "old_name" in next(log).read_text() and "old_name" not in err
    assert "UserWarning: skipped 2 bad rows" in err and "other_name" in err


def test_a_user_setting_of_a_library_is_kept(fresh_log, monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "info")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    with warnings.catch_warnings():
        quiet_libraries()
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "info"


def test_warm_up_and_a_tiny_compile_print_no_library_warnings(tmp_path, tiny_corpus_path, tiny_causal_dir):
    # A fresh cache, so the warm-up builds the offline checkpoint; the compiled extensions are the machine's.
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "RAGDISTILL_CACHE": str(tmp_path / "cache"),
        "TORCH_EXTENSIONS_DIR": str(extensions_dir()),
    }  # fmt: skip
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "RAGDISTILL_VERBOSITY"):
        env.pop(name, None)
    warm = subprocess.run([sys.executable, "-m", "retrieval.warmup"], capture_output=True, text=True, env=env)
    assert warm.returncode == 0, warm.stderr
    assert "building the offline ColBERT checkpoint minilm-colbert" in warm.stderr
    options = [
        "--out", str(tmp_path), "--name", "tiny", "--program", "rag", "--teacher", str(tiny_causal_dir),
        "--student", "tiny-t5", "--retriever", "bm25", "--corpus", str(tiny_corpus_path),
        "--index-dir", str(tmp_path / "index"), "--train-size", "6", "--trace-size", "2", "--dev-size", "2",
        "--test-size", "3", "--baseline-test-size", "1", "--epochs", "1", "--threads", "1",
    ]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "programs.compile", *options], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    for stderr in (warm.stderr, done.stderr):
        assert not [word for word in NOISE if word in stderr], stderr
