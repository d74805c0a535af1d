"""The bundled fictional world: deterministic, large enough, and answerable from its gold passages only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from data.loaders import BUNDLED_SPLITS, WORLD_CORPUS, WORLD_DIR, load_corpus, load_examples
from data.world import generate, render_files


def run_generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data.generate", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def world_splits():
    """The committed corpus (pid -> Passage) and every committed split, loaded as users load them."""
    return {p.pid: p for p in load_corpus(WORLD_CORPUS)}, {name: load_examples(name) for name in BUNDLED_SPLITS}


def test_same_seed_same_bytes_other_seed_other_world():
    assert render_files(generate(13)) == render_files(generate(13))
    assert render_files(generate(13))["corpus.jsonl"] != render_files(generate(14))["corpus.jsonl"]


def test_committed_files_match_the_generator():
    completed = run_generate("--check")
    assert completed.returncode == 0, completed.stderr
    assert "up to date" in completed.stdout and "two-hop" in completed.stdout


def test_generate_writes_then_check_fails_on_a_stale_copy(tmp_path):
    written = run_generate("--out", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert {path.name for path in tmp_path.iterdir()} == {"corpus.jsonl", "train.jsonl", "dev.jsonl", "test.jsonl"}
    assert (tmp_path / "test.jsonl").read_bytes() == (WORLD_DIR / "test.jsonl").read_bytes()
    (tmp_path / "dev.jsonl").write_text("{}\n", encoding="utf-8")
    stale = run_generate("--check", "--out", str(tmp_path))
    assert stale.returncode == 1
    assert stale.stderr.strip().splitlines() == [stale.stderr.strip()]
    assert "dev.jsonl" in stale.stderr and "corpus.jsonl" not in stale.stderr


def test_world_meets_the_minimum_sizes():
    world = generate()
    assert sum(len(entities) for entities in world.entities.values()) >= 400
    assert len(world.passages) >= 2000
    assert sum(q["hops"] == 1 for q in world.questions) >= 1500
    assert sum(q["hops"] == 2 for q in world.questions) >= 500
    assert {1, 2, 3, 4} == {passage["text"].count(". ") + 1 for passage in world.passages}
    titles = [passage["title"] for passage in world.passages]
    assert max(titles.count(title) for title in titles[:50]) > 1  # an entity heads several passages


def test_every_gold_answer_is_written_verbatim_in_its_last_gold_passage(world_splits):
    passages, splits = world_splits
    for examples in splits.values():
        for example in examples:
            assert len(example.gold_pids) == example.hops
            assert example.answer in passages[example.gold_pids[-1]].text, example
            assert example.answer == example.answers[0]
            assert example.answer.lower() not in example.question.lower(), example


def test_two_hop_questions_bridge_through_the_first_passage(world_splits):
    passages, splits = world_splits
    two_hop = [example for example in splits["dev"] if example.hops == 2]
    assert two_hop
    for example in two_hop:
        first, second = (passages[pid] for pid in example.gold_pids)
        assert first.title != second.title
        assert second.title in first.text  # the bridge entity, named by the first passage, heads the second


def test_splits_are_disjoint_and_sized_60_15_25(world_splits):
    _, splits = world_splits
    ids = {name: {example.id for example in examples} for name, examples in splits.items()}
    questions = [example.question for examples in splits.values() for example in examples]
    assert len(set(questions)) == len(questions) == sum(len(split_ids) for split_ids in ids.values())
    assert not ids["train"] & ids["test"] and not ids["train"] & ids["dev"] and not ids["dev"] & ids["test"]
    shares = {name: len(split_ids) / len(questions) for name, split_ids in ids.items()}
    assert shares == pytest.approx({"train": 0.6, "dev": 0.15, "test": 0.25}, abs=0.01)
