"""Session-scoped pytest fixtures: data.

`tiny_examples` are twelve single-hop questions of the bundled world's test split; `tiny_corpus` holds their
gold passages plus distractors (the other passages about the same entities first), 40 passages in all,
also written to disk as `tiny_corpus_path`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import dspy
import pytest

from data.loaders import WORLD_CORPUS, Passage, load_corpus, load_examples
from data.world import to_jsonl


@pytest.fixture(scope="session")
def tiny_examples() -> list[dspy.Example]:
    """Twelve single-hop questions from the bundled test split."""
    return [example for example in load_examples("test") if example.hops == 1][:12]


@pytest.fixture(scope="session")
def tiny_corpus(tiny_examples: list[dspy.Example]) -> list[Passage]:
    """The gold passages of `tiny_examples` and distractors about the same entities, 40 in all."""
    corpus = load_corpus(WORLD_CORPUS)
    gold = {pid for example in tiny_examples for pid in example.gold_pids}
    titles = {passage.title for passage in corpus if passage.pid in gold}
    chosen = [passage for passage in corpus if passage.pid in gold]
    chosen += [passage for passage in corpus if passage.title in titles and passage.pid not in gold]
    chosen += [passage for passage in corpus if passage not in chosen]
    return chosen[:40]


@pytest.fixture(scope="session")
def tiny_corpus_path(tiny_corpus: list[Passage], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_corpus` as a JSONL file."""
    path = tmp_path_factory.mktemp("data") / "tiny_corpus.jsonl"
    path.write_text(to_jsonl([dataclasses.asdict(passage) for passage in tiny_corpus]), encoding="utf-8")
    return path
