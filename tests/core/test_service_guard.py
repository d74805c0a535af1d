"""Admission, metrics and the guard (`core.serving`), on the search server over a real BM25 index.

A `SlowRetriever` (a real BM25 retriever that also sleeps and counts its searches) makes overload
reproducible on any machine: with one worker, a search takes `delay_s`, so a burst must queue. A server
started by `serve_in_thread` (like `serve_forever`) has searched once, its warm-up, before its first request.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import httpx
import pytest

from core.errors import RagdistillError
from core.serving.app import ServiceConfig
from core.serving.guard import check_exposure
from core.serving.runtime import serve_in_thread
from retrieval.bm25 import BM25Retriever
from retrieval.build import build_index
from retrieval.server import create_app
from tests.fixtures_retrieval import TINY_PASSAGES


class SlowRetriever:
    """BM25 search that takes at least `delay_s` and counts the searches it computed."""

    def __init__(self, index_dir, delay_s: float):
        self.bm25 = BM25Retriever(index_dir)
        self.delay_s = delay_s
        self.searches = 0

    def search(self, query: str, k: int = 5):
        self.searches += 1
        time.sleep(self.delay_s)
        return self.bm25.search(query, k)

    def search_batch(self, queries: list[str], k: int = 5):
        return [self.search(query, k) for query in queries]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("guard") / "index"
    build_index(TINY_PASSAGES, index_dir, parts=["bm25"])
    return index_dir


def burst(url: str, clients: int, params: dict, timeout: float = 30) -> list[httpx.Response]:
    """`clients` GET /api/search requests sent at once from as many threads."""
    responses: list[httpx.Response] = []
    start = threading.Barrier(clients)

    def client() -> None:
        start.wait()
        responses.append(httpx.get(f"{url}/api/search", params=params, timeout=timeout))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_overload_is_503_with_retry_after_and_health_stays_fast(index_dir):
    retriever = SlowRetriever(index_dir, delay_s=0.3)
    with serve_in_thread(create_app(retriever, config=ServiceConfig(max_waiting=2, timeout_s=30))) as url:
        health_seconds: list[float] = []

        def probe() -> None:
            with httpx.Client(base_url=url, timeout=10) as http:  # connected before the burst
                http.get("/health")
                start.wait()
                for _ in range(5):
                    started = time.perf_counter()
                    assert http.get("/health").status_code == 200
                    health_seconds.append(time.perf_counter() - started)
                    time.sleep(0.05)

        start = threading.Barrier(2)
        prober = threading.Thread(target=probe)
        prober.start()
        start.wait()
        responses = burst(url, 10, {"query": "Enigma cipher", "k": 2})
        prober.join()
        statuses = sorted(response.status_code for response in responses)
        assert set(statuses) == {200, 503} and statuses.count(200) >= 3  # one running + two waiting at least
        refused = [response for response in responses if response.status_code == 503]
        assert all(int(response.headers["Retry-After"]) >= 1 and response.json()["error"] for response in refused)
        assert retriever.searches == 1 + statuses.count(200)  # the warm-up; refused requests were never computed
        assert max(health_seconds) < 0.5  # /health never waits behind searches (0.3 s each, 3 of them)
        metrics = httpx.get(f"{url}/metrics").text
        assert f'ragdistill_dropped_requests_total{{reason="overloaded"}} {len(refused)}.0' in metrics
        after = httpx.get(f"{url}/api/search", params={"query": "Enigma cipher", "k": 2})
        assert after.status_code == 200


def test_a_request_past_its_deadline_is_not_computed(index_dir):
    retriever = SlowRetriever(index_dir, delay_s=0.4)
    app = create_app(retriever, config=ServiceConfig(max_waiting=8, timeout_s=0.5))
    with serve_in_thread(app, warm=False) as url:  # no warm-up: the line cannot be judged, deadlines do the work
        statuses = sorted(response.status_code for response in burst(url, 4, {"query": "volcano"}))
        time.sleep(0.5)  # let a search that ran past its deadline finish
        assert statuses[0] == 200 and set(statuses[1:]) == {504}
        # The first search ran; the second started in time but ran past its deadline; the others never ran.
        assert retriever.searches == 2
        assert 'reason="deadline"} 2.0' in httpx.get(f"{url}/metrics").text


def test_a_request_whose_client_left_is_not_computed(index_dir):
    retriever = SlowRetriever(index_dir, delay_s=0.5)
    with serve_in_thread(create_app(retriever, config=ServiceConfig(max_waiting=8, timeout_s=30))) as url:
        first = threading.Thread(target=httpx.get, args=(f"{url}/api/search",), kwargs={"params": {"query": "bees"}})
        first.start()
        time.sleep(0.1)
        with pytest.raises(httpx.ReadTimeout):  # waits behind the first search, then gives up
            httpx.get(f"{url}/api/search", params={"query": "octopus"}, timeout=0.2)
        first.join()
        time.sleep(0.3)
        assert retriever.searches == 2  # the warm-up and the first search
        assert 'reason="client_gone"} 1.0' in httpx.get(f"{url}/metrics").text


def test_a_freshly_started_server_refuses_a_burst_early_instead_of_timing_out(index_dir, capfd):
    retriever = SlowRetriever(index_dir, delay_s=0.4)
    app = create_app(retriever, config=ServiceConfig(max_waiting=8, timeout_s=0.5))
    with serve_in_thread(app) as url:
        # Seeded by the warm-up search before any request: one search takes 0.4 s, so a request that must wait
        # behind one would be answered after ~0.8 s, past its 0.5 s deadline, and is refused at once.
        assert app.state.admission.work_s >= 0.4 and retriever.searches == 1
        statuses = sorted(response.status_code for response in burst(url, 4, {"query": "volcano"}))
    assert 504 not in statuses and 503 in statuses and statuses[0] == 200, statuses  # unwarmed: 200 then 504s
    assert retriever.searches == 1 + statuses.count(200)
    notes = [line.strip() for line in capfd.readouterr().err.splitlines() if "warm-up" in line]
    assert len(notes) == 1 and notes[0].startswith("warm-up search 'What is this collection about?' computed in")


class BrokenRetriever(SlowRetriever):
    """Fails every search, or, with `hang`, never answers until `release` is set."""

    def __init__(self, index_dir, hang: bool):
        super().__init__(index_dir, delay_s=0)
        self.hang, self.release = hang, threading.Event()

    def search(self, query: str, k: int = 5):
        if self.hang:
            self.release.wait()
        raise OSError(28, "No space left on device")


def test_a_failed_or_hung_warm_up_is_one_line_and_nothing_serves(index_dir):
    with pytest.raises(RagdistillError) as failed, serve_in_thread(create_app(BrokenRetriever(index_dir, hang=False))):
        pass
    assert str(failed.value) == (
        "the warm-up search 'What is this collection about?' failed: OSError: [Errno 28] No space left on device"
    )
    hung = BrokenRetriever(index_dir, hang=True)
    started = time.monotonic()
    with pytest.raises(RagdistillError, match=r"got no answer within --warmup-timeout-s 0.5 s \(is the model"):
        with serve_in_thread(create_app(hung, config=ServiceConfig(warmup_timeout_s=0.5))):
            pass
    assert time.monotonic() - started < 5
    hung.release.set()


def test_unknown_paths_do_not_grow_the_metrics(index_dir):
    with serve_in_thread(create_app(BM25Retriever(index_dir))) as url, httpx.Client(base_url=url) as http:
        http.get("/no/such/path"), http.get("/metrics")  # both series exist from now on
        before = http.get("/metrics").text
        rng = random.Random(0)
        for _ in range(500):
            path = "/" + "/".join(rng.choice(["x", "admin", "api", "%41", ".env", "search"]) for _ in range(3))
            assert http.get(f"{path}{rng.randrange(10**9)}").status_code == 404
        after = http.get("/metrics").text
    assert len(after.splitlines()) == len(before.splitlines())
    assert abs(len(after) - len(before)) < 40  # only counter digits changed
    assert 'ragdistill_requests_total{route="unmatched",status="4xx"} 501.0' in after
    assert "admin" not in after and ".env" not in after


def test_api_key_and_body_limit(index_dir):
    config = ServiceConfig(api_key="s3cret-key", max_body_bytes=200)
    with serve_in_thread(create_app(BM25Retriever(index_dir), config=config)) as url:
        search = f"{url}/api/search"
        refused = httpx.get(search, params={"query": "Enigma"})
        assert refused.status_code == 401 and refused.json()["error"] is True
        assert httpx.get(search, params={"query": "Enigma"}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(search, params={"query": "Enigma"}, headers={"X-API-Key": "s3cret-key"}).status_code == 200
        bearer = {"Authorization": "Bearer s3cret-key"}
        assert httpx.post(search, json={"query": "Enigma", "k": 1}, headers=bearer).status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200  # open for load balancers
        assert httpx.get(f"{url}/metrics").status_code == 401
        too_big = httpx.post(search, json={"query": "x" * 300}, headers=bearer)
        assert too_big.status_code == 413 and "200 bytes" in too_big.json()["message"]
        chunked = httpx.post(search, content=iter([b'{"query": "', b"x" * 300, b'"}']), headers=bearer)
        assert chunked.status_code == 413


def test_listening_off_loopback_needs_an_api_key(index_dir, monkeypatch):
    check_exposure("127.0.0.1", None)
    check_exposure("::1", None)
    check_exposure("0.0.0.0", "a-key")
    with pytest.raises(RagdistillError, match="RAGDISTILL_API_KEY"):
        check_exposure("0.0.0.0", None)
    env = {k: v for k, v in os.environ.items() if k != "RAGDISTILL_API_KEY"}
    command = [sys.executable, "-m", "retrieval.serve", "--index", str(index_dir), "--retriever", "bm25"]
    refused = subprocess.run([*command, "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("error: --host 0.0.0.0 exposes")
    assert len(refused.stderr.strip().splitlines()) == 1
