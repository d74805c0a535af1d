"""The distilled program as an HTTP QA service (`python -m programs.serve runs/<name>`, see `__main__.py`).

Endpoints (FastAPI; the schema, with every constraint and error status, is served at `/openapi.json`):
- `POST /v1/answer` `{"question": str, "k": int = 5}` -> `{"answer", "passages": [{"pid", "title", "text",
  "score"}], "model", "latency_ms"}`;
- `POST /v1/answer:batch` `{"questions": [str, ...], "k": int = 5}` -> `{"answers": [...]}`;
- `GET /health` (loaded model, index, versions, run) and `GET /metrics` (Prometheus, see `core.serving.metrics`).

Admission (`core.serving.admission`): `--workers` requests are answered at once and `--max-waiting` more may wait;
beyond that, or when a new request would probably not be answered within `--timeout-s` (judged by the work
of an answer with the cores shared and by measured answer times, seeded at startup by one warm-up question,
`core.serving.runtime.warm_up`), a request is answered 503 with a jittered `Retry-After` at once. A request
not started within `--timeout-s` of its admission, or whose client left, is never computed (504 / dropped);
one that runs past it is answered 504.
The questions of a request run in a thread pool and the student's generation is shared by a
`engine.batching.MicroBatcher`, so questions arriving together (one batch request, or concurrent
requests) are generated in one `generate` call of up to `--max-batch` prompts; each generate call is
reported to the metrics (batch size, tokens). Bad input is answered 400 (not JSON) or 422 (does not fit
the schema); every error is the serving kit's envelope `{"error": true, "message": ...}`; off loopback an
API key is required (`core.serving.guard`). uvicorn stops on SIGTERM after in-flight requests finish; the
service writes nothing to disk. Everything but the QA protocol (admission, the door that refuses before a
body is read, metrics, guard, warm-up, runners) is the serving kit's (`core.serving`).

`--processes N` runs N worker processes under uvicorn's supervisor (`core.serving.runtime.serve_forever`), each
loading the run read-only with its own model, batcher and thread pool, and torch threads for its share of the
cores; the kernel hands each connection to one of them. Each worker keeps its own admission, so `--workers`,
`--max-waiting` and `--max-batch` are per process; their metrics are shared (prometheus_client's multiprocess
mode, `core.serving.metrics.shared_metrics`), so `GET /metrics`, whichever worker answers it, counts the
requests of all of them (`GET /health` names the answering worker's `pid`).

Simplified: `--workers` sizes a process's thread pool; the model is loaded once per process;
k is capped at 100 and chosen per request by copying the program (copies share retriever and model);
generated tokens are counted by the service with the student's tokenizer, until the engine reports them.
No `from __future__ import annotations` here: the batch request model is built per app (its size limit
is a setting), and FastAPI must see the endpoints' annotations as objects.
"""

import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from core.errors import ConfigError
from core.serving.admission import AdmissionConfig, DeadlineExceeded
from core.serving.app import ServiceConfig, service_app
from core.serving.envelope import error_responses
from core.serving.fields import MAX_K, WARMUP_QUERY, PassageCount, QueryText
from core.serving.metrics import ServiceMetrics
from core.serving.runtime import Warmup
from programs.api import CompiledQA, load_program
from programs.rundir import read_run_manifest, run_index_dir

ANSWER_PATH = "/v1/answer"
BATCH_PATH = "/v1/answer:batch"


@dataclass
class ServeConfig(ServiceConfig):
    """How the QA service runs; every field is also a `python -m programs.serve` option."""

    port: int = 8894
    """TCP port (0: any free port)."""
    host: str = "127.0.0.1"
    """Interface to listen on (anything but loopback needs --api-key)."""
    retriever: str | None = None
    """The run's own retriever by default; or colbert, bm25, hybrid, bm25+rerank, or a ColBERTv2 URL."""
    workers: int = 4
    """Requests answered at once (threads); more wait in line (--max-waiting)."""
    max_batch: int = 16
    """Most questions in one batch request, and most prompts in one student `generate` call."""
    wait_s: float = 0.01
    """How long the batcher waits for more prompts after the first."""
    processes: int = 1
    """Worker processes, each loading the run read-only and answering with its own --workers threads."""
    lm: str | None = None
    """Base URL of an OpenAI-compatible server (vLLM, SGLang, TGI) serving the run's student exported by
    `python -m finetune.export`, to answer through instead of loading the student here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, low, high in (("port", 0, 65535), ("workers", 1, 64), ("max_batch", 1, 256), ("processes", 1, 64)):
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"--{name.replace('_', '-')} must be between {low} and {high}")
        if self.wait_s < 0:
            raise ConfigError("--wait-s must not be negative")


class Passage(BaseModel):
    """One retrieved passage the answer was read from."""

    pid: str
    title: str
    text: str
    score: float


class Answer(BaseModel):
    """The student's answer, the passages it read, the model that wrote it and how long it took."""

    answer: str
    passages: list[Passage]
    model: str
    latency_ms: float


class BatchAnswer(BaseModel):
    answers: list[Answer]


class AnswerRequest(BaseModel):
    """One question."""

    question: QueryText = Field(description="The question to answer.")
    k: PassageCount = Field(default=5, ge=1, le=MAX_K, description="Passages to retrieve.")


def batch_request_model(max_batch: int) -> type[BaseModel]:
    """The batch request, its size limit declared in the schema."""

    class BatchRequest(BaseModel):
        """Several questions answered together."""

        questions: list[QueryText] = Field(min_length=1, max_length=max_batch, description="Questions to answer.")
        k: PassageCount = Field(default=5, ge=1, le=MAX_K, description="Passages to retrieve for each question.")

    return BatchRequest


def count_generation(qa: CompiledQA, metrics: ServiceMetrics) -> None:
    """Report every generate call of the student's engine to `metrics` (batch size, generated tokens)."""
    engine = getattr(qa.lm, "student_engine", None)
    if engine is not None:
        engine.on_generation = metrics.observe_generation


class Answerer:
    """Answers questions with `qa`, one program copy per `k`, a batch's questions in parallel threads."""

    def __init__(self, qa: CompiledQA, threads: int, clock: Callable[[], float]):
        self.qa = qa
        self.clock = clock
        self.model_id = getattr(qa.lm, "model", type(qa.lm).__name__)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="question")
        self.programs: dict[int, CompiledQA] = {}
        self.lock = threading.Lock()

    def with_k(self, k: int) -> CompiledQA:
        """`qa` retrieving k passages (program copies share the retriever and the model)."""
        with self.lock:
            if k not in self.programs:
                program = self.qa.program.deepcopy()
                if hasattr(program, "k"):
                    program.k = k
                self.programs[k] = CompiledQA(program, self.qa.lm, self.qa.adapter)
            return self.programs[k]

    def answer_one(self, question: str, k: int, deadline: float) -> Answer:
        """One question answered, unless it was picked up after its deadline (`DeadlineExceeded`)."""
        if self.clock() >= deadline:  # picked up too late: nobody waits for this answer any more
            raise DeadlineExceeded()
        started = time.perf_counter()
        prediction = self.with_k(k)(question)
        passages = [Passage(pid=h.pid, title=h.title, text=h.text, score=h.score) for h in prediction.passages]
        latency_ms = (time.perf_counter() - started) * 1000
        return Answer(
            answer=str(prediction.answer or ""), passages=passages, model=self.model_id, latency_ms=latency_ms
        )

    def answer_many(self, questions: list[str], k: int, deadline: float) -> list[Answer]:
        """The questions answered in parallel threads, so that their generation is batched."""
        futures = [self.pool.submit(self.answer_one, question, k, deadline) for question in questions]
        return [future.result() for future in futures]


def create_app(qa: CompiledQA, *, config: ServeConfig | None = None, info: dict | None = None) -> FastAPI:
    """A FastAPI app answering with `qa`; `info` (run, model, index) is shown by /health."""
    config = config or ServeConfig()
    admission = AdmissionConfig(workers=config.workers, max_waiting=config.max_waiting, timeout_s=config.timeout_s)
    description = "A distilled DSPy retrieve-then-answer program."
    app = service_app("ragdistill QA", description, config, admission, [ANSWER_PATH, BATCH_PATH])
    count_generation(qa, app.state.metrics)
    answerer = Answerer(qa, config.workers * config.max_batch, app.state.admission.clock)
    versions = {name: version(name) for name in ("dspy", "torch", "transformers", "peft")}
    errors = error_responses(400, 413, 422, 499, 500, 503, 504, api_key=config.key() is not None)
    BatchRequest = batch_request_model(config.max_batch)

    app.state.warmup = Warmup(
        f"question {WARMUP_QUERY!r}", lambda: answerer.answer_one(WARMUP_QUERY, 5, math.inf), config.warmup_timeout_s
    )

    @app.post(ANSWER_PATH, response_model=Answer, responses=errors)
    async def answer(request: Request, body: AnswerRequest) -> Answer:
        """Answer one question from retrieved passages."""
        answers = await app.state.admission.run(
            request, lambda deadline: answerer.answer_many([body.question], body.k, deadline)
        )
        return answers[0]

    @app.post(BATCH_PATH, response_model=BatchAnswer, responses=errors)
    async def answer_batch(request: Request, body: BatchRequest) -> BatchAnswer:  # type: ignore[valid-type]
        """Answer several questions together (their generation is batched)."""
        answers = await app.state.admission.run(
            request, lambda deadline: answerer.answer_many(body.questions, body.k, deadline)
        )
        return BatchAnswer(answers=answers)

    @app.get("/health", responses=error_responses(500))
    async def health() -> dict:
        """Liveness, the model and index being served, the worker's process id, versions (never waits)."""
        return {"status": "ok", "model": answerer.model_id, **(info or {}), "pid": os.getpid(), "versions": versions}

    return app


def load_service_program(run_dir: Path, config: ServeConfig) -> CompiledQA:
    """The run's distilled program (optionally behind another retriever), with batched student generation."""
    from retrieval.factory import RETRIEVER_NAMES, load_retriever

    retriever, override = config.retriever, None
    if retriever in RETRIEVER_NAMES:
        override = load_retriever(retriever, run_index_dir(run_dir, read_run_manifest(run_dir)))
    elif retriever:
        override = retriever  # a dspy.ColBERTv2-compatible URL, e.g. python -m retrieval.serve
    qa = load_program(run_dir, retriever=override, lm=config.lm)
    engine = getattr(qa.lm, "student_engine", None)
    if engine is not None:
        engine.use_batching(config.max_batch, config.wait_s)
        engine.loaded()  # load the weights now, not on the first request
    return qa


def build_service_app(run_dir: Path, config: ServeConfig, info: dict) -> FastAPI:
    """Load the run and build its app: what each worker process calls (picklable with `functools.partial`).

    With several processes each one computes on its share of the cores (as `accelerate launch` does for
    training), rather than every process running a torch thread per core and all of them contending.
    """
    if config.processes > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.processes))
    return create_app(load_service_program(run_dir, config), config=config, info=info)
