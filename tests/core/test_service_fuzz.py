"""Schema-driven fuzzing of both HTTP services: schemathesis generates requests from each OpenAPI schema.

For every operation, requests that fit the schema (positive) and requests that break it (negative) are sent
in-process to the ASGI app; every answer must be below 500, an error must be a JSON object, and the answer
must conform to the schema (its status code declared, its body and headers as documented). The runs are
seeded (derandomized) and bounded: ~100 requests per service by default, thousands in the `slow` test.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from programs.serve.service import ServeConfig, create_app, load_service_program
from retrieval.bm25 import BM25Retriever
from retrieval.build import build_index
from retrieval.server import create_app as create_search_app
from tests.fixtures_retrieval import TINY_PASSAGES

MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def fuzz(app, examples: int) -> int:
    """Send up to `examples` generated requests per operation and mode to `app`; the number sent."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:

            @settings(
                max_examples=examples, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                nonlocal sent
                sent += 1
                response = case.call()
                assert response.status_code < 500, (case.as_curl_command(), response.text)
                if response.status_code >= 400:
                    assert isinstance(response.json(), dict)
                case.validate_response(response)

            try:
                check()
            except Unsatisfiable:  # nothing to break in an operation without parameters
                pass
    return sent


@pytest.fixture(scope="module")
def search_app(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("fuzz") / "index"
    build_index(TINY_PASSAGES, index_dir, parts=["bm25"])
    return create_search_app(BM25Retriever(index_dir), info={"retriever": "bm25"})


@pytest.fixture(scope="module")
def qa_app(tiny_run):
    config = ServeConfig(workers=2, max_batch=4, timeout_s=60)
    return create_app(load_service_program(tiny_run, config), config=config, info={"run": "tiny"})


def test_fuzz_the_search_server(search_app):
    sent = fuzz(search_app, examples=15)
    print(f"search server: {sent} generated requests, 0 failures")
    assert sent >= 60


def test_fuzz_the_qa_service(qa_app):
    sent = fuzz(qa_app, examples=12)
    print(f"QA service: {sent} generated requests, 0 failures")
    assert sent >= 50


@pytest.mark.slow
def test_fuzz_both_services_thousands_of_requests(search_app, qa_app):
    search_sent, qa_sent = fuzz(search_app, examples=600), fuzz(qa_app, examples=500)
    print(f"search server: {search_sent}, QA service: {qa_sent} generated requests, 0 failures")
    assert search_sent >= 2000 and qa_sent >= 1500
