"""Retrieval benchmark: index cost, quality and speed of every retriever, and a load test of the server.

    python -m benchmarks.retrieval [--quick] [--datasets world,hotpotqa] [--retrievers bm25] [--out file.json]

Datasets (each a corpus plus questions with gold pids):
- `world`: the bundled fictional world (data/world/corpus.jsonl, test.jsonl);
- `world10k`: the same corpus padded to 10,000 passages with generated filler passages (words drawn from
  the corpus, so term statistics stay realistic; no filler can be a gold passage), same questions;
- `hotpotqa`, `squad`: the real samples in data/samples/ (third-party questions); `hotpotqa10k` pads
  the HotpotQA corpus the same way (not run by default: ColBERT indexes 10k passages in ~15 min on 2 cores).
A dataset whose files are absent is reported as skipped. Indexes are cached under --cache-dir, keyed by the
corpus hash, so a second run only measures search. Build time, passages/s and index bytes come from the
run that built the index. The load test starts `python -m retrieval.serve` in a child process on a free
loopback port and drives it with --clients threads for --load-seconds.

Simplified: quality is measured with one `search` call per question (k=10); latency includes nothing but
that call; the load test repeats the questions of one dataset in order.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from benchmarks.datasets import DATASETS as QA_DATASETS
from benchmarks.results import emit, out_option
from core.atomic import write_json_atomic
from core.errors import ConfigError, ServiceError, exit_cleanly_on_error
from data.loaders import Passage, load_corpus, load_examples
from retrieval.bm25 import build_bm25
from retrieval.build import build_index
from retrieval.factory import RETRIEVER_NAMES, load_retriever
from retrieval.indexdir import BM25_DIR, COLBERT_DIR, corpus_sha256, parts_for
from retrieval.metrics import evaluate_retriever, latency_summary

REPO = Path(__file__).resolve().parent.parent
PADDED_SIZE = 10_000
QUICK_QUESTIONS = 50
QUICK_PADDED_SIZE = 2_000


@dataclass
class Dataset:
    """A corpus with questions whose gold pids point into it."""

    name: str
    """Short name used on the command line and in the JSON."""
    corpus_path: Path
    """JSONL corpus (pid, title, text)."""
    questions_path: Path
    """JSONL questions with gold_pids."""
    pad_to: int = 0
    """If set, add generated filler passages until the corpus has this many."""


DATASETS = {
    "world": Dataset("world", REPO / "data/world/corpus.jsonl", REPO / "data/world/test.jsonl"),
    "world10k": Dataset("world10k", REPO / "data/world/corpus.jsonl", REPO / "data/world/test.jsonl", PADDED_SIZE),
    "hotpotqa": Dataset("hotpotqa", QA_DATASETS["hotpotqa"][1], QA_DATASETS["hotpotqa"][0]),
    "hotpotqa10k": Dataset("hotpotqa10k", QA_DATASETS["hotpotqa"][1], QA_DATASETS["hotpotqa"][0], PADDED_SIZE),
    "squad": Dataset("squad", QA_DATASETS["squad"][1], QA_DATASETS["squad"][0]),
}


def pad_corpus(passages: list[Passage], size: int, seed: int = 0) -> list[Passage]:
    """`passages` plus generated filler passages ("filler-<i>") of corpus words, up to `size` passages."""
    rng = random.Random(seed)
    words = [word for passage in passages for word in passage.text.split()]
    fillers = [
        Passage(f"filler-{i}", f"Filler {i}", " ".join(rng.choices(words, k=rng.randint(30, 90))))
        for i in range(size - len(passages))
    ]
    return passages + fillers


def directory_bytes(path: Path) -> int:
    """Total size of the files under `path`."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def build_cached_index(passages: list[Passage], index_dir: Path, retrievers: list[str]) -> dict:
    """Build (or reuse) the index dir for `passages`; returns build figures recorded when it was built."""
    record_path = index_dir.parent / f"{index_dir.name}.bench.json"
    parts = parts_for(retrievers)
    key = {"corpus_sha256": corpus_sha256(passages), "colbert": "colbert" in parts}
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record["corpus_sha256"] == key["corpus_sha256"] and (record["colbert"] or not key["colbert"]):
            return record | {"cached": True}
    with tempfile.TemporaryDirectory() as scratch:  # BM25 alone, timed apart from the full build
        start = time.perf_counter()
        build_bm25(passages, Path(scratch) / "bm25")
        bm25_s = time.perf_counter() - start
    record = {**key, "bm25": {"build_s": bm25_s, "passages_per_s": len(passages) / bm25_s}}
    start = time.perf_counter()
    build_index(passages, index_dir, parts=parts)
    total_s = time.perf_counter() - start
    record["bm25"]["bytes"] = directory_bytes(index_dir / BM25_DIR)
    if key["colbert"]:
        colbert_bytes = directory_bytes(index_dir / COLBERT_DIR)
        record["colbert"] = {"build_s": total_s, "passages_per_s": len(passages) / total_s, "bytes": colbert_bytes}
    write_json_atomic(record_path, record)
    return record | {"cached": False}


def benchmark_dataset(dataset: Dataset, retrievers: list[str], cache_dir: Path, quick: bool) -> dict:
    """Index figures and per-retriever quality/latency for one dataset."""
    if not dataset.corpus_path.is_file() or not dataset.questions_path.is_file():
        return {"skipped": f"{dataset.corpus_path} or {dataset.questions_path} not found"}
    passages = load_corpus(dataset.corpus_path)
    if dataset.pad_to:
        passages = pad_corpus(passages, QUICK_PADDED_SIZE if quick else dataset.pad_to)
    examples = load_examples(dataset.questions_path)
    if quick:
        examples = examples[:QUICK_QUESTIONS]
    index_dir = cache_dir / f"{dataset.name}-{len(passages)}"
    result = {"passages": len(passages), "questions": len(examples), "index_dir": str(index_dir)}
    result["index"] = build_cached_index(passages, index_dir, retrievers)
    result["retrievers"] = {}
    for name in retrievers:
        start = time.perf_counter()
        retriever = load_retriever(name, index_dir)
        load_s = time.perf_counter() - start
        result["retrievers"][name] = {"load_s": load_s, **evaluate_retriever(retriever, examples)}
        del retriever
    return result


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` every 0.2 s until it holds, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise ServiceError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def load_test(index_dir: Path, retriever: str, queries: list[str], seconds: float, clients: int) -> dict:
    """Drive `python -m retrieval.serve` with `clients` threads for `seconds`; throughput, latency, errors."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "retrieval.serve", "--index", str(index_dir), "--port", str(port)]
    server = subprocess.Popen([*command, "--retriever", retriever], cwd=REPO, stderr=subprocess.DEVNULL)

    def healthy() -> bool:
        if server.poll() is not None:
            raise ServiceError(f"the server exited with status {server.returncode}: run {' '.join(command)}")
        try:
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    durations: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(offset: int, stop_at: float) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            i = offset
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                try:
                    ok = http.get("/api/search", params={"query": queries[i % len(queries)], "k": 10}).is_success
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        durations.append(time.perf_counter() - start)
                    else:
                        errors[0] += 1
                i += clients

    try:
        wait_until(healthy, 300, "the search server to start")
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(i, stop_at)) for i in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 60)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "retriever": retriever,
        "clients": clients,
        "seconds": elapsed,
        "requests": len(durations) + errors[0],
        "requests_per_s": len(durations) / elapsed,
        "errors": errors[0],
        "latency_ms": latency_summary(durations) if durations else None,
    }


def split_names(value: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    """A comma-separated option as a list, each name checked against `allowed`."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ConfigError(f"unknown {what} {', '.join(unknown) or '(none)'}: choose from {', '.join(allowed)}")
    return names


@click.command()
@click.option("--datasets", default="world,world10k,hotpotqa,squad", show_default=True, help="Comma-separated.")
@click.option("--retrievers", default=",".join(RETRIEVER_NAMES), show_default=True, help="Comma-separated.")
@click.option("--quick", is_flag=True, help=f"{QUICK_QUESTIONS} questions per dataset, {QUICK_PADDED_SIZE} padded.")
@click.option("--cache-dir", default=".cache/bench/retrieval", show_default=True, type=click.Path(), help="Indexes.")
@click.option("--load-seconds", default=20.0, show_default=True, help="Load-test duration; 0 skips it.")
@click.option("--clients", default=8, show_default=True, type=click.IntRange(1, 64), help="Load-test threads.")
@click.option("--load-retriever", default="bm25", show_default=True, type=click.Choice(RETRIEVER_NAMES))
@out_option
@exit_cleanly_on_error
def main(
    datasets: str,
    retrievers: str,
    quick: bool,
    cache_dir: str,
    load_seconds: float,
    clients: int,
    load_retriever: str,
    out: str | None,
) -> None:
    """Print retrieval benchmark figures as JSON."""
    dataset_names = split_names(datasets, list(DATASETS), "dataset")
    retriever_names = split_names(retrievers, RETRIEVER_NAMES, "retriever")
    report = {
        "settings": {"datasets": dataset_names, "retrievers": retriever_names, "quick": quick, "clients": clients},
        "datasets": {},
    }
    for name in dataset_names:
        click.echo(f"benchmarking {name} ...", err=True)
        report["datasets"][name] = benchmark_dataset(DATASETS[name], retriever_names, Path(cache_dir), quick)
    benchmarked = [name for name, result in report["datasets"].items() if "index_dir" in result]
    if load_seconds > 0 and benchmarked:  # the first dataset that was benchmarked is served
        click.echo(f"load test on {benchmarked[0]}: {clients} clients for {load_seconds:.0f} s ...", err=True)
        questions = [example.question for example in load_examples(DATASETS[benchmarked[0]].questions_path)]
        index_dir = Path(report["datasets"][benchmarked[0]]["index_dir"])
        report["load_test"] = {"dataset": benchmarked[0]}
        report["load_test"] |= load_test(index_dir, load_retriever, questions, load_seconds, clients)
    emit("retrieval", report, out)


if __name__ == "__main__":
    main()
