"""The local LM engine: one DSPy engine for every in-process model, teacher and student alike.

`LocalEngine` implements DSPy's engine protocol (`complete(Request) -> Response`, `stream`, `close`,
`dump_state`/`load_state`) for a model that runs in this process. What it does for every subclass:

- loads the model on first use, through the backend of `engine.backends` the run chose (`backend`,
  `compute_type`; see `engine.ct2.resolve_backend`), and can drop it again (`unload`);
- groups concurrent calls — DSPy's `num_threads` workers, the QA service's requests — into one batch with
  an `engine.batching.MicroBatcher`: up to `max_batch` calls run together, a batch waits at most `wait_s`
  for a caller that was active a moment ago (a lone caller never waits), and each call gets the answer
  it would get alone (see `engine.backends`);
- reports token usage, and returns itself from `__deepcopy__` (optimizers copy programs often; copies
  share the loaded weights).

A subclass says how a request becomes a job (`job`), how jobs run on the backend (`run_jobs`) and how the
model loads (`load_backend`): `engine.teacher.LocalChatEngine` writes DSPy's output fields with
field-guided decoding, `finetune.lm.StudentEngine` answers raw student prompts with a trained adapter.

Deliberate simplifications: decoding is deterministic (sampling settings and `n` are ignored); no token
streaming (`stream` yields the whole response); a batch runs to its longest row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events

from engine.backends import Backend
from engine.batching import MicroBatcher
from engine.ct2 import check_backend

DEFAULT_MAX_BATCH = 16
DEFAULT_WAIT_S = 0.05
"""Long enough for DSPy workers that a retrieval step put out of step to meet again; short next to a generation."""


def request_text(request: Request) -> tuple[str | None, list[dict[str, str]]]:
    """(system text, chat messages) of a DSPy request."""
    system = request.system
    if system is not None and not isinstance(system, str):
        system = "".join(part.text for part in system)
    return system, [{"role": m.role, "content": m.text or ""} for m in request.messages]


class LocalEngine:
    """Lazy loading, batching and the DSPy engine protocol for an in-process model (see the module docstring)."""

    def __init__(self, *, backend: str = "transformers", compute_type: str = "auto", max_batch: int = DEFAULT_MAX_BATCH,
                 wait_s: float = DEFAULT_WAIT_S):  # fmt: skip
        check_backend(backend)
        self.backend = backend
        self.compute_type = compute_type
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._backend: Backend | None = None
        self._batcher: MicroBatcher | None = None
        self.on_generation: Callable[[int, int], None] | None = None
        """Called after every generate call with (prompts in the batch, tokens generated): the service's metrics."""

    def __deepcopy__(self, memo: dict) -> LocalEngine:
        return self

    # What subclasses provide.
    def load_backend(self) -> Backend:
        """Load the model onto the chosen backend."""
        raise NotImplementedError

    def job(self, request: Request, backend: Backend) -> Any:
        """The work one request asks for, in the form `run_jobs` takes."""
        raise NotImplementedError

    def run_jobs(self, backend: Backend, jobs: list[Any]) -> list[tuple[str, int, int]]:
        """(text, input tokens, output tokens) for each job, computed together."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The subclass's constructor arguments (what `dump_state` saves besides the backend choice)."""
        raise NotImplementedError

    # The machinery shared by every local model.
    def loaded(self) -> Backend:
        """The loaded backend (loading it on first use)."""
        with self._load_lock:
            if self._backend is None:
                self._backend = self.load_backend()
            return self._backend

    def unload(self) -> None:
        """Drop the weights (they load again on the next call)."""
        with self._load_lock:
            self._backend = None

    @property
    def used(self) -> dict[str, str]:
        """{"backend", "compute_type"} actually used (loads the model)."""
        backend = self.loaded()
        return {"backend": backend.name, "compute_type": backend.compute_type}

    def run(self, jobs: list[Any]) -> list[tuple[str, int, int]]:
        """Run `jobs` now as one group (the batcher calls this; so can benchmarks and the service)."""
        backend = self.loaded()
        with self._run_lock:  # the batcher's worker is the only caller in normal use
            results = self.run_jobs(backend, jobs)
        if self.on_generation is not None:
            self.on_generation(len(jobs), sum(output_tokens for _, _, output_tokens in results))
        return results

    def use_batching(self, max_batch: int, wait_s: float = DEFAULT_WAIT_S) -> MicroBatcher:
        """Group up to `max_batch` concurrent calls, waiting at most `wait_s` for company (the QA service's knobs)."""
        with self._load_lock:
            old, self._batcher = self._batcher, MicroBatcher(self.run, max_batch=max_batch, wait_s=wait_s)
            self.max_batch, self.wait_s = max_batch, wait_s
        if old is not None:
            old.close()
        return self._batcher

    def _submit(self, job: Any) -> tuple[str, int, int]:
        with self._load_lock:
            if self._batcher is None:
                self._batcher = MicroBatcher(self.run, max_batch=self.max_batch, wait_s=self.wait_s)
            batcher = self._batcher
        return batcher.submit(job)

    def complete(self, request: Request) -> Response:
        """Answer one DSPy request, batched with the requests that arrive at the same time."""
        text, input_tokens, output_tokens = self._submit(self.job(request, self.loaded()))
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        )

    def stream(self, request: Request):
        """The whole response as one stream of events (no token streaming)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Nothing to close: the weights stay loaded while the engine lives (see `unload`)."""

    def dump_state(self) -> dict[str, Any]:
        """What `load_state` needs to rebuild this engine (saved in a program's JSON)."""
        return {**self.settings(), "backend": self.backend, "compute_type": self.compute_type}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LocalEngine:
        """Rebuild an engine from `dump_state` output."""
        return cls(**state)


def engine_label(lm: object) -> str:
    """How an LM generates, for reports: "<backend> <compute type>" for local models, else the LM's class."""
    engine = getattr(lm, "engine", None)
    if isinstance(engine, LocalEngine):
        used = engine.used
        return f"{used['backend']} {used['compute_type']}"
    return "LiteLLM" if type(lm).__name__ == "LM" else type(lm).__name__
