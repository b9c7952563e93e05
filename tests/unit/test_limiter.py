"""The API budget's rules: the token bucket never exceeds the rate, the adaptive limit grows and
shrinks as documented, tier 1 is admitted before tier 2, and Retry-After pauses."""

from __future__ import annotations

import asyncio
import random

import pytest

from exporter.octavia.limiter import (
    OK,
    RATE_LIMITED,
    TIER1,
    TIER2,
    TIMEOUT,
    UNAVAILABLE,
    AdaptiveLimit,
    Limiter,
    TokenBucket,
    budget,
    tier,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def windows_ok(stamps: list[float], rate: float, window: float = 10.0) -> int:
    """The most requests any `window`-second window holds."""
    most, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.parametrize("rate", [10.0, 24.0, 100.0])
def test_a_greedy_caller_never_beats_the_rate(rate: float) -> None:
    clock = Clock()
    bucket = budget(rate, clock=clock)
    stamps: list[float] = []
    while clock.now < 1100.0:
        wait = bucket.take()
        if wait == 0:
            stamps.append(clock.now)
        else:
            clock.now += wait
    assert windows_ok(stamps, rate) <= 1.05 * 10 * rate
    # And it is not stingy either: the whole budget is usable.
    assert len(stamps) >= 100 * rate


@pytest.mark.parametrize("rate", [1.0, 5.0, 10.0, 24.0])
def test_bursty_callers_never_beat_the_rate(rate: float) -> None:
    rng = random.Random(5)
    clock = Clock()
    bucket = budget(rate, clock=clock)
    stamps: list[float] = []
    for _ in range(5000):
        # Idle gaps (tokens pile up, up to the burst) and tight retries.
        clock.now += rng.choice([0.0, 0.001, 0.05, 0.3, 2.0])
        if bucket.take() == 0:
            stamps.append(clock.now)
    # A burst of at least one token: below 2.5 req/s that one is more than 0.4 s' worth.
    assert windows_ok(stamps, rate) <= max(1.05 * 10 * rate, 10 * rate + 1)


def test_quick_requests_after_a_long_one_do_not_wait() -> None:
    clock = Clock()
    bucket = budget(10.0, clock=clock)
    assert bucket.take() == 0
    clock.now += 1.0            # a long list page
    assert [bucket.take() for _ in range(4)] == [0.0] * 4  # the small lists go at once
    assert bucket.take() > 0    # and then the rate holds again


def test_rate_zero_means_no_limit() -> None:
    bucket = TokenBucket(0.0, clock=Clock())
    assert all(bucket.take() == 0 for _ in range(10_000))


def feed(limit: AdaptiveLimit, latency: float, count: int, saturated: bool = True,
         endpoint: str = "loadbalancers/{id}/status") -> list[str]:
    reasons = []
    for _ in range(count):
        if saturated:
            limit.saturated()
        reason = limit.on_latency(endpoint, latency)
        if reason:
            reasons.append(reason)
    return reasons


def test_grows_while_latency_stays_at_its_baseline_and_the_limit_is_used() -> None:
    limit = AdaptiveLimit(ceiling=4, initial=1)
    feed(limit, 0.03, 200)
    assert limit.limit == 4  # up to the ceiling, never beyond


def test_does_not_grow_when_the_limit_is_not_what_holds_requests_back() -> None:
    limit = AdaptiveLimit(ceiling=4, initial=1)
    feed(limit, 0.03, 200, saturated=False)
    assert limit.limit == 1


def test_shrinks_when_latency_grows() -> None:
    limit = AdaptiveLimit(ceiling=16, initial=16)
    feed(limit, 0.03, 40)  # a baseline
    reasons = feed(limit, 0.2, 200)
    assert reasons and set(reasons) == {"latency"}
    assert limit.limit == 1


def test_baselines_are_per_endpoint() -> None:
    """Stats calls are slower than status trees by nature; that is not congestion."""
    limit = AdaptiveLimit(ceiling=4, initial=2)
    for _ in range(100):
        limit.saturated()
        assert limit.on_latency("loadbalancers/{id}/status", 0.02) is None
        assert limit.on_latency("listeners/{id}/stats", 0.06) is None
    assert limit.limit == 4


@pytest.mark.parametrize(("outcome", "reason"),
                         [(RATE_LIMITED, "429"), (UNAVAILABLE, "503"), (TIMEOUT, "timeout")])
def test_overload_halves_the_limit_once_per_event(outcome: str, reason: str) -> None:
    limit = AdaptiveLimit(ceiling=16, initial=16)
    generation = limit.generation
    assert limit.on_overload(outcome, generation) == reason
    assert limit.limit == 8
    # Other requests sent under the old limit answer the same way: the same event.
    assert limit.on_overload(outcome, generation) is None
    assert limit.limit == 8
    assert limit.on_overload(outcome, limit.generation) == reason
    assert limit.limit == 4


def test_fixed_concurrency_never_moves() -> None:
    limit = AdaptiveLimit(ceiling=6, initial=1, adaptive=False)
    assert limit.limit == 6
    feed(limit, 0.01, 50)
    feed(limit, 1.0, 200)
    assert limit.on_overload(UNAVAILABLE, limit.generation) is None
    assert limit.limit == 6


async def settle() -> None:
    """Let every runnable task run until it blocks (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_tier_one_is_admitted_before_waiting_tier_two() -> None:
    limiter = Limiter(rate=0.0, ceiling=1, adaptive=False)
    first = await limiter.acquire()
    order: list[str] = []

    async def request(name: str, level: int) -> None:
        with tier(level):
            ticket = await limiter.acquire()
        order.append(name)
        limiter.release(ticket, OK, 0.01)

    with tier(TIER2):
        detail = [asyncio.create_task(request(f"detail-{i}", TIER2)) for i in range(50)]
    await settle()
    lists = asyncio.create_task(request("lists", TIER1))
    await settle()
    assert limiter.waiting == 51 and not order
    limiter.release(first, OK, 0.01)
    await asyncio.gather(lists, *detail)
    assert order[0] == "lists"
    assert order[1:] == [f"detail-{i}" for i in range(50)]  # first come, first served
    assert limiter.in_flight == 0


async def test_a_newcomer_never_overtakes_a_waiter() -> None:
    """Admission without queueing happens only when nobody waits: a token that comes back goes
    to the request that waited for it."""
    clock = Clock()
    limiter = Limiter(rate=1.0, ceiling=4, adaptive=False, clock=clock)
    first = await limiter.acquire()  # the bucket's one token, at once
    assert limiter.in_flight == 1 and limiter.waiting == 0
    waiter = asyncio.create_task(limiter.acquire())
    await settle()
    assert limiter.waiting == 1 and not waiter.done()
    clock.now += 1.0  # one token is back
    newcomer = asyncio.create_task(limiter.acquire())
    await settle()
    assert waiter.done() and not newcomer.done()
    newcomer.cancel()
    await settle()
    limiter.release(first, OK, 0.01)
    limiter.release(waiter.result(), OK, 0.01)
    assert limiter.in_flight == 0 and limiter.waiting == 0


async def test_cancelled_waiters_give_their_place_back() -> None:
    limiter = Limiter(rate=0.0, ceiling=1, adaptive=False)
    held = await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await settle()
    waiter.cancel()
    await settle()
    limiter.release(held, OK, 0.01)
    again = await limiter.acquire()
    assert limiter.in_flight == 1
    limiter.release(again, OK, 0.01)
    assert limiter.in_flight == 0 and limiter.waiting == 0


async def test_retry_after_pauses_every_request_of_the_cloud() -> None:
    loop = asyncio.get_running_loop()
    limiter = Limiter(rate=0.0, ceiling=4, adaptive=True)
    decreases: list[str] = []
    limiter._on_decrease = decreases.append
    ticket = await limiter.acquire()
    answered = loop.time()
    limiter.release(ticket, RATE_LIMITED, 0.01, retry_after=0.2)
    await limiter.acquire()
    assert loop.time() - answered >= 0.2
    assert decreases == ["429"]


def test_a_limit_never_seen_alone_steps_down_until_it_is() -> None:
    """Started high, every request queues behind ours: the lowest latency seen is no baseline.
    The limit probes downwards (without counting a decrease) until a request runs alone."""
    limit = AdaptiveLimit(ceiling=8, initial=8)
    reasons = []
    for _ in range(200):
        limit.saturated()
        if reason := limit.on_latency("e", 0.08, alone=False):
            reasons.append(reason)
    assert limit.limit == 1 and not reasons
    feed(limit, 0.03, 100)  # alone now: a real baseline, and room to grow
    assert limit.limit == 8
