"""Load balancers in PENDING_DELETE, read again by id until one answers 404.

A deleted row leaves the lists and the changes feed without a trace, so tier 1 cannot see a
deletion finish: it asks for a refresh instead, at once and then at gaps of 2, 4, 8 … rounds
up to `DELETING_EVERY`, so a load balancer stuck in PENDING_DELETE costs little.
"""

from __future__ import annotations

from collections.abc import Iterable

DELETING = "PENDING_DELETE"
DELETING_EVERY = 16


class DeletionWatch:
    def __init__(self, every: int = DELETING_EVERY) -> None:
        self._every = every
        self._round = 0
        # Load balancer id -> (round of its next read, rounds between its reads).
        self._due: dict[str, tuple[int, int]] = {}

    def due(self, deleting: Iterable[str]) -> list[str]:
        """One more round: of the load balancers in PENDING_DELETE now, those to read again."""
        self._round += 1
        now = set(deleting)
        for lb_id in [k for k in self._due if k not in now]:
            del self._due[lb_id]
        ask: list[str] = []
        for lb_id in now:
            due, step = self._due.get(lb_id, (self._round, 1))
            if self._round >= due:
                ask.append(lb_id)
                step = min(2 * step, self._every)
                due = self._round + step
            self._due[lb_id] = (due, step)
        return ask
