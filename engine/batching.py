"""Dynamic batching: concurrent callers' items grouped into one call of a batch function.

A student generates a batch of prompts in little more time than one, so a server that answers many
questions at once should hand them to `generate` together. `MicroBatcher(fn, max_batch, wait_s)` does
that: `submit(item)` blocks its caller while a worker thread collects the items that arrive within
`wait_s` of the first (up to `max_batch`), calls `fn(items)` once and hands each caller its own result
(or the exception `fn` raised).

Simplified: one worker thread, first come first served; no priorities and no cancellation of submitted items.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Group concurrent `submit` calls into batches for `fn` (see the module docstring)."""

    def __init__(self, fn: Callable[[list[T]], list[R]], *, max_batch: int = 16, wait_s: float = 0.01):
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.batches = 0
        """How many times `fn` was called (for metrics and tests)."""
        self._queue: queue.Queue[tuple[T, Future] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._worker.start()

    def submit(self, item: T, timeout: float | None = None) -> R:
        """`fn([item, ...])`'s result for `item`, computed together with concurrent submissions."""
        future: Future = Future()
        self._queue.put((item, future))
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
                    nxt = self._queue.get(timeout=self.wait_s)
                    if nxt is None:
                        self._queue.put(None)
                        break
                    batch.append(nxt)
            except queue.Empty:
                pass
            self._call(batch)

    def _call(self, batch: list[tuple[T, Future]]) -> None:
        self.batches += 1
        try:
            results = self.fn([item for item, _ in batch])
        except Exception as err:  # every caller learns why its item failed
            for _, future in batch:
                future.set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
