"""BM25 retriever: build, search, the update side store, and clear errors for broken index dirs."""

from __future__ import annotations

import json

import pytest

from core.errors import RagdistillError
from data.loaders import Passage
from retrieval.base import Hit
from retrieval.bm25 import BM25Retriever, build_bm25
from retrieval.build import build_index
from retrieval.factory import load_retriever

PASSAGES = [
    Passage("p1", "Ada Lovelace", "She wrote the first program for the Analytical Engine."),
    Passage("p2", "Charles Babbage", "He designed the Analytical Engine, a mechanical computer."),
    Passage("p3", "Grace Hopper", "She created the first compiler and popularised the word debugging."),
    Passage("p4", "Alan Turing", "He described the universal machine and helped break the Enigma cipher."),
    Passage("p5", "Mount Fuji", "The highest mountain of Japan is an active volcano."),
]


@pytest.fixture
def index_dir(tmp_path):
    build_index(PASSAGES, tmp_path / "index", parts=["bm25"])
    return tmp_path / "index"


def test_index_dir_layout(index_dir):
    assert json.loads((index_dir / "manifest.json").read_text())["passages"] == 5
    assert len((index_dir / "passages.jsonl").read_text().splitlines()) == 5
    assert json.loads((index_dir / "bm25" / "pids.json").read_text()) == ["p1", "p2", "p3", "p4", "p5"]


def test_search_finds_the_passage_that_shares_rare_terms(index_dir):
    hits = BM25Retriever(index_dir).search("Who helped break the Enigma cipher?", k=3)
    assert hits[0] == Hit("p4", "Alan Turing", PASSAGES[3].text, hits[0].score)
    assert hits[0].score > 0


def test_title_is_indexed(index_dir):
    assert BM25Retriever(index_dir).search("Fuji", k=1)[0].pid == "p5"


def test_scores_descend_and_only_matching_passages_return(index_dir):
    hits = BM25Retriever(index_dir).search("first Analytical Engine", k=5)
    assert {hit.pid for hit in hits} == {"p1", "p2", "p3"}  # p3 shares only "first"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert BM25Retriever(index_dir).search("zeppelin xylophone", k=5) == []


def test_k_limits_and_exceeds_corpus(index_dir):
    retriever = BM25Retriever(index_dir)
    assert len(retriever.search("the first engine", k=1)) == 1
    assert len(retriever.search("she he the first engine mountain cipher", k=50)) <= 5
    with pytest.raises(RagdistillError):
        retriever.search("engine", k=0)


def test_search_batch_matches_search(index_dir):
    retriever = BM25Retriever(index_dir)
    queries = ["Enigma", "compiler debugging", "volcano Japan"]
    assert retriever.search_batch(queries, k=2) == [retriever.search(query, k=2) for query in queries]


def test_update_side_store_adds_replaces_and_deletes(index_dir):
    added = {"pid": "p6", "title": "Hedy Lamarr", "text": "She co-invented frequency hopping."}
    replaced = {"pid": "p5", "title": "Mount Fuji", "text": "A stratovolcano near Tokyo."}
    (index_dir / "updates.jsonl").write_text(json.dumps(added) + "\n" + json.dumps(replaced) + "\n")
    (index_dir / "deleted.json").write_text(json.dumps(["p4"]))
    retriever = BM25Retriever(index_dir)
    assert retriever.search("frequency hopping", k=1)[0].pid == "p6"
    assert retriever.search("stratovolcano", k=1)[0].pid == "p5"
    assert retriever.search("volcano Japan", k=5) == []
    assert retriever.search("Enigma cipher", k=5) == []


def test_load_retriever_opens_bm25(index_dir):
    assert load_retriever("bm25", index_dir).search("compiler", k=1)[0].pid == "p3"


def test_rebuild_replaces_the_old_index(tmp_path):
    build_bm25(PASSAGES, tmp_path / "bm25")
    build_bm25(PASSAGES[:2], tmp_path / "bm25")
    assert json.loads((tmp_path / "bm25" / "pids.json").read_text()) == ["p1", "p2"]
    assert [path.name for path in tmp_path.iterdir()] == ["bm25"]  # no temporaries left behind


def test_broken_index_dirs_give_clear_errors(index_dir, tmp_path):
    with pytest.raises(RagdistillError, match="manifest.json missing"):
        load_retriever("bm25", tmp_path / "absent")
    with pytest.raises(RagdistillError, match="empty corpus"):
        build_bm25([], tmp_path / "empty")
    (index_dir / "passages.jsonl").write_text(json.dumps({"pid": "other", "title": "t", "text": "x"}) + "\n")
    with pytest.raises(RagdistillError, match="does not match"):
        BM25Retriever(index_dir)
    (index_dir / "bm25" / "pids.json").unlink()
    with pytest.raises(RagdistillError, match="no BM25 index"):
        BM25Retriever(index_dir)
