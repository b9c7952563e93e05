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


class Pacer:
    def __init__(self, share: float = 1.0, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """`share` 1: pages back to back (still one at a time)."""
        self.share = share
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = asyncio.Lock()
        # Seconds our pages held the API, for the reconciliation's log line and tests.
        self.busy = 0.0

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[None]:
        async with self._lock:
            started = self._monotonic()
            yield
            took = max(0.0, self._monotonic() - started)
            self.busy += took
            if self.share < 1.0:
                # Held under the lock: the next page of any list waits out the gap too.
                await self._sleep(took * (1.0 / self.share - 1.0))
