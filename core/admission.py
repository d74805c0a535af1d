"""Admission control for ragdistill's HTTP services: a bounded line, deadlines, no work for nobody.

A service computes at most `workers` requests at once and lets at most `max_waiting` more wait for a
worker. A request that finds the line full, or the service so busy that it would probably not be answered
before its deadline, is refused at once (`Overloaded`: 503 with `Retry-After`), which costs nothing: a
client learns at once to come back, instead of a 504 later.

The estimate is capacity-based. Requests computed at once share the machine (threads on the same cores,
rows of one generation batch), so a request's wall time grows with the number computed beside it: four at
once on two cores take about four times as long each. What stays put is the *work* a request needs: its
wall time with the machine divided among those computed beside it. The admission keeps that as a
processor-sharing clock that ticks `1/n` per second while `n` requests compute; a request's work is how far
the clock moved while it computed, and the estimate is a running mean of it. A request joining now is
answered after about `(computing + waiting + 1) * work` seconds, and is admitted only while that fits in
`HEADROOM` of its deadline (a request that finds nothing computing is always admitted). So that this holds
from the very first request, a service times one warm-up computation before it accepts traffic and
`seed`s the mean with it (`core.service.warm_up`); the first real computation then replaces that time (a
warm-up may include one-off costs), and later ones update the running mean.
Every admitted request gets a deadline, `timeout_s` after its admission. When a
worker frees up, the request that waited longest takes it, unless its deadline has passed
(`DeadlineExceeded`: 504) or its client has gone away (`ClientGone`): either way it is dropped without
being computed. That is the point: under overload the CPU only computes answers someone still waits for.

The work runs in the admission's own thread pool (`workers` threads), never in the event loop, so the
cheap endpoints (/health, /metrics) that do not pass through admission answer at once during overload.

Simplified: first come, first served, no priorities; a computation that has started cannot be stopped
(Python threads cannot be interrupted): a request that passes its deadline while computing is answered
504, and its worker is freed only when the computation ends, so `workers` is never exceeded.
`Retry-After` is an estimate: the requests ahead (computing and waiting) times the mean work.
All bookkeeping happens on the event loop's thread (one loop per app), and `on_change`, when set, is called
there after every change of `waiting`, `in_flight` or `dropped` (the service's metrics record them).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")

HEADROOM = 0.8
"""Share of a request's deadline the estimated answer time may fill: the estimate is a mean, answers vary."""


@dataclass
class AdmissionConfig:
    """How many requests a service computes at once, how many may wait, and for how long."""

    workers: int = 4
    """Requests computed at once (threads)."""
    max_waiting: int = 32
    """Requests that may wait for a worker; more are refused at once with 503 and Retry-After."""
    timeout_s: float = 30.0
    """Seconds from admission to answer; a request not started by then is dropped (504), never computed."""


class Overloaded(Exception):
    """The line of waiting requests is full: answer 503 with `Retry-After: retry_after_s`."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the service is overloaded; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The request's deadline passed before (or while) it was computed: answer 504."""


class ClientGone(Exception):
    """The client disconnected while its request waited: it is not computed."""


class Admission:
    """Admit, queue and run requests as the module docstring says; one per app."""

    def __init__(self, config: AdmissionConfig, name: str = "work"):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix=name)
        self.in_flight = 0
        """Requests being computed now."""
        self.dropped = {"overloaded": 0, "deadline": 0, "client_gone": 0}
        """Requests refused or dropped without being computed, by reason."""
        self.on_change: Callable[[], None] | None = None
        """Called after `waiting`, `in_flight` or `dropped` changed (on the event loop's thread)."""
        self._free = config.workers
        self._waiters: deque[asyncio.Future] = deque()
        self._lock = threading.Lock()
        self._mean_s = 0.0  # running mean of one request's work, in seconds (0: none measured yet)
        self._seeded = False  # the mean is a warm-up's time, to be replaced by the first real one
        self._clock = 0.0  # the processor-sharing clock: advances 1/in_flight per second while anything computes
        self._clock_at = time.monotonic()

    @property
    def waiting(self) -> int:
        """Requests waiting for a worker now."""
        return len(self._waiters)

    @property
    def mean_s(self) -> float:
        """The estimated work of a request: its computation time alone on the machine, in seconds (0 while unknown)."""
        return self._mean_s

    def seed(self, seconds: float) -> None:
        """Start the estimate from a warm-up computation's time, before any request; the first real one replaces it."""
        self._mean_s, self._seeded = max(seconds, 1e-6), True

    async def run(self, request: Request, work: Callable[[float], T]) -> T:
        """`work(deadline)` computed in a worker thread once admitted; `deadline` is a `time.monotonic()` time.

        Raises `Overloaded`, `DeadlineExceeded` or `ClientGone` instead of computing when it must.
        """
        deadline = time.monotonic() + self.config.timeout_s
        await self._acquire(deadline)
        try:
            if await request.is_disconnected():
                self._drop("client_gone")
                raise ClientGone()
            if time.monotonic() >= deadline:
                self._drop("deadline")
                raise DeadlineExceeded()
        except BaseException:
            self._release()
            raise
        started = self._tick()
        self.in_flight += 1
        self._changed()
        future = asyncio.get_running_loop().run_in_executor(self.pool, work, deadline)
        future.add_done_callback(lambda _: self._finished(started))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise DeadlineExceeded() from None

    def retry_after_s(self) -> int:
        """Seconds until the requests ahead have probably been served (at least 1)."""
        return max(1, math.ceil((self._busy() + self.waiting) * self._mean_s))

    def _busy(self) -> int:
        """Workers taken: computing, or handed to a request about to compute."""
        return self.config.workers - self._free

    def _fits_deadline(self) -> bool:
        """Whether a request joining now would probably be answered within `HEADROOM` of its deadline."""
        if self._busy() == 0 and not self._waiters:
            return True
        return (self._busy() + self.waiting + 1) * self._mean_s <= HEADROOM * self.config.timeout_s

    def _tick(self) -> float:
        """Advance the processor-sharing clock to now and return it."""
        now = time.monotonic()
        if self.in_flight:
            self._clock += (now - self._clock_at) / self.in_flight
        self._clock_at = now
        return self._clock

    async def _acquire(self, deadline: float) -> None:
        """Take a free worker, or wait in line for one until `deadline`."""
        with self._lock:
            worker_free = self._free > 0 and not self._waiters
            if not self._fits_deadline() or (not worker_free and len(self._waiters) >= self.config.max_waiting):
                self._drop("overloaded")
                raise Overloaded(self.retry_after_s())
            if worker_free:
                self._free -= 1
                return
            turn = asyncio.get_running_loop().create_future()
            self._waiters.append(turn)
        self._changed()
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout=max(0.0, deadline - time.monotonic()))
        except BaseException as err:  # the deadline passed, or the server is stopping
            with self._lock:
                granted = turn.done() and not turn.cancelled()
                if not granted:
                    turn.cancel()
                    self._waiters.remove(turn)
            if granted:  # a worker was handed over just as the deadline passed: pass it on
                self._release()
            if isinstance(err, TimeoutError):
                self._drop("deadline")
                raise DeadlineExceeded() from None
            self._changed()
            raise

    def _release(self) -> None:
        """Hand the worker to the request that waited longest, or mark it free."""
        with self._lock:
            while self._waiters:
                turn = self._waiters.popleft()
                if not turn.done():
                    turn.set_result(None)
                    break
            else:
                self._free += 1
        self._changed()

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _finished(self, started: float) -> None:
        work = self._tick() - started
        self.in_flight -= 1
        fresh = self._mean_s == 0 or self._seeded
        self._mean_s, self._seeded = (work if fresh else 0.8 * self._mean_s + 0.2 * work), False
        self._release()
