"""How polling one cloud is going, after each tier-1 cycle: a pure function.

octavia_up means the API answered the bulk lists; per-load-balancer detail never changes it.
When the lists keep failing, the last good fleet data stays exported until it is older than
--max-staleness, then it is withdrawn (the health series stay)."""

from __future__ import annotations

import dataclasses

from exporter.model.snapshot import CloudHealth


def after_lists(health: CloudHealth, *, ok: bool, now: float, duration: float,
                max_staleness: float, has_snapshot: bool,
                period: float | None = None) -> CloudHealth:
    """`period`: the time to the next tier-1 start, known only after lists that succeeded (a
    failed or timed-out read says nothing about how long the lists take)."""
    last_success = now if ok else health.last_success
    stale = not ok and has_snapshot and now - last_success > max_staleness
    return dataclasses.replace(
        health, up=ok, cycles_completed=health.cycles_completed + 1,
        interval=period if ok and period is not None else health.interval,
        last_cycle_duration=duration, last_cycle_end=now, last_success=last_success,
        stale_withdrawn=stale)
