"""Faults switchable at run time, and the per-endpoint request counter.

A fault applies to requests whose endpoint template (or concrete path) matches its ``endpoint``
pattern (fnmatch; ``loadbalancers/*/status`` matches ``/v2/lbaas/loadbalancers/{id}/status``,
``floatingips`` matches Neutron's ``/v2.0/floatingips``). ``service`` is ``octavia`` (default),
``keystone``, ``neutron`` or ``any``.
Kinds:
- ``latency``: sleep ``latency_ms`` + uniform(0, ``jitter_ms``) before answering (they add up);
- ``error``: answer ``status`` (500/502/503...) with an optional ``Retry-After``;
- ``hang``: never answer, until the fault set changes or the simulator stops;
- ``reset``: abort the TCP connection without answering;
- ``malformed``: 200 with a body that is not JSON;
- ``truncate``: the real answer, cut in half (still 200);
- ``bad_objects``: the real answer, still JSON, with objects nobody can use: each list gets a
  string and an id-less object appended, each object becomes a string (links kept);
- ``revoke_tokens``: revoke every token, then answer normally (so: 401);
- ``sort_refused``: an Octavia list asked for ``sort=``/``sort_key=`` answers 400, "Supplied
  sort key '...' is not valid." (what a release or a policy without the key says); lists
  without a sort are untouched;
- ``unordered``: an Octavia list asked for a sort answers in the table's order, as Octavia
  does with ``[api_settings] allow_sorting = False`` (the marker still cuts on the keys asked).
The last two shape the list itself, so the list code applies them (``list_faults``), not the
middleware; a hit is counted only where one applies.
``rate`` is the probability a matching request is hit (1.0 and 0.0 are deterministic; other
rates draw from a seeded RNG). ``times`` bounds how many requests a fault hits.
"""

from __future__ import annotations

import asyncio
import contextvars
import fnmatch
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("latency", "error", "hang", "reset", "malformed", "truncate", "revoke_tokens",
               "bad_objects", "sort_refused", "unordered")
LIST_KINDS = ("sort_refused", "unordered")
# The list-shaping faults of the request being served: decide() runs in the request's own task,
# before the handler, so the handler's list code reads what was decided for it.
_LIST_FAULTS: contextvars.ContextVar[tuple[Fault, ...]] = contextvars.ContextVar(
    "sim_list_faults", default=())
SERVICES = ("octavia", "keystone", "neutron", "any")


@dataclass
class Fault:
    kind: str
    endpoint: str = "*"
    rate: float = 1.0
    service: str = "octavia"
    method: str | None = None
    region: str | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    status: int = 503
    retry_after: float | None = None
    times: int | None = None
    hits: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        known = {f for f in cls.__dataclass_fields__ if f != "hits"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = cls(**data)
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {FAULT_KINDS}")
        if fault.service not in SERVICES:
            raise ValueError(f"unknown service {fault.service!r}; one of {SERVICES}")
        if not 0.0 <= float(fault.rate) <= 1.0:
            raise ValueError("rate must be within 0..1")
        if fault.kind == "error" and not 400 <= int(fault.status) <= 599:
            raise ValueError("status must be an HTTP error status")
        return fault

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, service: str, method: str, template: str, path: str,
                region: str | None) -> bool:
        if self.service != "any" and self.service != service:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.region is not None and region is not None and self.region != region:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        pattern = self.endpoint
        candidates = (template, template.lstrip("/"), _short(template), path, path.lstrip("/"),
                      _short(path))
        return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def _short(template: str) -> str:
    for prefix in ("/v2/lbaas/", "/v2.0/lbaas/", "/v2/octavia/", "/v2.0/octavia/", "/v2/",
                   "/v2.0/", "/v3/", "/"):
        if template.startswith(prefix):
            return template[len(prefix):]
    return template


@dataclass
class Decision:
    """What the faults say about one request."""

    delay: float = 0.0
    fault: Fault | None = None


@dataclass
class FaultSet:
    """The current faults, a seeded RNG for partial rates, and waiters of hanging requests."""

    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    rng: random.Random = field(init=False)
    hanging: int = field(default=0, init=False)
    _release: asyncio.Event | None = field(default=None, init=False)
    _hang_entered: asyncio.Event | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def replace(self, faults: list[Fault]) -> None:
        self.faults = list(faults)
        self.release_hangs()

    def clear(self) -> None:
        self.replace([])

    def release_hangs(self) -> None:
        if self._release is not None:
            self._release.set()
            self._release = None

    async def hang(self) -> None:
        """Wait until the fault set changes (or the simulator stops)."""
        if self._release is None:
            self._release = asyncio.Event()
        release = self._release
        self.hanging += 1
        if self._hang_entered is not None:
            self._hang_entered.set()
        try:
            await release.wait()
        finally:
            self.hanging -= 1

    async def wait_hanging(self) -> None:
        """Return once at least one request is hanging (for tests: no sleeps needed)."""
        while self.hanging == 0:
            self._hang_entered = asyncio.Event()
            await self._hang_entered.wait()

    def _fires(self, fault: Fault) -> bool:
        if fault.rate >= 1.0:
            return True
        if fault.rate <= 0.0:
            return False
        return self.rng.random() < fault.rate

    def decide(self, service: str, method: str, template: str, path: str,
               region: str | None) -> Decision:
        decision = Decision()
        shaping: list[Fault] = []
        for fault in self.faults:
            if not fault.matches(service, method, template, path, region):
                continue
            if fault.kind in LIST_KINDS:
                if self._fires(fault):
                    shaping.append(fault)
                continue
            if fault.kind == "latency":
                if self._fires(fault):
                    fault.hits += 1
                    jitter = self.rng.uniform(0.0, fault.jitter_ms) if fault.jitter_ms else 0.0
                    decision.delay += (fault.latency_ms + jitter) / 1000.0
                continue
            if decision.fault is None and self._fires(fault):
                fault.hits += 1
                decision.fault = fault
        _LIST_FAULTS.set(tuple(shaping))
        return decision


def list_faults() -> tuple[Fault, ...]:
    """The ``sort_refused`` / ``unordered`` faults decided for the request being served."""
    return _LIST_FAULTS.get()


class RequestCounter:
    """Requests served, per (service, region, method, endpoint template, status)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str, int]] = Counter()

    def add(self, service: str, region: str, method: str, template: str, status: int) -> None:
        self.counts[(service, region, method, template, status)] += 1

    def reset(self) -> None:
        self.counts.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"service": s, "region": r, "method": m, "endpoint": t, "status": st, "count": n}
            for (s, r, m, t, st), n in sorted(self.counts.items())
        ]

    def total(self) -> int:
        return sum(self.counts.values())
