"""ColBERT retrieval on a real colbert-ai PLAID index of 40 hand-written passages (tests/fixtures_retrieval.py)."""

from __future__ import annotations

import json
import shutil

import pytest

from core.errors import RagdistillError
from data.loaders import Passage, load_corpus
from retrieval.build import build_index, rebuild_index
from retrieval.colbert import ColBERTRetriever, ColBERTScorer
from retrieval.factory import load_retriever
from retrieval.indexdir import corpus_sha256
from retrieval.updates import add_passages, delete_passages
from tests.fixtures_retrieval import TINY_PASSAGES, TINY_QUERIES


@pytest.fixture(scope="module")
def retriever(tiny_index_dir):
    return ColBERTRetriever(tiny_index_dir)


@pytest.fixture
def index_copy(tiny_index_dir, tmp_path):
    """A private copy of the tiny index that a test may change."""
    return shutil.copytree(tiny_index_dir, tmp_path / "index")


def test_index_dir_layout_and_manifest(tiny_index_dir):
    manifest = json.loads((tiny_index_dir / "manifest.json").read_text())
    assert manifest["retrievers"] == ["colbert", "bm25"]
    assert manifest["checkpoint"] == "minilm-colbert"
    assert manifest["passages"] == len(TINY_PASSAGES) == 40
    assert manifest["corpus_sha256"] == corpus_sha256(TINY_PASSAGES)
    assert manifest["settings"] == {"nbits": 4, "doc_maxlen": 180, "kmeans_niters": 4, "dim": 384, "query_maxlen": 64}
    assert manifest["updates"] == {"added": 0, "deleted": 0}
    assert load_corpus(tiny_index_dir / "passages.jsonl") == TINY_PASSAGES
    assert (tiny_index_dir / "colbert" / "metadata.json").is_file()
    assert (tiny_index_dir / "bm25").is_dir()
    assert not list(tiny_index_dir.parent.glob(".tiny-index.tmp-*"))  # the temporary build dir is gone


def test_hand_picked_questions_find_their_passage_first(retriever):
    results = retriever.search_batch([question for question, _ in TINY_QUERIES], k=3)
    assert [hits[0].pid for hits in results] == [pid for _, pid in TINY_QUERIES]
    question, pid = TINY_QUERIES[0]
    assert retriever.search(question, k=3) == results[0]
    top = results[0][0]
    assert (top.title, top.text) == (TINY_PASSAGES[0].title, TINY_PASSAGES[0].text)


def test_hits_are_k_long_and_sorted(retriever):
    for k in (1, 5, 40):
        hits = retriever.search("famous scientists and their discoveries", k=k)
        assert len(hits) == k if k <= 5 else 10 <= len(hits) <= k  # PLAID prunes far-away passages
        assert len({hit.pid for hit in hits}) == len(hits)
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


@pytest.mark.parametrize("k", [0, -1, 101, "five"])
def test_bad_k_is_a_user_error(retriever, k):
    with pytest.raises(RagdistillError, match="k must be"):
        retriever.search("volcano", k=k)


def test_load_retriever_by_name(tiny_index_dir):
    assert load_retriever("colbert", tiny_index_dir).search("Who patented the telephone?", k=1)[0].pid == "p33"


def test_scorer_ranks_the_answering_passage_highest_and_agrees_with_plaid(retriever):
    scorer = ColBERTScorer("minilm-colbert")
    texts = [passage.as_context() for passage in TINY_PASSAGES]
    question, pid = TINY_QUERIES[2]
    scores = scorer.score(question, texts)
    assert TINY_PASSAGES[max(range(len(texts)), key=scores.__getitem__)].pid == pid
    plaid_top = retriever.search(question, k=1)[0]
    assert plaid_top.score == pytest.approx(scores[int(pid[1:])], abs=0.5)  # residual compression only
    assert scorer.score(question, []) == []


def test_add_replace_and_delete_without_rebuild(index_copy):
    new = Passage("zz1", "Zanzibar", "Zanzibar exports cloves, nutmeg and cinnamon from its spice farms.")
    replaced = Passage("p4", "Mount Fuji", "Mount Fuji last erupted in 1707 and is climbed by pilgrims every summer.")
    assert add_passages(index_copy, [new, replaced]) == 2
    assert delete_passages(index_copy, ["p3"]) == 1
    manifest = json.loads((index_copy / "manifest.json").read_text())
    assert manifest["updates"] == {"added": 2, "deleted": 1}

    retriever = ColBERTRetriever(index_copy)
    spice, fuji, turing = retriever.search_batch(
        ["Which island exports cloves?", "When did Mount Fuji last erupt?", "Which cipher did Turing help to break?"],
        k=40,
    )
    assert spice[0].pid == "zz1"
    assert (fuji[0].pid, fuji[0].text) == ("p4", replaced.text)
    for hits in (spice, fuji, turing):
        pids = [hit.pid for hit in hits]
        assert len(pids) == len(set(pids))  # the old p4 is hidden, not listed twice
        assert "p3" not in pids and "zz1" in pids  # side-store passages are always scored
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert load_retriever("bm25", index_copy).search("cloves nutmeg", k=1)[0].pid == "zz1"  # same side store


def test_adding_a_deleted_pid_brings_it_back(index_copy):
    delete_passages(index_copy, ["p33"])
    assert ColBERTRetriever(index_copy).search("Who patented the telephone?", k=1)[0].pid != "p33"
    add_passages(index_copy, [TINY_PASSAGES[33]])
    assert json.loads((index_copy / "deleted.json").read_text()) == []
    assert ColBERTRetriever(index_copy).search("Who patented the telephone?", k=1)[0].pid == "p33"


def test_update_errors(index_copy):
    with pytest.raises(RagdistillError, match="not in the index"):
        delete_passages(index_copy, ["nope"])
    with pytest.raises(RagdistillError, match="no passages"):
        add_passages(index_copy, [])


def test_absent_index_is_a_user_error(tmp_path):
    with pytest.raises(RagdistillError, match="no index at"):
        ColBERTRetriever(tmp_path / "missing")
    with pytest.raises(RagdistillError, match="no index at"):
        add_passages(tmp_path / "missing", TINY_PASSAGES[:1])


def test_bad_corpora_are_user_errors_and_write_nothing(tmp_path):
    with pytest.raises(RagdistillError, match="empty corpus"):
        build_index([], tmp_path / "index")
    with pytest.raises(RagdistillError, match="duplicate pid 'p0'"):
        build_index([TINY_PASSAGES[0], TINY_PASSAGES[0]], tmp_path / "index")
    with pytest.raises(RagdistillError, match="nbits"):
        build_index(TINY_PASSAGES, tmp_path / "index", nbits=3)
    with pytest.raises(RagdistillError, match="checkpoint"):
        build_index(TINY_PASSAGES, tmp_path / "index", checkpoint=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_rebuild_folds_the_side_store_in(index_copy):
    add_passages(index_copy, [Passage("zz1", "Zanzibar", "Zanzibar exports cloves from its spice farms.")])
    delete_passages(index_copy, ["p3"])
    rebuild_index(index_copy)
    manifest = json.loads((index_copy / "manifest.json").read_text())
    assert manifest["passages"] == 40 and manifest["updates"] == {"added": 0, "deleted": 0}
    assert not (index_copy / "updates.jsonl").exists() and not (index_copy / "deleted.json").exists()
    assert ColBERTRetriever(index_copy).search("Which island exports cloves?", k=1)[0].pid == "zz1"


def test_a_relative_index_path_opens(tiny_index_dir, monkeypatch):
    monkeypatch.chdir(tiny_index_dir.parent)
    retriever = ColBERTRetriever(tiny_index_dir.name)
    assert retriever.search("Ada Lovelace first program", k=1)
