"""How much a real Octavia API can serve: worker slots, a service time per request, a FIFO queue.

A real Octavia API is a WSGI application in a few processes of a few threads each. On one
process the threads share one interpreter lock, so the API serves about as many requests a
second at 16 in flight as at 1 (docs/benchmarks.md, "The real Octavia API"): extra requests wait in
line, and every client's latency grows with everybody's concurrency. This module models exactly
that and nothing more: ``workers`` requests are served side by side, each holds its slot for a
service time that depends on what it asks for, and the rest queue in arrival order.

The model is a pure function of arrival times (``reserve``), so it is exact and deterministic
whatever the event loop does; ``hold`` applies it to a live request with an injectable clock and
sleep. ``workers = 0`` turns it off (unlimited capacity, the simulator's default).
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# What a request costs the API, by the endpoint it reads. Lists cost a fixed part plus a part per
# object on the page (Octavia loads and renders every object through SQLAlchemy and WSME).
KINDS = ("status", "stats", "amphora_stats", "list", "other")
_LIST_TAILS = ("/loadbalancers", "/listeners", "/pools", "/members", "/healthmonitors",
               "/l7policies", "/amphorae", "/floatingips")


def kind_of(template: str) -> str:
    """The cost class of an endpoint template (``/v2/lbaas/loadbalancers/{id}/status`` …)."""
    if template.endswith(("/status", "/statuses")):
        return "status"
    if template.endswith("/amphorae/{id}/stats"):
        return "amphora_stats"
    if template.endswith("/stats"):
        return "stats"
    if template.endswith(_LIST_TAILS):
        return "list"
    return "other"


@dataclass(frozen=True)
class ServiceTimes:
    """Milliseconds a worker spends on one request, per kind.

    The defaults are the one-request-at-a-time figures of the real Octavia 19 API of
    tests/integration on this project's 2-core machine (1,000 load balancers of 2 listeners,
    2 pools, 10 members): ``benchmarks/real_api.py --phases curve`` measures and prints them.
    """

    status_ms: float = 22.0
    stats_ms: float = 30.0
    # One query of the amphora's rows, where a listener's stats load the listener and each
    # row's amphora through the ORM.
    amphora_stats_ms: float = 6.5
    list_base_ms: float = 10.0
    list_item_ms: float = 0.55
    other_ms: float = 15.0

    def seconds(self, kind: str, items: int = 0) -> float:
        if kind == "status":
            ms = self.status_ms
        elif kind == "stats":
            ms = self.stats_ms
        elif kind == "amphora_stats":
            ms = self.amphora_stats_ms
        elif kind == "list":
            ms = self.list_base_ms + self.list_item_ms * max(0, items)
        else:
            ms = self.other_ms
        return ms / 1000.0


SERVICE_KEYS = tuple(f.name for f in fields(ServiceTimes))


@dataclass
class CapacityStats:
    served: Counter[str]
    wait_seconds: float = 0.0
    max_wait_seconds: float = 0.0
    busy_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        total = sum(self.served.values())
        return {
            "served": dict(sorted(self.served.items())),
            "total": total,
            "mean_wait_ms": round(1000 * self.wait_seconds / total, 3) if total else 0.0,
            "max_wait_ms": round(1000 * self.max_wait_seconds, 3),
            "busy_seconds": round(self.busy_seconds, 3),
        }


class Capacity:
    """``workers`` service slots in front of an API, with a FIFO queue.

    ``clock`` and ``sleep`` default to the event loop's monotonic time and ``asyncio.sleep``;
    tests pass their own. ``jitter`` (0..1) spreads each service time uniformly over
    ``(1 ± jitter)`` times its nominal value, from an RNG seeded with ``seed``.
    """

    def __init__(self, workers: int = 0, times: ServiceTimes | None = None, *,
                 jitter: float = 0.0, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.times = times or ServiceTimes()
        self.workers = 0
        self.jitter = 0.0
        self._rng = random.Random(seed)
        self._clock = clock
        self._sleep = sleep
        self._free: list[float] = []  # when each slot is next free (a heap)
        self.in_system = 0            # requests waiting or being served right now
        self.stats = CapacityStats(Counter())
        self.configure(workers=workers, jitter=jitter)

    @property
    def enabled(self) -> bool:
        return self.workers > 0

    def configure(self, *, workers: int | None = None, jitter: float | None = None,
                  **service_ms: float) -> None:
        """Change the model; unknown keys and bad values raise ValueError naming the key."""
        unknown = set(service_ms) - set(SERVICE_KEYS)
        if unknown:
            raise ValueError(f"unknown capacity key(s): {', '.join(sorted(unknown))}; "
                             f"known: workers, jitter, {', '.join(SERVICE_KEYS)}")
        for key, value in service_ms.items():
            if float(value) < 0:
                raise ValueError(f"capacity {key} must be >= 0, not {value!r}")
        if workers is not None and (isinstance(workers, bool) or int(workers) != workers
                                    or int(workers) < 0):
            raise ValueError(f"capacity workers must be an integer >= 0, not {workers!r}")
        if jitter is not None and not 0.0 <= float(jitter) < 1.0:
            raise ValueError(f"capacity jitter must be within 0..1 (exclusive), not {jitter!r}")
        if service_ms:
            self.times = replace(self.times, **{k: float(v) for k, v in service_ms.items()})
        if jitter is not None:
            self.jitter = float(jitter)
        if workers is not None and int(workers) != self.workers:
            # Requests already admitted keep their slots' times; new slots are free from now.
            self.workers = int(workers)
            now = self._clock()
            self._free = [now] * self.workers
            heapq.heapify(self._free)

    def service_seconds(self, kind: str, items: int = 0) -> float:
        base = self.times.seconds(kind, items)
        if self.jitter:
            base *= self._rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return base

    def reserve(self, now: float, service: float, kind: str = "other") -> tuple[float, float]:
        """Admit a request arriving at ``now`` needing ``service`` seconds: (start, finish).

        It takes the slot that frees first; arrival order is service order.
        """
        if not self.enabled:
            return now, now
        free = heapq.heappop(self._free)
        start = max(now, free)
        finish = start + service
        heapq.heappush(self._free, finish)
        wait = start - now
        self.stats.served[kind] += 1
        self.stats.wait_seconds += wait
        self.stats.max_wait_seconds = max(self.stats.max_wait_seconds, wait)
        self.stats.busy_seconds += service
        return start, finish

    async def hold(self, kind: str, items: int = 0) -> float:
        """Delay the current request by its queueing and service time; returns that delay."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        _, finish = self.reserve(now, self.service_seconds(kind, items), kind)
        self.in_system += 1
        try:
            await self._sleep(finish - now)
        finally:
            self.in_system -= 1
        return finish - now

    def reset_stats(self) -> None:
        self.stats = CapacityStats(Counter())

    def config_json(self) -> dict[str, Any]:
        return {"workers": self.workers, "jitter": self.jitter, **asdict(self.times)}

    def to_json(self) -> dict[str, Any]:
        return {**self.config_json(), "in_system": self.in_system, **self.stats.to_json()}
