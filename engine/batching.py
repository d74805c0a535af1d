"""Dynamic batching: concurrent callers' items grouped into one call of a batch function.

A model generates a batch of prompts in little more time than one, so callers that ask at the same time
(a server's requests, DSPy's worker threads) should be handed to `generate` together. `MicroBatcher(fn,
max_batch, wait_s)` does that: `submit(item)` blocks its caller while a worker thread collects the items
queued (up to `max_batch`), calls `fn(items)` once and hands each caller its own result (or the exception
`fn` raised). It waits up to `wait_s` for more items only while a caller seen in the last `recent_s` (one
that just got a result and is likely preparing its next call, say retrieving passages) is not in the
batch yet: callers that fell out of step meet again, and a lone caller never waits.

Simplified: one worker thread, first come first served; no priorities and no cancellation of submitted items.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Group concurrent `submit` calls into batches for `fn` (see the module docstring)."""

    def __init__(
        self, fn: Callable[[list[T]], list[R]], *, max_batch: int = 16, wait_s: float = 0.01, recent_s: float = 1.0
    ):
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.recent_s = recent_s
        self.batches = 0
        """How many times `fn` was called (for metrics and tests)."""
        self._seen: dict[int, float] = {}  # caller thread -> when it last submitted or got a result
        self._queue: queue.Queue[tuple[T, Future, int] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._worker.start()

    def submit(self, item: T, timeout: float | None = None) -> R:
        """`fn([item, ...])`'s result for `item`, computed together with concurrent submissions."""
        future: Future = Future()
        caller = threading.get_ident()
        self._seen[caller] = time.monotonic()
        self._queue.put((item, future, caller))
        return future.result(timeout=timeout)

    def close(self) -> None:
        """Finish the batch in flight and stop the worker."""
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            try:
                while len(batch) < self.max_batch:
                    nxt = self._queue.get(timeout=self.wait_s) if self._expecting(batch) else self._queue.get_nowait()
                    if nxt is None:
                        self._queue.put(None)
                        break
                    batch.append(nxt)
            except queue.Empty:
                pass
            self._call(batch)

    def _expecting(self, batch: list[tuple[T, Future, int]]) -> bool:
        """Whether a recently seen caller is missing from `batch` (so waiting for it is worth it)."""
        now = time.monotonic()
        recent = {caller for caller, seen in list(self._seen.items()) if now - seen < self.recent_s}
        return not recent <= {caller for _, _, caller in batch}

    def _call(self, batch: list[tuple[T, Future, int]]) -> None:
        self.batches += 1
        try:
            results = self.fn([item for item, _, _ in batch])
        except Exception as err:  # every caller learns why its item failed
            for _, future, _ in batch:
                future.set_exception(err)
            return
        done = time.monotonic()
        for (_, future, caller), result in zip(batch, results, strict=True):
            self._seen[caller] = done
            future.set_result(result)
