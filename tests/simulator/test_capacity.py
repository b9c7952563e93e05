"""The capacity model: worker slots, service times per kind, a FIFO queue (virtual clock)."""

from __future__ import annotations

import asyncio
import heapq

import aiohttp
import pytest

from exporter.simulator import Simulator
from exporter.simulator.capacity import Capacity, ServiceTimes, kind_of
from exporter.simulator.cli import build_parser
from tests.support.simulator import get_json


class FakeTime:
    """A clock that only moves when told, and a sleep that records what it was asked."""

    def __init__(self, advance: bool = False) -> None:
        self.now = 0.0
        self.advance = advance  # sleeping moves the clock (for one request after another)
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.advance:
            self.now += seconds


TIMES = ServiceTimes(status_ms=20, stats_ms=40, list_base_ms=10, list_item_ms=0.5, other_ms=5)


def test_kinds_by_endpoint_template() -> None:
    assert kind_of("/v2/lbaas/loadbalancers/{id}/status") == "status"
    assert kind_of("/v2/lbaas/loadbalancers/{id}/statuses") == "status"
    assert kind_of("/v2/lbaas/listeners/{id}/stats") == "stats"
    assert kind_of("/v2/octavia/amphorae/{id}/stats") == "amphora_stats"
    for listed in ("/v2/lbaas/loadbalancers", "/v2/lbaas/pools", "/v2/lbaas/healthmonitors",
                   "/v2/lbaas/pools/{pool_id}/members", "/v2/octavia/amphorae"):
        assert kind_of(listed) == "list"
    assert kind_of("/v2/lbaas/loadbalancers/{id}") == "other"
    assert kind_of("/") == "other"


def test_service_time_of_a_list_grows_with_its_page() -> None:
    assert TIMES.seconds("list", 0) == pytest.approx(0.010)
    assert TIMES.seconds("list", 1000) == pytest.approx(0.510)
    assert TIMES.seconds("status") == pytest.approx(0.020)
    assert TIMES.seconds("stats") == pytest.approx(0.040)
    assert TIMES.seconds("other") == pytest.approx(0.005)


def test_one_worker_serves_in_arrival_order() -> None:
    cap = Capacity(1, TIMES, clock=lambda: 0.0)
    assert [cap.reserve(0.0, 0.010) for _ in range(3)] == [
        (0.0, 0.010), (0.010, 0.020), (0.020, 0.030)]
    # idle again by then: served at once
    assert cap.reserve(1.0, 0.010) == (1.0, 1.010)
    assert cap.stats.max_wait_seconds == pytest.approx(0.020)
    assert cap.stats.to_json()["total"] == 4


def test_two_workers_serve_two_at_a_time() -> None:
    cap = Capacity(2, TIMES, clock=lambda: 0.0)
    finishes = [cap.reserve(0.0, 0.010)[1] for _ in range(5)]
    assert finishes == pytest.approx([0.010, 0.010, 0.020, 0.020, 0.030])


def closed_loop(workers: int, clients: int, service: float, requests: int) -> tuple[float, float]:
    """`clients` callers each sending the next request when the last answer arrives.

    Returns (throughput per second, mean latency in seconds).
    """
    cap = Capacity(workers, clock=lambda: 0.0)
    ready = [(0.0, c) for c in range(clients)]  # (time the client sends, client)
    heapq.heapify(ready)
    latencies = []
    last = 0.0
    for _ in range(requests):
        sent, client = heapq.heappop(ready)
        _, finish = cap.reserve(sent, service)
        latencies.append(finish - sent)
        last = max(last, finish)
        heapq.heappush(ready, (finish, client))
    return requests / last, sum(latencies) / len(latencies)


def test_throughput_is_flat_and_latency_grows_with_concurrency() -> None:
    """What the real one-worker API showed: ~1/service requests a second at any concurrency,
    latency growing linearly once callers outnumber workers."""
    results = {c: closed_loop(1, c, 0.040, 400) for c in (1, 2, 4, 8, 16)}
    for throughput, _ in results.values():
        assert throughput == pytest.approx(25.0, rel=0.01)
    for clients, (_, latency) in results.items():
        assert latency == pytest.approx(0.040 * clients, rel=0.05)
    # more workers: more throughput, until callers run out
    assert closed_loop(4, 16, 0.040, 400)[0] == pytest.approx(100.0, rel=0.01)
    assert closed_loop(4, 2, 0.040, 400)[0] == pytest.approx(50.0, rel=0.01)


async def test_hold_sleeps_for_wait_plus_service() -> None:
    fake = FakeTime()
    cap = Capacity(2, TIMES, clock=fake.clock, sleep=fake.sleep)
    delays = await asyncio.gather(*(cap.hold("status") for _ in range(4)),
                                  cap.hold("list", 100))
    assert delays == pytest.approx([0.020, 0.020, 0.040, 0.040, 0.040 + 0.060])
    assert fake.slept == pytest.approx(delays)
    assert cap.in_system == 0
    assert cap.stats.to_json()["served"] == {"list": 1, "status": 4}


async def test_off_by_default_and_after_zero_workers() -> None:
    fake = FakeTime()
    cap = Capacity(clock=fake.clock, sleep=fake.sleep)
    assert not cap.enabled
    assert await cap.hold("status") == 0.0
    cap.configure(workers=1)
    assert await cap.hold("status") == pytest.approx(0.022)
    cap.configure(workers=0)
    assert await cap.hold("status") == 0.0
    assert fake.slept == [pytest.approx(0.022)]


def test_jitter_spreads_service_times_reproducibly() -> None:
    def draws(seed: int) -> list[float]:
        cap = Capacity(1, TIMES, jitter=0.5, seed=seed)
        return [cap.service_seconds("status") for _ in range(200)]

    first = draws(3)
    assert first == draws(3)
    assert min(first) >= 0.010 and max(first) <= 0.030
    assert max(first) - min(first) > 0.015


@pytest.mark.parametrize(("settings", "named"), [
    ({"status": 3}, "status"),
    ({"status_ms": -1}, "status_ms"),
    ({"workers": -1}, "workers"),
    ({"workers": 1.5}, "workers"),
    ({"jitter": 1.0}, "jitter"),
])
def test_bad_settings_name_the_key(settings: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Capacity().configure(**settings)


async def test_simulator_charges_octavia_requests_by_kind(
        sim: Simulator, http: aiohttp.ClientSession, admin: dict[str, str]) -> None:
    fake = FakeTime(advance=True)
    sim.capacity = Capacity(1, TIMES, clock=fake.clock, sleep=fake.sleep)
    lb_id = next(iter(sim.fleet.loadbalancers))
    base = f"{sim.octavia_url}/v2/lbaas"
    assert (await get_json(http, f"{base}/loadbalancers?limit=5", admin))[0] == 200
    assert (await get_json(http, f"{base}/loadbalancers/{lb_id}/status", admin))[0] == 200
    assert (await get_json(http, f"{base}/loadbalancers/{lb_id}/stats", admin))[0] == 200
    # Keystone and the control API are not Octavia's workers
    assert (await get_json(http, f"{sim.base_url}/_sim/config"))[0] == 200
    assert fake.slept == pytest.approx([0.010 + 5 * 0.0005, 0.020, 0.040])
    status, body = await get_json(http, f"{sim.base_url}/_sim/capacity")
    assert status == 200
    assert body["served"] == {"list": 1, "stats": 1, "status": 1}
    assert body["workers"] == 1


async def test_control_api_configures_and_validates(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    url = f"{sim.base_url}/_sim/config"
    async with http.put(url, json={"capacity": {"workers": 2, "status_ms": 30,
                                                "jitter": 0.1}}) as resp:
        assert resp.status == 200
        capacity = (await resp.json())["capacity"]
    assert capacity["workers"] == 2 and capacity["status_ms"] == 30
    assert capacity["jitter"] == 0.1 and capacity["stats_ms"] == ServiceTimes().stats_ms
    assert sim.capacity.enabled
    async with http.put(url, json={"capacity": {"tree_ms": 30}}) as resp:
        assert resp.status == 400
        assert "tree_ms" in (await resp.json())["error"]
    async with http.put(url, json={"capacity": 3}) as resp:
        assert resp.status == 400
    async with http.post(f"{sim.base_url}/_sim/capacity/reset") as resp:
        assert (await resp.json())["total"] == 0


def test_cli_flags() -> None:
    args = build_parser().parse_args(
        ["--capacity-workers", "1", "--service-ms", "status=25", "--service-ms",
         "list-item=0.7", "--capacity-jitter", "0.2"])
    assert args.capacity_workers == 1 and args.capacity_jitter == 0.2
    assert dict(args.service_ms) == {"status_ms": 25.0, "list_item_ms": 0.7}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--service-ms", "tree=3"])
