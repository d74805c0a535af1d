"""data.unanswerable: off-article questions added the SQuAD v2 way, deterministically, on the real samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import DataError
from data.loaders import SAMPLES_DIR, UNANSWERABLE, load_examples
from data.unanswerable import add_unanswerable, main

SQUAD = SAMPLES_DIR / "squad_v1.1_dev_sample.jsonl"
HOTPOTQA = SAMPLES_DIR / "hotpotqa_dev_sample.jsonl"


def rows(prefix: str, count: int, title: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "question": f"{prefix} {i}?", "context_titles": [title]} for i in range(count)]


def test_a_quarter_of_the_result_is_spread_evenly_and_only_other_articles_are_taken():
    answerable = rows("a", 6, "Alpha")
    other = rows("o", 4, "Beta") + rows("x", 4, "Alpha")  # x-rows share the article Alpha: never taken
    result = add_unanswerable(answerable, other, share=0.25, seed=0)
    ids = [row["id"] for row in result]
    # 6 answerable rows make 8 with a quarter unanswerable: one after the third answerable row, one after the sixth.
    assert [i for i, qid in enumerate(ids) if qid.startswith("unanswerable-")] == [3, 7]
    assert [qid for qid in ids if not qid.startswith("unanswerable-")] == [f"a{i}" for i in range(6)]
    added = [row for row in result if row["id"].startswith("unanswerable-")]
    assert all(row["id"].removeprefix("unanswerable-").startswith("o") for row in added)
    assert all(row["answers"] == [] and row["gold_pids"] == [] for row in added)
    assert add_unanswerable(answerable, other, share=0.25, seed=0) == result  # deterministic
    assert add_unanswerable(answerable, list(reversed(other)), share=0.25, seed=0) == result  # order-free choice


def test_bad_share_and_too_few_other_questions_are_refused():
    with pytest.raises(DataError, match="under 1"):
        add_unanswerable(rows("a", 2, "A"), rows("o", 2, "B"), share=1.0)
    with pytest.raises(DataError, match="3 unanswerable questions wanted, but only 1"):
        add_unanswerable(rows("a", 3, "A"), rows("o", 1, "B"), share=0.5)
    assert add_unanswerable(rows("a", 2, "A"), [], share=0.0) == rows("a", 2, "A")


def test_cli_adds_hotpotqa_questions_to_the_squad_sample_and_the_loader_marks_them(tmp_path: Path):
    out = tmp_path / "squad_v2_style.jsonl"
    options = ["--questions", f"{SQUAD}[:60]", "--other", str(HOTPOTQA), "--share", "0.25", "--out", str(out)]
    result = CliRunner().invoke(main, options)
    assert result.exit_code == 0, result.output
    assert f"{out}: 80 questions, 20 unanswerable" in result.output
    examples = load_examples(out)
    unanswerable = [example for example in examples if example.answers == [UNANSWERABLE]]
    assert len(unanswerable) == 20 and all(example.answer == UNANSWERABLE for example in unanswerable)
    hotpotqa_questions = {json.loads(line)["question"] for line in HOTPOTQA.read_text().splitlines()}
    assert {example.question for example in unanswerable} <= hotpotqa_questions
    # Each quarter of the file holds its share: the slices a compile trains and tests on both get some.
    assert [sum(e.answers == [UNANSWERABLE] for e in examples[i : i + 20]) for i in range(0, 80, 20)] == [5] * 4


def test_cli_names_a_missing_file_in_one_line(tmp_path: Path):
    result = CliRunner().invoke(main, ["--questions", str(tmp_path / "none.jsonl"), "--other", str(HOTPOTQA),
                                       "--out", str(tmp_path / "x.jsonl")])  # fmt: skip
    assert result.exit_code == 2 and "none.jsonl: no such file" in result.output
