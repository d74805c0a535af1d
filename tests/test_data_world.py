"""The bundled fictional world: deterministic, large enough, and answerable from its gold passages."""

from __future__ import annotations

import subprocess
import sys

from data.loaders import WORLD_CORPUS, load_corpus, load_examples
from data.world import generate, render_files
from optimizers.metrics import normalize_answer


def test_same_seed_same_bytes_other_seed_other_world():
    assert render_files(13) == render_files(13)
    assert render_files(13)["corpus.jsonl"] != render_files(14)["corpus.jsonl"]


def test_committed_files_match_the_generator():
    completed = subprocess.run([sys.executable, "-m", "data.generate", "--check"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "up to date" in completed.stdout


def test_check_fails_on_a_stale_copy(tmp_path):
    for name, text in render_files().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text("{}\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "data.generate", "--check", "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [completed.stderr.strip()]
    assert "dev.jsonl" in completed.stderr


def test_world_meets_the_minimum_sizes():
    world = generate()
    assert sum(len(entities) for entities in world.entities.values()) >= 400
    assert len(world.passages) >= 2000
    assert sum(q["hops"] == 1 for q in world.questions) >= 1500
    assert sum(q["hops"] == 2 for q in world.questions) >= 500
    assert all(1 <= passage["text"].count(".") <= 4 for passage in world.passages)


def test_every_gold_answer_is_stated_in_a_gold_passage():
    passages = {p.pid: p for p in load_corpus(WORLD_CORPUS)}
    for split in ("train", "dev", "test"):
        for example in load_examples(split):
            gold_text = normalize_answer(" ".join(passages[pid].as_context() for pid in example.gold_pids))
            assert normalize_answer(example.answer) in gold_text, example
            assert len(example.gold_pids) == example.hops


def test_splits_are_disjoint_and_ids_unique():
    ids = {split: {example.id for example in load_examples(split)} for split in ("train", "dev", "test")}
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["dev"] and not ids["dev"] & ids["test"]
    assert len(ids["test"]) > 500
