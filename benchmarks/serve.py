"""Load test of `python -m programs.serve` on loopback, with the teacher answering the same questions.

    python -m benchmarks.serve runs/world [--seconds 20] [--clients 1,8,32] [--teacher-questions 10]

Starts the service from a run directory in a subprocess on a free loopback port, then for each client
count sends the test split's questions from that many threads for `--seconds` (bounded: the loop stops by
itself) and records requests/s, p50/p95/p99 latency and errors; peak RSS of the service comes from
/proc (Linux). In the same run the run's teacher program answers `--teacher-questions` of the same
questions one after another, so the JSON states the student/teacher throughput ratio.

Overload (polite and impatient clients, both services) is `benchmarks.overload`. Last, 500
requests to random unknown paths must leave the size of /metrics unchanged.

Simplified: the teacher is measured sequentially in this process (a local teacher is one model on the
same CPU); latencies are client-side wall times.
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import httpx
import numpy as np

from benchmarks.results import emit, out_option
from core.errors import ServiceError, exit_cleanly_on_error
from data.loaders import load_examples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(run_dir: Path, port: int, workers: int, max_waiting: int) -> subprocess.Popen:
    """The service in a subprocess, once /health answers (model loaded)."""
    command = [sys.executable, "-m", "programs.serve", str(run_dir), "--port", str(port), "--workers", str(workers),
               "--max-waiting", str(max_waiting)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"the service did not start: {process.stderr.read().strip()[-500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise ServiceError("the service did not answer /health within 300 s")


def peak_rss_mb(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    if not status.is_file():
        return None
    line = next((line for line in status.read_text().splitlines() if line.startswith("VmHWM:")), None)
    return int(line.split()[1]) / 1024 if line else None


def load_level(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    """`clients` threads asking `questions` in turn for `seconds`: throughput, latency percentiles, errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(timeout=60) as http:
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = http.post(f"{url}/v1/answer", json={"question": questions[i % len(questions)]})
                with lock:
                    latencies.append(time.perf_counter() - started)
                    errors[0] += response.status_code != 200
                i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / wall, 2),
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)},
        "errors": errors[0],
    }


def metrics_growth(url: str, requests: int = 500) -> dict:
    """Lines and bytes of /metrics before and after `requests` requests to random unknown paths."""
    rng = random.Random(0)
    with httpx.Client(base_url=url, timeout=30) as http:
        http.get("/no/such/path"), http.get("/metrics")  # both series exist from now on
        before = http.get("/metrics").text
        for _ in range(requests):
            http.get(f"/{rng.randrange(10**12)}/{rng.choice(['admin', '.env', 'api', 'x%41'])}")
        after = http.get("/metrics").text
    return {
        "unknown_path_requests": requests,
        "lines_before": len(before.splitlines()),
        "lines_after": len(after.splitlines()),
        "bytes_before": len(before),
        "bytes_after": len(after),
    }


def teacher_rate(run_dir: Path, questions: list[str]) -> float:
    """Answers per second of the run's compiled teacher program on `questions`, one at a time."""
    from programs.api import load_program

    teacher = load_program(run_dir, use="teacher")
    teacher(questions[0])  # load the model outside the timing
    started = time.perf_counter()
    for question in questions:
        teacher(question)
    return len(questions) / (time.perf_counter() - started)


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--seconds", default=20.0, show_default=True, help="Duration of each load level.")
@click.option("--clients", default="1,8,32", show_default=True, help="Comma-separated client counts.")
@click.option("--workers", default=4, show_default=True, help="The service's --workers.")
@click.option("--max-waiting", default=32, show_default=True, help="The service's --max-waiting.")
@click.option("--teacher-questions", default=10, show_default=True, help="Questions the teacher is timed on (0: skip).")
@out_option
@exit_cleanly_on_error
def main(
    run_dir: Path, seconds: float, clients: str, workers: int, max_waiting: int, teacher_questions: int, out: str | None
) -> None:
    """Load-test the QA service of RUN_DIR and compare its throughput with the run's teacher; print JSON."""
    questions = [example.question for example in load_examples("test", limit=200)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service(run_dir, port, workers, max_waiting)
    try:
        levels = [load_level(url, questions, int(n), seconds) for n in clients.split(",") if n.strip()]
        growth = metrics_growth(url)
        peak = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)
    teacher = teacher_rate(run_dir, questions[:teacher_questions]) if teacher_questions else None
    best = max((level["requests_per_s"] for level in levels), default=None)
    result = {
        "run": str(run_dir),
        "service": {"workers": workers, "max_waiting": max_waiting},
        "levels": levels,
        "metrics_growth": growth,
        "service_peak_rss_mb": round(peak, 1) if peak else None,
        "teacher_answers_per_s": round(teacher, 3) if teacher else None,
        "student_over_teacher_throughput": round(best / teacher, 2) if teacher and best else None,
        "errors": sum(level["errors"] for level in levels),
    }
    emit("serve", result, out)


if __name__ == "__main__":
    main()
