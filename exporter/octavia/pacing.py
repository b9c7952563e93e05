"""One list page of ours at a time, with a gap after each so the lists hold the API at most a
given share of the time.

On a one-worker Octavia another client's request that arrives while one of our pages is being
served waits for it: pages one at a time (small ones: --page-size) bound that wait to one page,
and the gaps leave the API to everyone else for the rest of the time. Tier-2 requests are not
paced here; the limiter's rate budget governs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

# About how long one page of ours should hold the API (another client's request that meets it
# is slowed by it); page sizes follow from what the API took to answer the last page of the
# same list. Smaller pages slow another client less each, but every request carries a fixed
# cost: at 0.12 s a 5,000-LB start-up cost the API three times the time (104 s against 33 s),
# and another client's p95 over the run was worse, not better (docs/benchmarks.md,
# "Freshness").
PAGE_SECONDS = 0.25
MIN_PAGE, MAX_PAGE = 20, 1000


class Pacer:
    def __init__(self, share: float = 1.0, *, page_seconds: float | None = PAGE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """`share` 1: pages back to back (still one at a time). `page_seconds`: size each
        next page of a list so it takes about this long (None: keep the page size)."""
        self.share = share
        self.page_seconds = page_seconds
        self.last_took = 0.0
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._running = asyncio.Event()
        self._running.set()
        # Seconds our pages held the API, for the reconciliation's log line and tests.
        self.busy = 0.0

    def pause(self) -> None:
        """No next page until resume() (the page under way finishes, and its gap)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[None]:
        await self._running.wait()
        async with self._lock:
            started = self._monotonic()
            yield
            took = max(0.0, self._monotonic() - started)
            self.last_took = took
            self.busy += took
            if self.share < 1.0:
                # Held under the lock: the next page of any list waits out the gap too.
                await self._sleep(took * (1.0 / self.share - 1.0))

    def next_size(self, rows: int, size: int, took: float | None = None) -> int:
        """The limit= of a list's next page, after a page of `rows` rows (asked: `size`) took
        the API `took` seconds (default `last_took`, which counts the wait for the rate budget
        too): as many rows as page_seconds holds at that pace, within bounds, and never more
        than twice the last (a quick page of few rows says little)."""
        took = self.last_took if took is None else took
        if self.page_seconds is None or rows <= 0 or took <= 0:
            return size
        fitting = int(rows * self.page_seconds / took)
        return max(MIN_PAGE, min(MAX_PAGE, 2 * size, fitting))

