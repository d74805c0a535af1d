"""`core.serving.admission` on an injected clock: every figure below can be worked out on paper.

A `ManualClock` only moves when the test moves it, and each computation blocks on an event until the test
releases it, so the processor-sharing clock, the measured service times and the decisions that follow
from them are exact, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from core.serving.admission import Admission, AdmissionConfig, Overloaded


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StayingClient:
    """The one thing `Admission.run` asks of an HTTP request: whether its client has gone (never, here)."""

    async def is_disconnected(self) -> bool:
        return False


class Held:
    """A computation that runs (in the admission's worker thread) until the test releases it."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, deadline: float) -> str:
        self.started.set()
        self.release.wait(30)
        return "answer"


async def start(admission: Admission, count: int) -> tuple[list[Held], list[asyncio.Task]]:
    """`count` held computations admitted and running."""
    held = [Held() for _ in range(count)]
    tasks = []
    for computation in held:
        tasks.append(asyncio.create_task(admission.run(StayingClient(), computation)))
        await asyncio.to_thread(computation.started.wait, 30)
    return held, tasks


def test_work_is_wall_time_shared_and_service_is_wall_time_measured():
    clock = ManualClock()
    admission = Admission(AdmissionConfig(workers=2, max_waiting=0, timeout_s=30), clock=clock)

    async def scenario() -> None:
        (first, second), (first_done, second_done) = await start(admission, 2)
        clock.advance(1.0)  # both compute for 1 s: 0.5 s of work each
        first.release.set()
        assert await first_done == "answer"
        assert (admission.work_s, admission.service_s) == (0.5, 1.0)  # the first measurement is taken as is
        clock.advance(0.5)  # the second computes 0.5 s more, alone: 0.5 + 0.5 = 1.0 s of work, 1.5 s of wall time
        second.release.set()
        await second_done

    asyncio.run(scenario())
    assert admission.work_s == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)  # 0.6
    assert admission.service_s == pytest.approx(0.8 * 1.0 + 0.2 * 1.5)  # 1.1
    admission.pool.shutdown()


def test_measured_service_time_refuses_what_the_work_estimate_alone_would_admit():
    # Four computations at once took 4 s each: 1 s of work each, 4 s measured (the machine was shared, or
    # busy with something else). A fifth request waits one round of 4 s and then computes 4 s: 8 s, past
    # 80% of its 9 s deadline, although 5 requests x 1 s of work would fit.
    clock = ManualClock()
    admission = Admission(AdmissionConfig(workers=4, max_waiting=8, timeout_s=9), clock=clock)

    async def scenario() -> None:
        held, tasks = await start(admission, 4)
        clock.advance(4.0)
        for computation in held:
            computation.release.set()
        await asyncio.gather(*tasks)
        assert (admission.work_s, admission.service_s) == (1.0, 4.0)
        held, tasks = await start(admission, 4)  # 1, 2, 3 and 4 computing: 1 x 4 s each, all fit
        assert admission.estimate_s() == 8.0 and not admission.admits()
        with pytest.raises(Overloaded):
            await admission.run(StayingClient(), Held())
        assert admission.dropped["overloaded"] == 1
        for computation in held:
            computation.release.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    admission.pool.shutdown()


def test_a_computation_running_longer_than_the_mean_raises_the_estimate():
    clock = ManualClock()
    admission = Admission(AdmissionConfig(workers=1, max_waiting=8, timeout_s=30), clock=clock)
    admission.seed(1.0)  # as a warm-up does

    async def scenario() -> None:
        (held,), (task,) = await start(admission, 1)
        assert admission.estimate_s() == 2.0  # wait for the one computing (1 s), then compute (1 s)
        clock.advance(5.0)  # it has run 5 s already: the 1 s mean is stale
        assert admission.estimate_s() == 10.0  # 2 rounds of at least 5 s
        held.release.set()
        await task

    asyncio.run(scenario())
    assert admission.service_s == 5.0  # the warm-up's seed is replaced by the first real measurement
    admission.pool.shutdown()


def test_retry_after_spreads_refused_clients_over_the_second_half_of_the_estimate():
    clock = ManualClock()
    admission = Admission(AdmissionConfig(workers=1, max_waiting=0, timeout_s=30), clock=clock, rng=random.Random(7))
    admission.seed(4.0)

    async def scenario() -> list[int]:
        (held,), (task,) = await start(admission, 1)
        assert admission.estimate_s() == 8.0 and not admission.admits()  # the line (0 places) is full
        refusals = [admission.refuse().retry_after_s for _ in range(400)]
        held.release.set()
        await task
        return refusals

    refusals = asyncio.run(scenario())
    admission.pool.shutdown()
    # ceil(uniform(4, 8)) is 5, 6, 7 or 8 (4 only if the draw is exactly 4.0), each about a quarter of the time.
    assert set(refusals) <= {4, 5, 6, 7, 8} and {5, 6, 7, 8} <= set(refusals)
    assert all(refusals.count(seconds) > 60 for seconds in (5, 6, 7, 8))
    assert admission.dropped["overloaded"] == 400
    # The same seed draws the same spread: a herd's retries are reproducible in a test, random in a service.
    twins = [Admission(AdmissionConfig(workers=1), clock=clock, rng=random.Random(7)) for _ in range(2)]
    for twin in twins:
        twin.seed(4.0)
    assert [twins[0].retry_after_s() for _ in range(20)] == [twins[1].retry_after_s() for _ in range(20)]
    for twin in twins:
        twin.pool.shutdown()
