"""The changes feed: the rows of one list that changed since the last read, newest first.

Every write of an Octavia row moves its `updated_at` (oslo.db's TimestampMixin, `onupdate`): the
API's changes, the worker's provisioning transitions, and the health manager's operating-status
writes (which happen only when a status changes). The list API sorts on any column with marker
pagination, so `sort=updated_at:desc` in small pages, read until a row is older than the last
read's newest row minus an overlap, returns every row written since, for a few tens of
milliseconds a kind whatever the fleet's size.

What the feed cannot see, and who does:
  created, never updated   `updated_at` stays NULL (sorted last): new load balancers come from
                           a `created_at:desc` page (`created`), their children from the
                           load balancer's own ids (the scheduler refreshes its subtree);
  deleted                  deleted rows are not listed: a load balancer shows PENDING_DELETE in
                           the feed and then answers 404; a child leaves its parent's ids;
  everything else          the reconciliation lists (the full lists, paced) correct it, and
                           count what they corrected.

The overlap covers the clock skew between the hosts that write (API, worker, health manager)
and rows committed out of order; rows re-read inside it are unchanged and cost nothing. Once
the watermark is older than twice the overlap by our clock, every row up to it has long been
committed and read: the read then stops at the watermark itself, so a fleet whose rows share
one timestamp (a bulk import) is not re-read every round.
An API that refuses the sort (400) or ignores it (rows out of order) raises FeedUnusable, and
the scheduler falls back to reading the full lists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from exporter.octavia import parse
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError

# Seconds below the last watermark that each read goes back: controller clocks are NTP-synced
# to well under a second; commit order can put a row written a moment earlier after the read.
OVERLAP = 5.0
# Rows one read takes at most before it gives up and asks for a reconciliation (a mass update,
# or a long outage): beyond this the full lists are as cheap.
MAX_ROWS = 5_000


class FeedUnusable(Exception):
    """The API does not sort the list by `updated_at`: refused (`refused`) or ignored
    (`unordered`)."""

    def __init__(self, reason: str, endpoint: str, url: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.endpoint = endpoint
        self.url = url


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """One list the feed follows."""

    endpoint: str
    path: str
    collection: str
    fields: tuple[str, ...]


@dataclasses.dataclass(slots=True)
class Changes:
    """What one read of one list found: its raw rows, newest first, and the newest
    `updated_at` among them (None: no row has been updated yet)."""

    rows: list[Any] = dataclasses.field(default_factory=list)
    newest: float | None = None
    # False when MAX_ROWS ended the read before the watermark: rows are missing.
    complete: bool = True
    pages: int = 0


async def read(client: OctaviaClient, source: Source, since: float | None, *,
               page_size: int, key: str = "updated_at", overlap: float = OVERLAP,
               max_rows: int = MAX_ROWS,
               pace: Callable[[], AbstractAsyncContextManager[None]] | None = None,
               now: float | None = None) -> Changes:
    """The rows of `source` whose `key` is at or after `since - overlap`, newest first; only
    those after `since` when `since` is settled (older than `now - 2 x overlap`). `since`
    None: only the first page (the newest rows), to learn where the list stands. Raises
    FeedUnusable, or ApiError for anything else the API does."""
    found = Changes()
    settled = since is not None and now is not None and since < now - 2 * overlap
    floor = None if since is None else since if settled else since - overlap
    previous: list[float] = []
    url = ""

    def on_page(page: list[Any]) -> bool:
        found.pages += 1
        for row in page:
            stamp = parse.timestamp(row.get(key)) if parse.is_mapping(row) else None
            if stamp is None:
                return False  # NULLs sort last: nothing after this was ever written
            if previous and stamp > previous[0] + 1e-6:
                raise FeedUnusable("unordered", source.endpoint, url,
                                   f"{source.collection} sorted by {key}:desc came back out "
                                   "of order: the API ignores sort=")
            previous[:] = [stamp]
            if floor is not None and (stamp <= floor if settled else stamp < floor):
                return False
            found.rows.append(row)
            if found.newest is None:
                found.newest = stamp
            if len(found.rows) >= max_rows:
                found.complete = False
                return False
        return since is not None

    url = await client.url(source.endpoint, source.path)
    try:
        await client.list_all(source.endpoint, source.path, source.collection, source.fields,
                              page_size, on_page=on_page, query=(("sort", f"{key}:desc"),),
                              pace=pace)
    except ApiError as exc:
        if exc.status == 400:
            raise FeedUnusable("refused", source.endpoint, exc.url or url,
                               f"{source.collection}: the API refused sort={key}:desc "
                               f"({exc})") from exc
        raise
    return found
