"""Overload from polite and impatient clients, against the QA service and the search server of a run.

    python -m benchmarks.overload runs/world [--duration-s 30] [--concurrency 8,32,64] [--services qa,search]

Each service runs in its own process on a free loopback port (`python -m programs.serve RUN`, and
`python -m retrieval.serve` over the run's index with the run's retriever). For each service, first one
polite client asks for `--duration-s`: its answers per second are the reference (goodput 1.0) and its median
latency is "a normal answer". Every request asks the next question of the bundled test split, so that no
answer comes from a cache. Then, for each concurrency and each kind of client, that many threads ask at
once for `--duration-s` while a prober in its own process asks `/health` every 0.1 s:
- *polite* clients wait as long as `Retry-After` says after a 503 (and 1 s after another error);
- *impatient* clients send the next request at once, whatever the answer.
Per case it prints the status counts, goodput (answers per second relative to the one polite client), p99
latency of the answered requests, `/health` p99, the service's CPU seconds per refused request (its CPU time
beyond what its answers took at the reference rate, over the refusals; Linux `/proc`), and the time from the
end of the burst to the first normal answer (`recovery_s`, asked every 50 ms, 503s retried), with that
answer's own latency against the normal one (`recovery_answer_ratio`).

Simplified: client-side wall times; the clients run in this process (threads), the service in another;
requests cycle through the bundled test split's questions; a run's own retriever is served for search.
"""

from __future__ import annotations

import itertools
import multiprocessing
import subprocess
import sys
import threading
import time
from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import click
import httpx
import numpy as np

from benchmarks.results import emit, out_option
from benchmarks.serve import free_port
from core.errors import ServiceError, exit_cleanly_on_error
from data.loaders import load_examples
from programs.rundir import read_run_manifest, run_index_dir

KINDS = ("polite", "impatient")
HEALTH_EVERY_S = 0.1


class Target:
    """One service under test: how to start it and how to ask it one question."""

    def __init__(self, name: str, command: list[str], path: str, questions: list[str]):
        self.name, self.command, self.path, self.questions = name, command, path, questions
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.turns = itertools.count()  # every request asks the next question, so no answer comes from a cache

    def request(self, http: httpx.Client) -> httpx.Response:
        question = self.questions[next(self.turns) % len(self.questions)]
        if self.name == "search":
            return http.get(self.url + self.path, params={"query": question, "k": 5})
        return http.post(self.url + self.path, json={"question": question})

    def start(self, timeout_s: float = 300) -> None:
        """Start the service and wait until /health answers (its model is loaded and warmed up)."""
        command = [*self.command, "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise ServiceError(f"the {self.name} service did not start: {self.process.stderr.read().strip()[-500:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the service process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks of 1/100 s


def targets(run_dir: Path, services: list[str], questions: list[str]) -> list[Target]:
    manifest = read_run_manifest(run_dir)
    index_dir = run_index_dir(run_dir, manifest)
    commands = {
        "qa": ([sys.executable, "-m", "programs.serve", str(run_dir)], "/v1/answer"),
        "search": ([sys.executable, "-m", "retrieval.serve", "--index", str(index_dir),
                    "--retriever", manifest["retriever"]["name"]], "/api/search"),
    }  # fmt: skip
    return [Target(name, *commands[name], questions) for name in services]


def probe_health(url: str, ready: Event, stop: Event, out: Queue) -> None:
    """Ask `url`/health every `HEALTH_EVERY_S` until `stop`, then put the answers' latencies on `out`.

    It runs in its own process, as a load balancer's health check would: a thread among the benchmark's
    client threads would wait for their interpreter lock and measure that instead of the service.
    """
    seconds: list[float] = []
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            http.get(f"{url}/health")
            seconds.append(time.perf_counter() - started)
            ready.set()
            stop.wait(HEALTH_EVERY_S)
    out.put(seconds)


def client(target: Target, kind: str, until: float, log: list[tuple[int, float]]) -> None:
    """One client asking until `until`, appending (status, latency) per request; polite ones honour Retry-After."""
    with httpx.Client(timeout=120) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                response = target.request(http)
                status = response.status_code
            except httpx.HTTPError:
                status, response = 0, None
            log.append((status, time.perf_counter() - started))
            if kind == "polite" and status != 200:
                wait = float(response.headers.get("Retry-After", 1)) if response is not None else 1.0
                time.sleep(max(0.0, min(wait, until - time.monotonic())))


def burst(target: Target, kind: str, clients: int, duration_s: float) -> dict:
    """`clients` clients of `kind` for `duration_s`: statuses, answers per second, p99s, CPU per refusal."""
    log: list[tuple[int, float]] = []
    spawn = multiprocessing.get_context("spawn")
    ready, stop, out = spawn.Event(), spawn.Event(), spawn.Queue()
    prober = spawn.Process(target=probe_health, args=(target.url, ready, stop, out), daemon=True)
    prober.start()
    if not ready.wait(60):
        raise ServiceError(f"the /health prober of the {target.name} service got no answer within 60 s")
    cpu_before = target.cpu_s()
    started = time.monotonic()
    until = started + duration_s
    threads = [threading.Thread(target=client, args=(target, kind, until, log)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.monotonic()
    stop.set()
    health = out.get(timeout=60)
    prober.join()
    statuses = Counter(status for status, _ in log)
    answered = [seconds for status, seconds in log if status == 200]
    return {
        "kind": kind,
        "clients": clients,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "answers_per_s": len(answered) / (ended - started),
        "median_answer_s": float(np.median(answered)) if answered else None,
        "p99_answer_s": float(np.percentile(answered, 99)) if answered else None,
        "health_p99_ms": float(np.percentile(health, 99)) * 1000 if health else None,
        "cpu_s": target.cpu_s() - cpu_before,
        "ended": ended,
    }


def recovery(target: Target, ended: float) -> tuple[float, float]:
    """Seconds from `ended` to the first answer (asked every 50 ms, any refusal retried), and its own latency."""
    with httpx.Client(timeout=120) as http:
        while True:
            started = time.perf_counter()
            response = target.request(http)
            if response.status_code == 200:
                return time.monotonic() - ended, time.perf_counter() - started
            time.sleep(0.05)


def measure(target: Target, concurrency: list[int], duration_s: float) -> dict:
    """The reference polite client, then every (concurrency, kind) case, against a started `target`."""
    reference = burst(target, "polite", 1, duration_s)
    normal_s = reference["median_answer_s"]  # a normal answer's time
    cpu_per_answer = reference["cpu_s"] / max(1, sum(reference["statuses"].values()))
    cases = []
    for clients in concurrency:
        for kind in KINDS:
            case = burst(target, kind, clients, duration_s)
            recovery_s, answer_s = recovery(target, case.pop("ended"))
            answered, refused = case["statuses"].get("200", 0), case["statuses"].get("503", 0)
            spare_cpu = case["cpu_s"] - answered * cpu_per_answer
            case |= {
                "goodput": case["answers_per_s"] / reference["answers_per_s"] if reference["answers_per_s"] else None,
                "cpu_ms_per_refusal": 1000 * spare_cpu / refused if refused else None,
                "recovery_s": recovery_s,
                "recovery_answer_ratio": answer_s / normal_s,
            }
            cases.append(case)
            print(f"{target.name} {kind} x{clients}: {case['statuses']} goodput {case['goodput']}", file=sys.stderr)
    reference.pop("ended")
    return {"reference": reference, "normal_answer_s": normal_s, "cases": cases}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default="runs/world")
@click.option("--duration-s", default=30.0, show_default=True, help="Seconds of each case (and of the reference).")
@click.option("--concurrency", default="8,32,64", show_default=True, help="Comma-separated client counts.")
@click.option("--services", default="qa,search", show_default=True, help="Which services: qa, search or both.")
@out_option
@exit_cleanly_on_error
def main(run_dir: Path, duration_s: float, concurrency: str, services: str, out: str | None) -> None:
    """Polite and impatient clients against RUN_DIR's QA service and search server (default runs/world)."""
    counts = [int(count) for count in concurrency.split(",")]
    questions = [example.question for example in load_examples("test")]
    figures: dict = {"duration_s": duration_s, "services": {}}
    for target in targets(run_dir, services.split(","), questions):
        target.start()
        try:
            figures["services"][target.name] = measure(target, counts, duration_s)
        finally:
            target.stop()
    emit("overload", figures, out)


if __name__ == "__main__":
    main()
