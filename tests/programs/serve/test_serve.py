"""`python -m programs.serve`: a tiny compiled run served on loopback, good and malformed requests."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from core.serving.fields import NOT_BLANK
from core.serving.runtime import serve_in_thread
from engine.batching import MicroBatcher
from programs.serve.service import ServeConfig, create_app, load_service_program


@pytest.fixture(scope="module")
def service(tiny_run):
    config = ServeConfig(workers=4, max_batch=4, timeout_s=30)
    qa = load_service_program(tiny_run, config)
    with serve_in_thread(create_app(qa, config=config, info={"run": "tiny"})) as url:
        yield url, qa


def test_answer_single_and_batch(service, tiny_examples):
    url, qa = service
    single = httpx.post(f"{url}/v1/answer", json={"question": tiny_examples[0].question, "k": 3}, timeout=30)
    assert single.status_code == 200, single.text
    body = single.json()
    assert set(body) == {"answer", "passages", "model", "latency_ms"} and len(body["passages"]) <= 3
    assert body["model"].startswith("student/") and set(body["passages"][0]) == {"pid", "title", "text", "score"}
    questions = [example.question for example in tiny_examples[:4]]
    batch = httpx.post(f"{url}/v1/answer:batch", json={"questions": questions}, timeout=30)
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["answers"]) == 4 and all(1 <= len(a["passages"]) <= 5 for a in batch.json()["answers"])
    # The same question answers the same alone and inside a batch (greedy decoding, batched generation).
    alone = httpx.post(f"{url}/v1/answer", json={"question": questions[1]}, timeout=30).json()["answer"]
    assert batch.json()["answers"][1]["answer"] == alone


MALFORMED = [
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ({"content": b"question=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 422),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 422),
    ({"json": {}}, 422),
    ({"json": {"question": ""}}, 422),
    ({"json": {"question": "   "}}, 422),
    ({"json": {"question": None}}, 422),
    ({"json": {"question": 42}}, 422),
    ({"json": {"question": ["a", "b"]}}, 422),
    ({"json": {"question": "x" * 2001}}, 422),
    ({"json": {"question": "ok?", "k": 0}}, 422),
    ({"json": {"question": "ok?", "k": 101}}, 422),
    ({"json": {"question": "ok?", "k": "five"}}, 422),
    ({"json": {"question": "ok?", "k": True}}, 422),
    ({"json": {"question": "\u0085\u3000"}}, 422),
    ({"json": {"question": "ok?", "k": -3}}, 422),
    ({"json": ["question"]}, 422),
    ({"json": "question"}, 422),
]
MALFORMED_BATCH = [({"json": {"questions": []}}, 422), ({"json": {"questions": ["q?"] * 5}}, 422),
                   ({"json": {"questions": "q?"}}, 422), ({"json": {"questions": ["ok?", ""]}}, 422)]  # fmt: skip


def test_malformed_requests_get_4xx_json_and_the_service_survives(service, tiny_examples):
    url, _ = service
    for path, cases in (("/v1/answer", MALFORMED), ("/v1/answer:batch", MALFORMED_BATCH)):
        for request, status in cases:
            response = httpx.post(f"{url}{path}", timeout=30, **request)
            assert response.status_code == status, (request, response.text)
            assert response.json()["error"] is True and isinstance(response.json()["message"], str)
    assert httpx.get(f"{url}/v1/answer", timeout=30).status_code == 405
    good = httpx.post(f"{url}/v1/answer", json={"question": tiny_examples[0].question}, timeout=30)
    assert good.status_code == 200


def test_health_metrics_and_openapi(service):
    url, _ = service
    health = httpx.get(f"{url}/health", timeout=30).json()
    assert health["status"] == "ok" and health["run"] == "tiny" and "dspy" in health["versions"]
    metrics = metric_values(httpx.get(f"{url}/metrics", timeout=30).text)
    assert metrics[("ragdistill_requests_total", (("route", "/v1/answer"), ("status", "2xx")))] >= 1
    assert metrics[("ragdistill_generate_batch_size_count", ())] >= 1  # the service counts generate calls
    assert ("ragdistill_generated_tokens_total", ()) in metrics  # the random tiny T5 may generate no token at all
    assert metrics[("ragdistill_queue_depth", ())] == 0 and metrics[("ragdistill_in_flight_requests", ())] == 0
    schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    assert {"/v1/answer", "/v1/answer:batch", "/health", "/metrics"} <= set(schema["paths"])
    answer_body = schema["components"]["schemas"]["AnswerRequest"]["properties"]
    assert set(answer_body) == {"question", "k"} and answer_body["k"]["maximum"] == 100
    assert answer_body["question"] == {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": NOT_BLANK,
                                       "title": "Question", "description": "The question to answer."}  # fmt: skip
    questions = schema["components"]["schemas"]["BatchRequest"]["properties"]["questions"]
    assert questions["maxItems"] == 4 and questions["items"]["minLength"] == 1  # declared, not checked by hand
    responses = schema["paths"]["/v1/answer"]["post"]["responses"]
    assert {"200", "400", "413", "422", "503", "504"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]
    assert set(schema["components"]["schemas"]["Answer"]["properties"]) == {"answer", "passages", "model", "latency_ms"}


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_overload_is_answered_503_and_the_service_recovers(tiny_run, tiny_examples):
    config = ServeConfig(workers=1, max_batch=4, max_waiting=0, timeout_s=60)
    qa = load_service_program(tiny_run, config)
    questions = [example.question for example in tiny_examples[:4]]
    statuses: list[int] = []
    with serve_in_thread(create_app(qa, config=config)) as url:
        start = threading.Barrier(6)

        def client() -> None:
            start.wait()
            response = httpx.post(f"{url}/v1/answer:batch", json={"questions": questions}, timeout=60)
            assert response.status_code == 200 or int(response.headers["Retry-After"]) >= 1
            statuses.append(response.status_code)

        threads = [threading.Thread(target=client) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(statuses) == {200, 503}
        after = httpx.post(f"{url}/v1/answer", json={"question": questions[0]}, timeout=60)
        assert after.status_code == 200
        metrics = metric_values(httpx.get(f"{url}/metrics", timeout=30).text)
        dropped = metrics[("ragdistill_dropped_requests_total", (("reason", "overloaded"),))]
        assert dropped == statuses.count(503)


def test_the_service_knows_an_answer_s_time_before_its_first_request(tiny_run, capfd):
    config = ServeConfig(workers=1, max_batch=1, timeout_s=60)
    app = create_app(load_service_program(tiny_run, config), config=config)
    assert app.state.admission.work_s == 0  # not served yet: nothing measured
    with serve_in_thread(app) as url:
        seeded = app.state.admission.work_s  # the warm-up question's time, so early refusal works from request one
        assert seeded > 0
        metrics = metric_values(httpx.get(f"{url}/metrics", timeout=30).text)
        assert ("ragdistill_requests_total", (("route", "/v1/answer"), ("status", "2xx"))) not in metrics
        assert metrics[("ragdistill_generate_batch_size_count", ())] == 1  # the warm-up went through the student
    warmup = [line for line in capfd.readouterr().err.splitlines() if "warm-up" in line]
    assert warmup == [f"    warm-up question 'What is this collection about?' computed in {seeded:.2f} s"]


def wait_until(condition, timeout_s: float = 60.0) -> None:
    """Poll `condition` until it holds (a wait for other threads, not a timing check)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the other threads never got there"
        time.sleep(0.01)


def test_micro_batcher_groups_items_that_arrive_while_a_batch_runs():
    """While the worker is busy with one caller's item, five more callers submit: they are answered in one call.
    (The first call is held until all five are queued, so the grouping does not depend on thread scheduling.)"""
    calls, release = [], threading.Event()

    def double(items: list[int]) -> list[int]:
        calls.append(sorted(items))
        release.wait(timeout=60)
        return [i * 2 for i in items]

    batcher = MicroBatcher(double, max_batch=8, wait_s=0.2)
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.submit(i))) for i in range(6)]
    threads[0].start()
    wait_until(lambda: calls == [[0]])
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: batcher._queue.qsize() == 5)  # every other item queued behind the running call
    release.set()
    for thread in threads:
        thread.join()
    batcher.close()
    assert results == {i: i * 2 for i in range(6)}
    assert calls == [[0], [1, 2, 3, 4, 5]] and batcher.batches == 2


def test_missing_run_dir_fails_at_start_with_one_line(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "programs.serve", str(tmp_path / "absent"), "--port", "0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: ") and len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # two workers each import torch, DSPy and the run: 11-50 s on 2 shared cores, by load
def test_processes_serve_from_several_workers_and_stop_cleanly(tiny_run, tiny_examples, tmp_path):
    """`--processes 2`: two worker processes answer on one port, and any one scrape of /metrics counts what both
    answered (their shared metrics directory lives as long as the service); SIGTERM stops the supervisor and both."""
    command = [sys.executable, "-m", "programs.serve", str(tiny_run), "--port", "0", "--processes", "2"]
    command += ["--timeout-s", "150"]  # a loaded 2-core machine answers a few questions in 10-30 s
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:  # a file, not a pipe nobody reads: the workers' warnings never block them
        server = subprocess.Popen(command, stderr=stderr, text=True)
    try:
        url = wait_for_url(server, log)
        health_by_pid: Counter[int] = Counter()
        deadline = time.monotonic() + 120
        while len(health_by_pid) < 2 and server.poll() is None and time.monotonic() < deadline:
            try:  # each new connection goes to one worker or the other
                health_by_pid[httpx.get(f"{url}/health", timeout=30).json()["pid"]] += 1
            except httpx.TransportError:
                time.sleep(0.2)  # the workers are still loading
        pids = set(health_by_pid)
        assert len(pids) == 2 and server.pid not in pids, log.read_text()[-2000:]
        assert pids <= {int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()}
        shared = list(Path(tempfile.gettempdir()).glob(f"ragdistill-metrics-{server.pid}-*"))
        assert len(shared) == 1 and shared[0].is_dir()  # the workers' metrics directory, made by the supervisor
        questions = [example.question for example in tiny_examples[:2]] * 2
        with ThreadPoolExecutor(len(questions)) as pool:
            answers = list(
                pool.map(lambda q: httpx.post(f"{url}/v1/answer", json={"question": q}, timeout=180), questions)
            )
        assert [answer.status_code for answer in answers] == [200] * len(questions)
        assert [a.json()["answer"] for a in answers[:2]] == [a.json()["answer"] for a in answers[2:]]  # same model
        scrapes = [metric_values(httpx.get(f"{url}/metrics", timeout=30).text) for _ in range(4)]  # either worker
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # the workers stopped with the supervisor
    assert not shared[0].exists()  # and their metrics directory went with them
    health = ("ragdistill_requests_total", (("route", "/health"), ("status", "2xx")))
    answered = ("ragdistill_requests_total", (("route", "/v1/answer"), ("status", "2xx")))
    for metrics in scrapes:  # every scrape, whichever worker answers it, counts the requests of both
        assert metrics[health] == health_by_pid.total() and metrics[answered] == len(questions)
        assert metrics[("ragdistill_in_flight_requests", ())] == 0 and metrics[("ragdistill_queue_depth", ())] == 0
        assert metrics[("ragdistill_generate_batch_size_count", ())] >= 2  # each worker's warm-up at least


def wait_for_url(server: subprocess.Popen, log: Path, timeout_s: float = 60) -> str:
    """The base URL the service prints once its port is bound."""
    deadline = time.monotonic() + timeout_s
    while server.poll() is None and time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("serving at "):
                return line.split()[2].removesuffix("/v1/answer")
        time.sleep(0.1)
    raise AssertionError(f"the service did not start: {log.read_text()[-2000:]}")


def test_processes_must_be_positive(tiny_run):
    command = [sys.executable, "-m", "programs.serve", str(tiny_run), "--port", "0", "--processes", "0"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and completed.stderr.strip() == "error: --processes must be between 1 and 64"
