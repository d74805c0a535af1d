"""The search server, queried through DSPy's unmodified `dspy.ColBERTv2` client and through raw HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import dspy
import httpx
import pytest
from click.testing import CliRunner
from dspy.clients.cache import Cache

from core.serving.runtime import serve_in_thread
from data.loaders import Passage
from retrieval.bm25 import BM25Retriever
from retrieval.build import build_index
from retrieval.factory import load_retriever
from retrieval.serve import main as serve_main
from retrieval.server import create_app

PASSAGES = [
    Passage("p1", "Ada Lovelace", "She wrote the first program for the Analytical Engine."),
    Passage("p2", "Alan Turing", "He helped break the Enigma cipher."),
    Passage("p3", "Mount Fuji", "The highest mountain of Japan is an active volcano."),
]


@pytest.fixture
def no_dspy_cache(monkeypatch):
    """The client caches responses by URL; a reused port must not answer from another test's server."""
    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=False, disk_cache_dir=None))


@pytest.fixture(scope="module")
def bm25_index_dir(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("server") / "index"
    build_index(PASSAGES, index_dir, parts=["bm25"])
    return index_dir


@pytest.fixture(scope="module")
def base_url(bm25_index_dir):
    app = create_app(BM25Retriever(bm25_index_dir), info={"retriever": "bm25"})
    with serve_in_thread(app) as url:
        yield url


def test_dspy_colbertv2_client_reads_results(base_url, no_dspy_cache):
    client = dspy.ColBERTv2(url=f"{base_url}/api/search")
    hits = client("Who broke the Enigma cipher?", k=2)
    assert hits[0].pid == "p2"
    assert hits[0].long_text == "Alan Turing | He helped break the Enigma cipher."
    assert hits[0].rank == 1 and 0 < hits[0].prob <= 1
    assert client("Enigma cipher", k=1, simplify=True) == [hits[0].long_text]


def test_dspy_colbertv2_client_post_requests(base_url, no_dspy_cache):
    client = dspy.ColBERTv2(url=f"{base_url}/api/search", post_requests=True)
    assert [hit.long_text for hit in client("highest mountain of Japan", k=1)] == [
        "Mount Fuji | The highest mountain of Japan is an active volcano."
    ]


def test_topk_shape_and_probabilities(base_url):
    body = httpx.get(f"{base_url}/api/search", params={"query": "first engine Enigma volcano", "k": 3}).json()
    assert [hit["rank"] for hit in body["topk"]] == [1, 2, 3]
    assert set(body["topk"][0]) == {"pid", "title", "text", "long_text", "rank", "score", "prob"}
    assert sum(hit["prob"] for hit in body["topk"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "params",
    [
        {"query": "x", "k": "abc"},
        {"query": "x", "k": 0},
        {"query": "x", "k": 101},
        {"k": 3},
        {"query": "  "},
        {"query": "q" * 2001},
    ],
    ids=["k-not-a-number", "k-0", "k-101", "no-query", "blank-query", "long-query"],
)
def test_bad_requests_get_400_json(base_url, params):
    response = httpx.get(f"{base_url}/api/search", params=params)
    assert response.status_code == 400
    assert response.json()["error"] is True and response.json()["message"]


def test_bad_post_bodies_get_400_json(base_url):
    assert httpx.post(f"{base_url}/api/search", content=b"not json").status_code == 400
    assert httpx.post(f"{base_url}/api/search", json=["query"]).status_code == 400
    # Found by the long fuzz run: JSON true is no integer, and U+0085 is white space (as the schema now says).
    assert httpx.post(f"{base_url}/api/search", json={"query": "Enigma", "k": True}).status_code == 400
    assert httpx.post(f"{base_url}/api/search", json={"query": "\u0085\u3000"}).status_code == 400
    assert httpx.post(f"{base_url}/api/search", json={"query": "Enigma", "k": 1}).json()["topk"][0]["pid"] == "p2"


def test_health(base_url):
    assert httpx.get(f"{base_url}/health").json() == {"status": "ok", "retriever": "bm25"}


def test_concurrent_requests_all_succeed(base_url):
    statuses: list[int] = []

    def client() -> None:
        with httpx.Client(base_url=base_url) as http:
            statuses.extend(http.get("/api/search", params={"query": "Enigma", "k": 2}).status_code for _ in range(10))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 80


class FailingRetriever:
    def search(self, query: str, k: int = 5):
        raise RuntimeError("disk vanished")

    def search_batch(self, queries: list[str], k: int = 5):
        raise RuntimeError("disk vanished")


def test_a_failed_search_is_a_500_json_and_the_server_lives_on():
    with serve_in_thread(create_app(FailingRetriever()), warm=False) as url:  # its warm-up would fail
        for _ in range(2):
            response = httpx.get(f"{url}/api/search", params={"query": "x"})
            assert response.status_code == 500 and response.json()["error"] is True


def test_cli_absent_index_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(serve_main, ["--index", str(tmp_path / "nope"), "--port", "0", "--retriever", "bm25"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no index at") and result.stderr.count("\n") == 1


def test_cli_port_in_use_is_one_line_exit_2(bm25_index_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(serve_main, ["--index", str(bm25_index_dir), "--port", str(port)])
    assert result.exit_code == 2
    assert "is the port in use?" in result.stderr and result.stderr.count("\n") == 1


def test_cli_serves_until_stopped(bm25_index_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "retrieval.serve",
        "--index",
        str(bm25_index_dir),
        "--port",
        str(port),
        "--retriever",
        "bm25",
    ]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/search", params={"query": "Enigma", "k": 1}).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body["topk"][0]["pid"] == "p2"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_colbert_retriever_through_the_dspy_client(tiny_index_dir, no_dspy_cache):
    retriever = load_retriever("colbert", tiny_index_dir)
    target = retriever.search("a question", k=1)[0]
    with serve_in_thread(create_app(retriever)) as url:
        hits = dspy.ColBERTv2(url=f"{url}/api/search")(target.text, k=2)
    assert hits[0].pid == target.pid and hits[0].long_text == target.as_context()
