"""Admission control for ragdistill's HTTP services: a bounded line, deadlines, no work for nobody.

A service computes at most `workers` requests at once and lets at most `max_waiting` more wait for a
worker. A request that finds the line full, or the service so busy that it would probably not be answered
before its deadline, is refused at once (`Overloaded`: 503 with `Retry-After`). The door middleware
(`core.serving.door`) asks the same question (`admits()`) before a request's body is even read, so a
refusal costs almost nothing; the routes ask again when they are reached.

Two estimates of "when would a request joining now be answered?", the larger one wins:
- *shared work*: requests computed at once share the machine, so what stays put is the work a request
  needs alone. A processor-sharing clock ticks `1/n` per second while `n` requests compute; a request's
  work is how far it moved while it computed. With `ahead` requests computing or waiting, the newcomer is
  answered after about `(ahead + 1) * work_s`.
- *measured service*: the wall time a computation really took, start to end (an EWMA, `service_s`). It
  also holds what the work estimate cannot see: CPU taken by the handling of refusals and retries, or
  by anything else on the machine. The newcomer waits `rounds` turns of `workers` requests and is then
  computed: about `(rounds + 1) * service_s`, where a computation already running longer than `service_s`
  raises it (a stale mean cannot admit requests behind a slow one).
A request is admitted only while the estimate fits in `HEADROOM` of its deadline (one that finds nothing
computing is always admitted). A service times one warm-up computation before it accepts traffic and
`seed`s both estimates with it (`core.serving.runtime.warm_up`); the first real computation replaces that
time (a warm-up may pay one-off costs), later ones update the EWMAs.
Every admitted request gets a deadline, `timeout_s` after its admission. When a worker frees up, the
request that waited longest takes it, unless its deadline has passed (`DeadlineExceeded`: 504) or its
client has gone away (`ClientGone`): either way it is dropped without being computed.

`Retry-After` spreads a herd: a refused client is told a whole number of seconds drawn uniformly from the
second half of the estimate (`rng.uniform(estimate / 2, estimate)`, at least 1), so clients refused in
the same second come back over several seconds, none of them long before a worker is likely free.

The work runs in the admission's own thread pool (`workers` threads), never in the event loop, so the
cheap endpoints (/health, /metrics) that do not pass through admission answer at once during overload.
The clock (`time.monotonic` by default) and the random generator are injectable, for tests.

Simplified: first come, first served, no priorities; a computation that has started cannot be stopped
(Python threads cannot be interrupted): a request that passes its deadline while computing is answered
504, and its worker is freed only when the computation ends, so `workers` is never exceeded.
All bookkeeping happens on the event loop's thread (one loop per app), and `on_change`, when set, is called
there after every change of `waiting`, `in_flight` or `dropped` (the service's metrics record them).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")

HEADROOM = 0.8
"""Share of a request's deadline the estimated answer time may fill: the estimate is a mean, answers vary."""
SMOOTHING = 0.2
"""Weight of the newest measurement in the estimates' moving averages (EWMA)."""


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
    """The service is full: answer 503 with `Retry-After: retry_after_s`."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the service is overloaded; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The request's deadline passed before (or while) it was computed: answer 504."""


class ClientGone(Exception):
    """The client disconnected while its request waited: it is not computed."""


class Client(Protocol):
    """What `Admission.run` asks of an HTTP request (a starlette `Request` is one)."""

    async def is_disconnected(self) -> bool: ...


def moving_average(mean: float, value: float, fresh: bool) -> float:
    """`value` itself when `fresh` (nothing real measured yet), else the EWMA with weight `SMOOTHING`."""
    return value if fresh else (1 - SMOOTHING) * mean + SMOOTHING * value


class Admission:
    """Admit, queue and run requests as the module docstring says; one per app."""

    def __init__(
        self,
        config: AdmissionConfig,
        name: str = "work",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.config = config
        self.clock = clock
        """Seconds, monotonic; deadlines handed to the work are times of this clock."""
        self.rng = rng or random.Random()
        """Draws the jitter of `Retry-After`."""
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
        self._work_s = 0.0  # EWMA of one request's work (processor-sharing clock), 0 while unknown
        self._service_s = 0.0  # EWMA of one computation's measured wall time, 0 while unknown
        self._seeded = False  # the estimates are a warm-up's time, to be replaced by the first real one
        self._running: dict[int, float] = {}  # start times of the computations running now
        self._tokens = itertools.count()
        self._clock = 0.0  # the processor-sharing clock: advances 1/in_flight per second while anything computes
        self._clock_at = clock()

    @property
    def waiting(self) -> int:
        """Requests waiting for a worker now."""
        return len(self._waiters)

    @property
    def work_s(self) -> float:
        """The estimated work of a request: its computation time alone on the machine, in seconds (0 while unknown)."""
        return self._work_s

    @property
    def service_s(self) -> float:
        """The measured wall time of a computation, start to end, as an EWMA in seconds (0 while unknown)."""
        return self._service_s

    def seed(self, seconds: float) -> None:
        """Start both estimates from a warm-up computation's time; the first real computation replaces it."""
        self._work_s = self._service_s = max(seconds, 1e-6)
        self._seeded = True

    def estimate_s(self) -> float:
        """Seconds until a request joining now would probably be answered (the larger of the two estimates)."""
        ahead = self._busy() + self.waiting
        rounds = max(0, math.ceil((ahead + 1 - self.config.workers) / self.config.workers))
        service_s = self._service_s
        if rounds and self._running:  # waiting behind a computation that already runs longer than the mean
            service_s = max(service_s, self.clock() - min(self._running.values()))
        return max((ahead + 1) * self._work_s, (rounds + 1) * service_s)

    def admits(self) -> bool:
        """Whether a request joining now would be admitted (the line has room and it would meet its deadline)."""
        if self._busy() == 0 and not self._waiters:
            return True
        worker_free = self._free > 0 and not self._waiters
        line_full = not worker_free and len(self._waiters) >= self.config.max_waiting
        return not line_full and self.estimate_s() <= HEADROOM * self.config.timeout_s

    def refuse(self) -> Overloaded:
        """Count one refused request and return its `Overloaded`, with a jittered `Retry-After`."""
        self._drop("overloaded")
        return Overloaded(self.retry_after_s())

    def retry_after_s(self) -> int:
        """Whole seconds drawn uniformly from the second half of the estimate (at least 1)."""
        estimate = self.estimate_s()
        return max(1, math.ceil(self.rng.uniform(estimate / 2, estimate)))

    async def run(self, request: Client, work: Callable[[float], T]) -> T:
        """`work(deadline)` computed in a worker thread once admitted; `deadline` is a time of `self.clock`.

        Raises `Overloaded`, `DeadlineExceeded` or `ClientGone` instead of computing when it must.
        """
        deadline = self.clock() + self.config.timeout_s
        await self._acquire(deadline)
        try:
            if await request.is_disconnected():
                self._drop("client_gone")
                raise ClientGone()
            if self.clock() >= deadline:
                self._drop("deadline")
                raise DeadlineExceeded()
        except BaseException:
            self._release()
            raise
        token = next(self._tokens)
        started = self._tick()
        self._running[token] = self.clock()
        self.in_flight += 1
        self._changed()
        future = asyncio.get_running_loop().run_in_executor(self.pool, work, deadline)
        future.add_done_callback(lambda _: self._finished(token, started))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=max(0.0, deadline - self.clock()))
        except TimeoutError:
            raise DeadlineExceeded() from None

    def _busy(self) -> int:
        """Workers taken: computing, or handed to a request about to compute."""
        return self.config.workers - self._free

    def _tick(self) -> float:
        """Advance the processor-sharing clock to now and return it."""
        now = self.clock()
        if self.in_flight:
            self._clock += (now - self._clock_at) / self.in_flight
        self._clock_at = now
        return self._clock

    async def _acquire(self, deadline: float) -> None:
        """Take a free worker, or wait in line for one until `deadline`."""
        with self._lock:
            if not self.admits():
                raise self.refuse()
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            turn = asyncio.get_running_loop().create_future()
            self._waiters.append(turn)
        self._changed()
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout=max(0.0, deadline - self.clock()))
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

    def _finished(self, token: int, started: float) -> None:
        work = self._tick() - started
        service = self.clock() - self._running.pop(token)
        self.in_flight -= 1
        fresh = self._work_s == 0 or self._seeded
        self._work_s = moving_average(self._work_s, work, fresh)
        self._service_s = moving_average(self._service_s, service, fresh)
        self._seeded = False
        self._release()
