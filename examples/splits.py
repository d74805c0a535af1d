"""What both examples' data generators share: draw distinct rows, write the train/dev/test and teacher files.

Simplified: the splits are consecutive slices of one deterministic draw (no stratification); the examples' data is
templated, so a fixed seed reproduces every file byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

SIZES = {"train": 48, "dev": 16, "test": 40}
"""Rows per split file."""


def distinct_rows(make_row: Callable[[random.Random], dict], key: str, seed: int) -> list[dict]:
    """`sum(SIZES)` rows from `make_row`, skipping any whose `key` field repeats an earlier one."""
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < sum(SIZES.values()):
        row = make_row(rng)
        if row[key] not in seen:
            seen.add(row[key])
            rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_splits(folder: Path, rows: list[dict], teacher: list[dict]) -> None:
    """`train.jsonl`, `dev.jsonl` and `test.jsonl` (consecutive slices of `rows`) and `teacher.jsonl` in `folder`."""
    start = 0
    for split, size in SIZES.items():
        write_jsonl(folder / f"{split}.jsonl", rows[start : start + size])
        start += size
    write_jsonl(folder / "teacher.jsonl", teacher)
