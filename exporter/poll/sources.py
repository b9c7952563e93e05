"""What tier 1 reads from: the bulk lists and the changes feed, as the loop sees them (the
tests pass fakes of both)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from exporter.model.parts import Delta, Inventory
from exporter.model.snapshot import FleetSnapshot, FloatingIP


class FullLists(Protocol):
    """The bulk lists (octavia.lists.ListReader)."""

    @property
    def unanswered(self) -> dict[str, str]:
        """The lists of the read started last not answered yet, endpoint -> URL."""

    async def read(self, previous: FleetSnapshot | None, pace: Any = None,
                   loadbalancers_first: Callable[[FleetSnapshot], None] | None = None,
                   ) -> FleetSnapshot: ...

    async def inventory(self, snapshot: FleetSnapshot) -> Inventory: ...

    async def floating_ips(self, snapshot: FleetSnapshot) -> dict[str, FloatingIP]: ...


class Feed(Protocol):
    """One round of the changes feed (octavia.changes.ChangeReader)."""

    unanswered: dict[str, str]

    async def read(self, since: dict[str, float], snapshot: FleetSnapshot) -> Delta: ...
