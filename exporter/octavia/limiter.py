"""The per-cloud API budget: a token bucket for --api-max-rate and an adaptive concurrency limit.

A real Octavia API serves a fixed number of requests per second whatever the number in flight
(one worker process is bound by its GIL), so requests beyond its parallelism only queue there,
in front of every other client. The limit therefore starts at one request in flight and grows
only while latency stays near the baseline it has seen, as TCP Vegas and Netflix's
concurrency-limits do; it shrinks when latency grows, and at once on 429, 503 or a timeout, and
a Retry-After pauses every request of the cloud. The token bucket caps the rate on top of that.

Tier-1 requests (the bulk lists every operator relies on) are admitted before any waiting tier-2
request (per-load-balancer detail), so thousands of queued detail calls never delay the lists.
The tier is a context variable, so the caller marks a whole task once instead of threading a
parameter through every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

TIER1 = 0
TIER2 = 1
TIER: ContextVar[int] = ContextVar("octavia_api_tier", default=TIER1)

# Outcomes the client reports; the last three shrink the limit.
OK, ERROR, RATE_LIMITED, UNAVAILABLE, TIMEOUT = "ok", "error", "429", "503", "timeout"
EPSILON = 1e-9
OVERLOAD_REASONS = {RATE_LIMITED: "429", UNAVAILABLE: "503", TIMEOUT: "timeout"}


@contextlib.contextmanager
def tier(level: int) -> Iterator[None]:
    """Mark every request made in this context (and tasks created in it) as `level`."""
    token = TIER.set(level)
    try:
        yield
    finally:
        TIER.reset(token)


# The bucket saves up to this many seconds' worth of tokens: a few quick requests after a long
# one (the small lists after a page of 1,000) need not wait a tenth of a second each, which cost
# a sixth of tier 1 at 1,000 load balancers; and any 10-second window still holds at most
# 10.4 x the rate (issue 11 allows 10.5 x).
BURST_SECONDS = 0.4


def budget(rate: float, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
    """The token bucket of --api-max-rate `rate`."""
    return TokenBucket(rate, burst=BURST_SECONDS * rate, clock=clock)


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; rate 0 means no limit.

    A burst of one keeps any window of T seconds to at most rate*T + 1 requests."""

    def __init__(self, rate: float, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()

    def ready(self) -> bool:
        """Whether take() would succeed now (takes nothing)."""
        if self.rate <= 0:
            return True
        now = self._clock()
        return min(self.burst, self._tokens + (now - self._stamp) * self.rate) >= 1.0 - EPSILON

    def take(self) -> float:
        """Take a token and return 0, or return the seconds until one will be there."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        # Within rounding of a whole token counts as one: a caller that slept exactly the
        # returned wait must get its token, not another wait of 1e-17 s.
        if self._tokens >= 1.0 - EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class _Baseline:
    """An endpoint's latency with none of our own requests beside it: the lowest over the last
    two windows of such solo samples. It forgets, so a permanently slower API becomes the new
    normal once the limit has shrunk to one; and it learns only from solo requests, because
    requests that queue behind our own would raise it step by step as the limit grows (the
    drift of a plain minimum over all samples)."""

    WINDOW = 200

    def __init__(self) -> None:
        self.current = math.inf
        self.previous = math.inf
        self.count = 0
        # Until a solo sample arrives: the lowest latency seen at all, an upper bound.
        self.provisional = math.inf

    @property
    def known(self) -> bool:
        return min(self.current, self.previous) < math.inf

    @property
    def value(self) -> float:
        return min(self.current, self.previous, self.provisional)

    def add(self, latency: float) -> None:
        self.current = min(self.current, latency)
        self.count += 1
        if self.count >= self.WINDOW:
            self.previous, self.current, self.count = self.current, math.inf, 0


class AdaptiveLimit:
    """How many requests may be in flight: additive increase while latency is near the
    baseline and the limit is actually used, multiplicative decrease on latency growth or
    overload answers. Pure (no clock, no I/O), so its rules are unit-tested directly."""

    TOLERANCE = 2.0   # mean latency / baseline above this: the API is queueing our requests
    GROW_BELOW = 1.5  # below this, and the limit was the bottleneck: try one more
    BACKOFF = 0.5     # on 429 / 503 / timeout
    SHRINK = 0.75     # on latency growth

    def __init__(self, ceiling: int, initial: int = 1, adaptive: bool = True) -> None:
        self.ceiling = max(1, ceiling)
        self.adaptive = adaptive
        self.limit = min(self.ceiling, max(1, initial)) if adaptive else self.ceiling
        self._baselines: dict[str, _Baseline] = {}
        self._ratios: list[float] = []
        self._saturated = False
        self._blind = False
        # Requests started before the last decrease answered under the old limit: their
        # overload answers are the same event, not a new one.
        self.generation = 0

    def saturated(self) -> None:
        """A request had to wait for a free slot: the limit, not the caller, was the cap."""
        self._saturated = True

    def on_latency(self, endpoint: str, latency: float, alone: bool = True) -> str | None:
        """Record a successful request's latency (`alone`: none of ours ran beside it); return
        "latency" when the limit shrank."""
        if not self.adaptive:
            return None
        tracker = self._baselines.get(endpoint)
        if tracker is None:
            tracker = self._baselines[endpoint] = _Baseline()
        if alone:
            tracker.add(latency)
        elif not tracker.known:
            tracker.provisional = min(tracker.provisional, latency)
            self._blind = True
        baseline = tracker.value
        self._ratios.append(latency / baseline if baseline > 0 else 1.0)
        if len(self._ratios) < max(8, 2 * self.limit):
            return None
        ratio = sum(min(r, 10.0) for r in self._ratios) / len(self._ratios)
        saturated, self._ratios, self._saturated = self._saturated, [], False
        blind, self._blind = self._blind, False
        if ratio > self.TOLERANCE and self.limit > 1:
            self._set(max(1, math.floor(self.limit * self.SHRINK)))
            return "latency"
        if blind:
            # Never seen alone, so its true latency is unknown (a limit set high from the start
            # queues every request): step down until one runs alone, and never grow blind.
            # A probe, not congestion.
            if self.limit > 1:
                self._set(self.limit - 1)
            return None
        if ratio < self.GROW_BELOW and saturated and self.limit < self.ceiling:
            self.limit += 1
        return None

    def on_overload(self, outcome: str, generation: int) -> str | None:
        """A 429, 503 or timeout; return its reason when the limit shrank."""
        if not self.adaptive or generation != self.generation:
            return None
        reason = OVERLOAD_REASONS[outcome]
        self._set(max(1, math.floor(self.limit * self.BACKOFF)))
        return reason

    def _set(self, limit: int) -> None:
        self.limit = limit
        self.generation += 1
        self._ratios = []
        self._saturated = False


@dataclass(slots=True)
class Ticket:
    tier: int
    generation: int
    alone: bool = False  # no other request of ours in flight when it was admitted


class Limiter:
    """Admits requests of one cloud under the rate, the adaptive limit and any Retry-After
    pause; tier 1 first. `on_decrease(reason)` is called whenever the limit shrinks."""

    def __init__(self, *, rate: float = 0.0, ceiling: int = 4, adaptive: bool = True,
                 initial: int = 1, on_decrease: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(0.0, rate)
        self._bucket = budget(self.rate, clock=clock)
        self._limit = AdaptiveLimit(ceiling, initial, adaptive)
        self._clock = clock
        self._on_decrease = on_decrease
        self._waiting: tuple[deque[asyncio.Future[Ticket]], ...] = (deque(), deque())
        self._paused_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.in_flight = 0

    @property
    def limit(self) -> int:
        return self._limit.limit

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting)

    async def acquire(self) -> Ticket:
        level = TIER.get()
        if (self.in_flight < self._limit.limit and not (self._waiting[0] or self._waiting[1])
                and self._paused_until <= self._clock() and self._bucket.take() == 0.0):
            # Nobody waiting and room now: admitted without a future and a dispatch round,
            # as most requests are when the rate is the only bound.
            return self._admit(level)
        future: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiting[level].append(future)
        self._dispatch()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.in_flight -= 1  # granted just as we were cancelled: give the slot back
                self._dispatch()
            else:
                with contextlib.suppress(ValueError):
                    self._waiting[level].remove(future)
            raise

    def release(self, ticket: Ticket, outcome: str, latency: float, endpoint: str = "",
                retry_after: float | None = None) -> None:
        """The request is over: `outcome` is OK, ERROR, RATE_LIMITED, UNAVAILABLE or TIMEOUT."""
        alone = ticket.alone and self.in_flight == 1
        self.in_flight -= 1
        reason: str | None = None
        if outcome in OVERLOAD_REASONS:
            reason = self._limit.on_overload(outcome, ticket.generation)
        elif outcome == OK and ticket.tier == TIER2:
            # Only per-object calls inform the latency baseline: bulk-list pages differ in size
            # (a last, short page would make the next full one look like congestion).
            reason = self._limit.on_latency(endpoint, latency, alone)
        if reason is not None and self._on_decrease is not None:
            self._on_decrease(reason)
        if retry_after is not None and retry_after > 0:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
        self._dispatch()

    def _head(self) -> asyncio.Future[Ticket] | None:
        for queue in self._waiting:
            while queue and queue[0].done():  # cancelled while waiting
                queue.popleft()
            if queue:
                return queue[0]
        return None

    def _dispatch(self) -> None:
        if not (self._waiting[0] or self._waiting[1]):
            return  # the common case: nobody waits
        while (future := self._head()) is not None:
            wait = self._paused_until - self._clock()
            if wait > 0:
                self._wake_in(wait)
                return
            if self.in_flight >= self._limit.limit:
                if self._bucket.ready():
                    # Only the limit held this request back, not the rate: a reason to grow.
                    self._limit.saturated()
                return
            wait = self._bucket.take()
            if wait > 0:
                self._wake_in(wait)
                return
            level = 0 if self._waiting[0] and self._waiting[0][0] is future else 1
            self._waiting[level].popleft()
            future.set_result(self._admit(level))

    def _admit(self, level: int) -> Ticket:
        """A slot for a request of `level` (its token already taken)."""
        self.in_flight += 1
        return Ticket(level, self._limit.generation, self.in_flight == 1)

    def _wake_in(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._woken)

    def _woken(self) -> None:
        self._timer = None
        self._dispatch()
