"""A bounded soak (cycles, not wall time): churn and flapping leave nothing behind.

Load balancers are created and deleted every cycle and members flap; afterwards the exposition,
the poller's own bookkeeping, the asyncio tasks and the open file descriptors are back where they
started. docs/operations.md has the figures of a longer run with `SOAK_CYCLES`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.support.exposition import one

CYCLES = int(os.environ.get("SOAK_CYCLES", "25"))


def series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#")
               and not line.startswith(("process_", "octavia_api_", "octavia_poll_",
                                        "octavia_status_transitions", "octavia_authentications",
                                        "octavia_last_poll", "octavia_last_error_",
                                        "octavia_changes_feed_", "octavia_reconciliation_",
                                        "python_")))


def exporter_tasks() -> int:
    # The simulator shares this event loop; its per-connection handler tasks come and go with
    # keep-alive connections and are not the exporter's.
    return sum(1 for task in asyncio.all_tasks() if "RequestHandler" not in repr(task))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_churn_and_flapping_leave_nothing_behind(control, make_exporter) -> None:
    # manage_gc as in production: the heap is frozen after every cycle, and fully collected
    # every tenth; nothing may accumulate because of it.
    exporter = make_exporter(manage_gc=True, healthy_tree_interval=3600, stats_interval=3600)
    await exporter.cycle()
    await exporter.cycle()
    baseline_series = series(exporter.text())
    baseline_fds = open_fds()
    baseline_tasks = exporter_tasks()
    baseline_rss = rss_mb()
    truth = await control.fleet()
    flappers = [m["id"] for m in truth["members"] if m["operating_status"] == "ONLINE"][:6]

    created: list[str] = []
    for cycle in range(CYCLES):
        for _ in range(3):
            ids = await control.call("POST", "/_sim/loadbalancers",
                                     {"listeners": 2, "pools": 2, "members_per_pool": 4})
            created.append(ids["loadbalancer"])
        while len(created) > 6:
            await control.call("DELETE", f"/_sim/loadbalancers/{created.pop(0)}")
        for member in flappers:
            status = "ERROR" if cycle % 2 == 0 else "ONLINE"
            await control.call("PATCH", f"/_sim/members/{member}", {"operating_status": status})
        metrics = await exporter.cycle()
        assert one(metrics, "octavia_up", cloud="simulator") == 1
        state = exporter.service.clouds[0]
        lbs = one(metrics, "octavia_snapshot_objects", resource="loadbalancer")
        assert len(state._read) <= lbs and len(state._parts) <= lbs

    for lb in created:
        await control.call("DELETE", f"/_sim/loadbalancers/{lb}")
    for member in flappers:
        await control.call("PATCH", f"/_sim/members/{member}", {"operating_status": "ONLINE"})
    await exporter.cycle()
    # The simulator's control API deletes rows at once, without the PENDING_DELETE that
    # Octavia's own deletes write first (and the changes feed sees): what is left to find them
    # is the reconciliation the daemon runs every --reconcile-interval.
    assert await exporter.service.clouds[0].reconciler.reconcile()
    await exporter.cycle()
    assert all(exporter.cycles)
    # A slow moment's request timeout leaves its last-error series (excluded above): an
    # error, not something churn left behind.
    assert series(exporter.text()) == baseline_series, "series left behind"
    assert open_fds() <= baseline_fds + 2, "file descriptors left open"
    assert exporter_tasks() == baseline_tasks, [t for t in asyncio.all_tasks()
                                                if "RequestHandler" not in repr(t)]
    transitions = exporter.counter("octavia_status_transitions_total", cloud="simulator",
                                   resource="member", field="operating_status",
                                   from_status="ONLINE", to_status="ERROR")
    assert transitions >= len(flappers) * (CYCLES // 2)
    # Figures for docs/operations.md (pytest -s shows them); RSS is the whole test process,
    # simulator included, so it is reported, not asserted.
    print(f"soak: {CYCLES} cycles, {3 * CYCLES} load balancers created and deleted, series "
          f"{baseline_series} -> {series(exporter.text())}, fds {baseline_fds} -> {open_fds()}, "
          f"tasks {baseline_tasks} -> {exporter_tasks()}, RSS {baseline_rss:.0f} -> "
          f"{rss_mb():.0f} MB")
