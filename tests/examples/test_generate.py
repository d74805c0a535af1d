"""The bundled examples' data files are exactly what their generators write (regenerated into a temporary folder)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from examples.splits import SIZES

FILES = [*(f"{split}.jsonl" for split in SIZES), "teacher.jsonl"]


@pytest.mark.parametrize("example", ["ticket_triage", "review_pipeline"])
def test_generator_reproduces_committed_files(example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate = importlib.import_module(f"examples.{example}.generate")
    monkeypatch.setattr(generate, "HERE", tmp_path)
    generate.main()
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (Path(generate.__file__).parent / name).read_bytes()
    rows = (tmp_path / "train.jsonl").read_text().splitlines() + (tmp_path / "test.jsonl").read_text().splitlines()
    assert len(rows) == SIZES["train"] + SIZES["test"] and len(set(rows)) == len(rows)
