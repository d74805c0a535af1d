"""The distilled program as an HTTP QA service (`python -m programs.serve runs/<name>`, see `__main__.py`).

Endpoints (FastAPI; the schema is served at `/openapi.json`):
- `POST /v1/answer` `{"question": str, "k": int = 5}` -> `{"answer", "passages": [{"pid", "title", "text",
  "score"}], "model", "latency_ms"}`;
- `POST /v1/answer:batch` `{"questions": [str, ...], "k": int = 5}` -> `{"answers": [...]}`;
- `GET /health` (loaded model, index, versions, run) and `GET /metrics` (Prometheus text format).

Questions run through the compiled program in a bounded thread pool (`--workers`); the student's
generation is shared by a `engine.batching.MicroBatcher`, so questions arriving together (one batch
request, or concurrent requests) are generated in one `generate` call of up to `--max-batch` prompts.
A question that takes longer than `--timeout` seconds is answered 504 while the others go on. Bad input
is answered 4xx with `{"error": message}`; the process never exits because of a request. uvicorn stops
on SIGTERM after in-flight requests finish; the service writes nothing to disk.

Simplified: one process (the model is loaded once; `--workers` sizes the thread pool, not processes);
k is capped at 100 and chosen per request by copying the program (copies share retriever and model).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from core.errors import RagdistillError
from programs.api import CompiledQA, load_program
from programs.rundir import read_run_manifest
from retrieval.server import MAX_K, MAX_QUERY_CHARS

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ServeConfig:
    """How the service runs; every field is also a `python -m programs.serve` option."""

    port: int = 8894
    """TCP port (0: any free port)."""
    host: str = "127.0.0.1"
    """Interface to listen on."""
    retriever: str | None = None
    """The run's own retriever by default; or colbert, bm25, hybrid, bm25+rerank, or a ColBERTv2 URL."""
    workers: int = 4
    """Questions answered at once (threads); more wait in line."""
    max_batch: int = 16
    """Most questions in one batch request, and most prompts in one student `generate` call."""
    timeout_s: float = 30.0
    """Seconds a question may take before it is answered 504."""
    wait_s: float = 0.01
    """How long the batcher waits for more prompts after the first."""

    def __post_init__(self) -> None:
        for name, low, high in (("port", 0, 65535), ("workers", 1, 64), ("max_batch", 1, 256)):
            if not low <= getattr(self, name) <= high:
                raise RagdistillError(f"--{name.replace('_', '-')} must be between {low} and {high}")
        if self.timeout_s < 0.1 or self.wait_s < 0:
            raise RagdistillError("--timeout-s must be at least 0.1 and --wait-s not negative")


class AnswerRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The question to answer.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="Passages to retrieve.")


class BatchRequest(BaseModel):
    questions: list[str] = Field(min_length=1, description="Questions to answer together.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="Passages to retrieve for each question.")


class Passage(BaseModel):
    pid: str
    title: str
    text: str
    score: float


class Answer(BaseModel):
    answer: str
    passages: list[Passage]
    model: str
    latency_ms: float


class BatchAnswer(BaseModel):
    answers: list[Answer]


class Metrics:
    """Request and error counters and a latency histogram, rendered in Prometheus text format."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.latency_sum = 0.0

    def observe(self, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[path] = self.requests.get(path, 0) + 1
            if status >= 400:
                self.errors[path] = self.errors.get(path, 0) + 1
            self.buckets[next((i for i, b in enumerate(LATENCY_BUCKETS_S) if seconds <= b), -1)] += 1
            self.latency_sum += seconds

    def render(self) -> str:
        with self.lock:
            lines = ["# TYPE ragdistill_requests_total counter"]
            lines += [f'ragdistill_requests_total{{path="{p}"}} {n}' for p, n in sorted(self.requests.items())]
            lines += ["# TYPE ragdistill_errors_total counter"]
            lines += [f'ragdistill_errors_total{{path="{p}"}} {n}' for p, n in sorted(self.errors.items())]
            lines += ["# TYPE ragdistill_request_seconds histogram"]
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, "+Inf"), self.buckets, strict=True):
                cumulative += count
                lines.append(f'ragdistill_request_seconds_bucket{{le="{bound}"}} {cumulative}')
            lines += [
                f"ragdistill_request_seconds_sum {self.latency_sum}",
                f"ragdistill_request_seconds_count {cumulative}",
            ]
        return "\n".join(lines) + "\n"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(qa: CompiledQA, *, config: ServeConfig | None = None, info: dict | None = None) -> FastAPI:
    """A FastAPI app answering with `qa`; `info` (run, model, index) is shown by /health."""
    config = config or ServeConfig()
    app = FastAPI(title="ragdistill QA", description="A distilled DSPy retrieve-then-answer program.")
    pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="qa")
    metrics = Metrics()
    programs: dict[int, CompiledQA] = {}
    programs_lock = threading.Lock()
    model_id = getattr(qa.lm, "model", type(qa.lm).__name__)

    def with_k(k: int) -> CompiledQA:
        """`qa` retrieving k passages (program copies share the retriever and the model)."""
        with programs_lock:
            if k not in programs:
                program = qa.program.deepcopy()
                if hasattr(program, "k"):
                    program.k = k
                programs[k] = CompiledQA(program, qa.lm, qa.adapter)
            return programs[k]

    def answer_one(question: str, k: int) -> Answer:
        started = time.perf_counter()
        prediction = with_k(k)(question)
        passages = [Passage(pid=h.pid, title=h.title, text=h.text, score=h.score) for h in prediction.passages]
        latency_ms = (time.perf_counter() - started) * 1000
        return Answer(answer=str(prediction.answer or ""), passages=passages, model=model_id, latency_ms=latency_ms)

    def answer_many(questions: list[str], k: int) -> list[Answer]:
        futures = [pool.submit(answer_one, question, k) for question in questions]
        deadline = time.monotonic() + config.timeout_s
        return [future.result(timeout=max(0.0, deadline - time.monotonic())) for future in futures]

    @app.middleware("http")
    async def count(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        metrics.observe(request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return error(422 if first.get("type") != "json_invalid" else 400, f"{where or 'body'}: {first.get('msg')}")

    def run(questions: list[str], k: int):
        for question in questions:
            if not question.strip():
                return error(422, "question must not be blank")
            if len(question) > MAX_QUERY_CHARS:
                return error(422, f"question is longer than {MAX_QUERY_CHARS} characters")
        try:
            return answer_many(questions, k)
        except FutureTimeout:
            return error(504, f"answering took longer than {config.timeout_s} s")

    @app.post("/v1/answer", response_model=Answer, responses={422: {"description": "Invalid request"}})
    def answer(request: AnswerRequest):
        """Answer one question from retrieved passages."""
        result = run([request.question], request.k)
        return result[0] if isinstance(result, list) else result

    @app.post("/v1/answer:batch", response_model=BatchAnswer, responses={422: {"description": "Invalid request"}})
    def answer_batch(request: BatchRequest):
        """Answer several questions together (their generation is batched)."""
        if len(request.questions) > config.max_batch:
            return error(422, f"a batch holds at most {config.max_batch} questions, got {len(request.questions)}")
        result = run(request.questions, request.k)
        return BatchAnswer(answers=result) if isinstance(result, list) else result

    @app.get("/health")
    def health() -> dict:
        """Liveness, the model and index being served, versions."""
        versions = {name: version(name) for name in ("dspy", "torch", "transformers", "peft")}
        return {"status": "ok", "model": model_id, **(info or {}), "versions": versions}

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> str:
        """Requests, errors and a latency histogram in Prometheus text format."""
        return metrics.render()

    return app


def load_service_program(run_dir: Path, config: ServeConfig) -> CompiledQA:
    """The run's distilled program (optionally behind another retriever), with batched student generation."""
    from retrieval.factory import RETRIEVER_NAMES, load_retriever

    retriever, override = config.retriever, None
    if retriever in RETRIEVER_NAMES:
        manifest = read_run_manifest(run_dir)
        override = load_retriever(retriever, manifest["retriever"]["index_dir"])
    elif retriever:
        override = retriever  # a dspy.ColBERTv2-compatible URL, e.g. python -m retrieval.serve
    qa = load_program(run_dir, retriever=override)
    engine = getattr(qa.lm, "student_engine", None)
    if engine is not None:
        engine.use_batching(config.max_batch, config.wait_s)
        engine.load()  # load the weights now, not on the first request
    return qa
