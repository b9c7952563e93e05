"""The adaptive limit against a real HTTP server on loopback whose capacity is bounded: a fixed
number of workers, each request holding one for a service time, the rest queueing, as a
single-process Octavia API does. The limit must settle near that capacity instead of piling
requests into the server's queue, and back off on 503, 429 (with Retry-After) and timeouts."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.octavia.limiter import TIER2, Limiter, tier
from exporter.telemetry import Telemetry


@dataclass
class Capacity:
    workers: int = 1
    service: float = 0.01
    answer: int = 200
    retry_after: str | None = None
    hang: float = 0.0
    queued: int = 0
    most_queued: int = 0
    arrivals: list[float] = field(default_factory=list)


async def serve(capacity: Capacity) -> tuple[web.AppRunner, str]:
    slots = asyncio.Semaphore(capacity.workers)

    async def handler(request: web.Request) -> web.Response:
        capacity.arrivals.append(time.monotonic())
        capacity.queued += 1
        capacity.most_queued = max(capacity.most_queued, capacity.queued)
        try:
            async with slots:
                await asyncio.sleep(capacity.hang or capacity.service)
        finally:
            capacity.queued -= 1
        headers = {"Retry-After": capacity.retry_after} if capacity.retry_after else {}
        if capacity.answer != 200:
            return web.Response(status=capacity.answer, headers=headers)
        return web.json_response({"statuses": {"loadbalancer": {"id": "x"}}})

    app = web.Application()
    app.router.add_get("/v2/lbaas/loadbalancers/{id}/status", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


class Tokens:
    def __init__(self, root: str) -> None:
        self.root = root

    async def token(self) -> str:
        return "t"

    async def endpoint(self) -> str:
        return self.root + "/v2"

    async def network_endpoint(self) -> str | None:
        return None

    async def invalidate(self, stale: str) -> None:
        return None


@dataclass
class Rig:
    capacity: Capacity
    client: OctaviaClient
    limiter: Limiter
    decreases: list[str]
    limits: list[int] = field(default_factory=list)  # the limit after each answer, in order

    async def burst(self, count: int, callers: int = 32) -> list[ApiError]:
        """`count` tier-2 GETs from `callers` concurrent tasks; the errors they ended with."""
        errors: list[ApiError] = []
        todo = iter(range(count))

        async def caller() -> None:
            for _ in todo:
                try:
                    await self.client.get("loadbalancers/{id}/status",
                                          "v2/lbaas/loadbalancers/x/status")
                except ApiError as exc:
                    errors.append(exc)
                self.limits.append(self.limiter.limit)

        with tier(TIER2):
            await asyncio.gather(*(caller() for _ in range(callers)))
        return errors


@pytest.fixture
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    options = getattr(request, "param", {})
    capacity = Capacity(**options.get("capacity", {}))
    runner, root = await serve(capacity)
    decreases: list[str] = []
    limiter = Limiter(rate=0.0, ceiling=options.get("ceiling", 16),
                      initial=options.get("initial", 1), on_decrease=decreases.append)
    client = OctaviaClient("c", Tokens(root), Telemetry(), concurrency=16, retries=0,
                           request_timeout=options.get("timeout", 10.0), limiter=limiter)
    try:
        yield Rig(capacity, client, limiter, decreases)
    finally:
        await client.close()
        await runner.cleanup()


SOLO = 8


async def warm_up(rig: Rig) -> None:
    """Solo requests first, so the limiter's baseline is the lowest of several (a connection
    set up, an interpreter warmed), not one cold first request that a busy machine slowed: a
    baseline too high hides queueing, and the limit grows past the capacity."""
    assert not await rig.burst(SOLO, callers=1)
    del rig.limits[:]


@pytest.mark.parametrize("rig", [{"capacity": {"workers": 2, "service": 0.02}}], indirect=True)
async def test_the_limit_settles_near_the_servers_capacity(rig: Rig) -> None:
    await warm_up(rig)
    assert not await rig.burst(400)
    # Two workers: two or three in flight keep them busy; more would only queue. Where it
    # settles is judged over the second half of the burst: on a busy machine a stall of the
    # event loop reads as queueing for one window and shrinks the limit once, which the last
    # value would show and the median does not.
    settled = rig.limits[len(rig.limits) // 2:]
    assert 2 <= statistics.median(settled) <= 4, settled
    assert rig.limiter.limit <= 4
    assert rig.capacity.most_queued <= 5


@pytest.mark.slow
@pytest.mark.parametrize("rig", [{"capacity": {"workers": 1, "service": 0.03},
                                  "initial": 16}], indirect=True)
async def test_latency_growth_shrinks_a_limit_that_is_too_high(rig: Rig) -> None:
    # One worker, 30 ms a request (an Octavia status tree): sixteen in flight queue for 0.5 s.
    await warm_up(rig)
    assert not await rig.burst(200)
    assert "latency" in rig.decreases
    assert rig.limiter.limit <= 3


@pytest.mark.parametrize("rig", [{"capacity": {"workers": 4, "answer": 503}, "initial": 16}],
                         indirect=True)
async def test_503_halves_the_limit(rig: Rig) -> None:
    errors = await rig.burst(40)
    assert errors and all(e.reason == "server_error" and e.status == 503 for e in errors)
    assert "503" in rig.decreases
    assert rig.limiter.limit <= 4


@pytest.mark.parametrize("rig", [{"capacity": {"workers": 4, "answer": 429,
                                               "retry_after": "1"}, "initial": 4}],
                         indirect=True)
async def test_429_with_retry_after_pauses_the_cloud(rig: Rig) -> None:
    first = await rig.burst(1, callers=1)
    assert first and first[0].reason == "rate_limited"
    answered = time.monotonic()
    await rig.burst(1, callers=1)
    # Retry-After: 1 — nobody asked again within the second.
    assert rig.capacity.arrivals[1] - answered >= 1.0
    assert rig.decreases[0] == "429"


@pytest.mark.parametrize("rig", [{"capacity": {"workers": 8, "hang": 1.0}, "initial": 8,
                                  "timeout": 0.2}], indirect=True)
async def test_timeouts_shrink_the_limit(rig: Rig) -> None:
    errors = await rig.burst(8, callers=8)
    assert len(errors) == 8 and all(e.reason == "timeout" for e in errors)
    assert rig.decreases == ["timeout"]  # eight timeouts of one limit: one event
    assert rig.limiter.limit == 4
