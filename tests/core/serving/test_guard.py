"""`core.serving.guard`: the API key in a header or in the URL's query string, on a real search server.

`dspy.ColBERTv2(url=...)` sends no headers, so a server started with an API key must take it from the URL
(`?api_key=KEY`); the key is compared in constant time, taken out of the query string before the app sees
it, and never written to a log.
"""

from __future__ import annotations

import logging

import dspy
import httpx
import pytest
from dspy.clients.cache import Cache

from core.serving.app import ServiceConfig
from core.serving.guard import redact_key, take_query_key
from core.serving.runtime import serve_in_thread
from retrieval.bm25 import BM25Retriever
from retrieval.build import build_index
from retrieval.server import create_app
from tests.fixtures_retrieval import TINY_PASSAGES

KEY = "s3cret+key/=&"  # characters a URL must escape


@pytest.fixture(scope="module")
def guarded_url(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("guard") / "index"
    build_index(TINY_PASSAGES, index_dir, parts=["bm25"])
    with serve_in_thread(create_app(BM25Retriever(index_dir), config=ServiceConfig(api_key=KEY))) as url:
        yield url


@pytest.fixture
def no_dspy_cache(monkeypatch):
    """The client caches responses by URL; each test must reach the server."""
    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=False, disk_cache_dir=None))


def test_the_key_is_taken_out_of_the_query_string_and_other_parameters_stay_byte_for_byte():
    assert take_query_key(b"query=a%20b&api_key=s3cret%2Bkey&k=2") == (b"s3cret+key", b"query=a%20b&k=2")
    assert take_query_key(b"query=a+b") == (None, b"query=a+b")
    assert redact_key("http://h/api/search?api_key=abc&k=1 failed") == "http://h/api/search?api_key=***&k=1 failed"


def test_the_key_in_the_url_is_accepted_and_a_wrong_or_missing_one_refused(guarded_url, caplog):
    search = f"{guarded_url}/api/search"
    caplog.set_level(logging.DEBUG)
    answered = httpx.get(search, params={"query": "Enigma cipher", "k": 1, "api_key": KEY})
    assert answered.status_code == 200 and answered.json()["query"] == "Enigma cipher"
    posted = httpx.post(search, params={"api_key": KEY}, json={"query": "Enigma cipher", "k": 1})
    assert posted.status_code == 200 and posted.json()["topk"][0]["pid"] == answered.json()["topk"][0]["pid"]
    for params in ({"query": "Enigma", "api_key": "wrong"}, {"query": "Enigma"}, {"query": "Enigma", "api_key": ""}):
        refused = httpx.get(search, params=params)
        assert refused.status_code == 401
        assert refused.json() == {"error": True, "message": "a valid API key is required"}
    assert httpx.get(search, params={"query": "Enigma"}, headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(f"{guarded_url}/metrics", params={"api_key": KEY}).status_code == 200
    client_side = ("httpx", "httpcore")
    server_side = [record.getMessage() for record in caplog.records if not record.name.startswith(client_side)]
    assert not any("s3cret" in message for message in server_side)  # the client logs its own URLs, the server none


def test_the_stock_dspy_client_reaches_a_guarded_server_with_the_key_in_its_url(guarded_url, no_dspy_cache):
    url = str(httpx.URL(f"{guarded_url}/api/search", params={"api_key": KEY}))
    assert dspy.ColBERTv2(url=url)("Who broke the Enigma cipher?", k=1)[0].long_text.startswith("Alan Turing")
    posted = dspy.ColBERTv2(url=url, post_requests=True)("Who broke the Enigma cipher?", k=1)
    assert posted[0].long_text.startswith("Alan Turing")
    with pytest.raises(Exception, match="401"):
        dspy.ColBERTv2(url=f"{guarded_url}/api/search?api_key=wrong")("Enigma", k=1)
