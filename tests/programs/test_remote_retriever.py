"""`load_program(run, retriever=URL)` through a search server started with an API key: the key rides in the URL.

The tiny run's own BM25 index is served by the ColBERTv2-protocol server (`retrieval.server`) with a key;
the program, loaded with the server's URL and `?api_key=KEY`, answers as it does with its own retriever, and
with a wrong key fails with one error that does not repeat the key.
"""

from __future__ import annotations

import dspy
import pytest
from dspy.clients.cache import Cache

from core.errors import ServiceError
from core.serving.app import ServiceConfig
from core.serving.runtime import serve_in_thread
from programs import load_program
from programs.rundir import read_run_manifest, run_index_dir
from retrieval.factory import load_retriever
from retrieval.server import create_app

KEY = "run-key-42"


def test_a_program_searches_a_guarded_server_with_the_key_in_the_url(tiny_run, tiny_examples, monkeypatch):
    monkeypatch.setattr(dspy, "cache", Cache(enable_disk_cache=False, enable_memory_cache=False, disk_cache_dir=None))
    retriever = load_retriever("bm25", run_index_dir(tiny_run, read_run_manifest(tiny_run)))
    question = tiny_examples[0].question
    local = load_program(tiny_run)(question)
    with serve_in_thread(create_app(retriever, config=ServiceConfig(api_key=KEY))) as url:
        remote = load_program(tiny_run, retriever=f"{url}/api/search?api_key={KEY}")(question)
        assert [hit.pid for hit in remote.passages] == [hit.pid for hit in local.passages]
        assert remote.answer == local.answer
        with pytest.raises(ServiceError, match=r"api_key=\*\*\*") as refused:
            load_program(tiny_run, retriever=f"{url}/api/search?api_key=wrong-key")(question)
    assert "401" in str(refused.value) and "wrong-key" not in str(refused.value)
