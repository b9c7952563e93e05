"""Two tiers: the bulk lists are published as soon as they are in, whatever per-load-balancer
detail is still being read; a slow or failing tier 2 never touches octavia_up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.exposition import one, status_of


def tree_members(truth: dict[str, Any]) -> set[str]:
    with_listener = {p["id"] for p in truth["pools"] if p["listeners"]}
    return {m["id"] for m in truth["members"] if m["pool_id"] in with_listener}


def exported_members(metrics) -> set[str]:
    return {lab["member_id"] for lab, _ in metrics.get("octavia_member_info", [])}


@pytest.mark.slow
async def test_lists_are_published_while_detail_is_still_being_read(control,
                                                                    make_exporter) -> None:
    truth = await control.fleet()
    exporter = make_exporter(interval=600.0, concurrency=2, adaptive_concurrency=False,
                             request_timeout=5.0)
    # Every status tree takes 2 s: six rounds of two for twelve load balancers.
    await control.faults({"kind": "latency", "endpoint": "loadbalancers/*/status",
                          "latency_ms": 2000})
    service = exporter.service
    await service.start()
    await service.wait_cycles(1, timeout=10)
    early = exporter.metrics()
    assert one(early, "octavia_up", cloud="simulator") == 1
    for lb in truth["loadbalancers"]:
        assert status_of(early, "octavia_loadbalancer_operating_status",
                         loadbalancer_id=lb["id"]) == lb["operating_status"]
    # No status tree can have answered yet: tier 1 did not wait for them.
    assert not exported_members(early) & tree_members(truth)
    assert one(early, "octavia_detail_backlog", cloud="simulator") > 0

    async def all_members() -> None:
        async with service.cycle_done:
            await service.cycle_done.wait_for(
                lambda: tree_members(truth) <= exported_members(exporter.metrics()))
    await asyncio.wait_for(all_members(), 60)
    late = exporter.metrics()
    assert one(late, "octavia_up", cloud="simulator") == 1
    assert service.clouds[0].health.cycles_completed == 1  # the members came from the stream
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator", endpoint="cycle",
                            reason="timeout") == 0


async def test_slow_and_failing_detail_never_touch_octavia_up(control, make_exporter) -> None:
    exporter = make_exporter(request_timeout=0.5, cycle_timeout=1.0, concurrency=16,
                             adaptive_concurrency=False)
    first = await exporter.cycle()
    # Slower than the request timeout and than the cycle timeout: every tree times out.
    await control.faults({"kind": "latency", "endpoint": "loadbalancers/*/status",
                          "latency_ms": 1500},
                         {"kind": "error", "endpoint": "listeners/*/stats", "status": 503})
    second = await exporter.cycle()
    assert one(second, "octavia_up", cloud="simulator") == 1
    assert exporter.cycles == [True, True]
    assert exported_members(second) == exported_members(first)
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="loadbalancers/{id}/status", reason="timeout") > 0
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator", endpoint="cycle",
                            reason="timeout") == 0
