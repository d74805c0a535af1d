"""`core.serving.metrics.shared_metrics`: what several processes count adds up in one scrape.

Real worker-like processes (each a fresh interpreter, as uvicorn's supervisor spawns them) count requests and
report a request in flight; the test process scrapes their shared directory. The QA service with 2 uvicorn
workers is tested end to end in `tests/programs/serve/test_serve.py` (slow).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from core.serving.metrics import MULTIPROCESS_DIR_ENV, ServiceMetrics, shared_metrics
from tests.programs.serve.test_serve import metric_values

REPO = Path(__file__).resolve().parents[2]
WORKER = """
import sys
from core.serving.admission import Admission, AdmissionConfig
from core.serving.metrics import ServiceMetrics

metrics, admission = ServiceMetrics(), Admission(AdmissionConfig())
metrics.watch(admission)
for _ in range(int(sys.argv[1])):
    metrics.requests.labels("/v1/answer", "2xx").inc()
metrics.observe_generation(4, 10)
admission.in_flight = 1  # one request computing, as the admission reports it
admission.on_change()
print("ready", flush=True)
sys.stdin.read()  # stays alive until the test closes stdin
"""


def start_worker(requests: int) -> subprocess.Popen:
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(requests)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert worker.stdout.readline() == "ready\n"
    return worker


def stop(worker: subprocess.Popen) -> None:
    worker.stdin.close()
    assert worker.wait(timeout=30) == 0


def test_one_scrape_adds_up_every_worker_and_forgets_dead_ones_in_flight():
    assert MULTIPROCESS_DIR_ENV not in os.environ  # one process alone keeps its metrics in memory
    with shared_metrics() as directory:
        assert os.environ[MULTIPROCESS_DIR_ENV] == str(directory) and directory.is_dir()
        assert directory.parent == Path(tempfile.gettempdir()) and not any(directory.iterdir())  # fresh
        first, second = start_worker(3), start_worker(2)
        try:
            both = metric_values(ServiceMetrics().render().decode())
            stop(first)
            one_left = metric_values(ServiceMetrics().render().decode())
        finally:
            for worker in (first, second):
                if worker.poll() is None:
                    stop(worker)
    assert MULTIPROCESS_DIR_ENV not in os.environ and not directory.exists()  # removed at exit

    answered = ("ragdistill_requests_total", (("route", "/v1/answer"), ("status", "2xx")))
    assert both[answered] == 5 and both[("ragdistill_in_flight_requests", ())] == 2
    assert both[("ragdistill_generated_tokens_total", ())] == 20
    assert both[("ragdistill_generate_batch_size_count", ())] == 2
    assert both[("ragdistill_dropped_requests_total", (("reason", "overloaded"),))] == 0
    # A worker that exited keeps its counts, but no longer has a request in flight.
    assert one_left[answered] == 5 and one_left[("ragdistill_in_flight_requests", ())] == 1
