"""Session-scoped pytest fixtures: compiled runs.

`tiny_run` is a run directory compiled end to end by `python -m programs.compile` on the tiny corpus, with a
tiny random causal teacher, a tiny-T5 student and BM25 retrieval, single-hop (`--program rag`): real artifacts in
seconds, for the tests of everything that reads a run (evaluation, the QA service).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from programs.compile.__main__ import main as compile_main


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_corpus_path, tiny_causal_dir) -> Path:
    """A run compiled end to end on the tiny corpus: tiny causal teacher, tiny-T5 student, BM25."""
    root = tmp_path_factory.mktemp("evaluate")
    options = [
        "--out", str(root), "--name", "tiny", "--program", "rag", "--teacher", str(tiny_causal_dir),
        "--student", "tiny-t5", "--retriever", "bm25", "--corpus", str(tiny_corpus_path),
        "--index-dir", str(root / "index"),
        "--train-size", "6", "--trace-size", "2", "--dev-size", "2", "--test-size", "3", "--epochs", "1",
        "--threads", "1",
    ]  # fmt: skip
    result = CliRunner().invoke(compile_main, options)
    assert result.exit_code == 0, result.output
    return root / "tiny"
