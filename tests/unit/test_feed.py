"""The changes feed and its merge: watermark and overlap, pages newer than the watermark, NULL
updated_at, deletions, the fallback, and tier-2 priority after a change."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from exporter.model import plan
from exporter.model.capabilities import Capabilities
from exporter.model.parts import Delta
from exporter.model.snapshot import FleetSnapshot, Listener, LoadBalancer, Pool
from exporter.octavia import feed
from exporter.octavia.changes import ChangeReader
from exporter.octavia.errors import ApiError
from exporter.poll.observe import Observer
from exporter.poll.state import FleetState
from exporter.telemetry import Telemetry

SOURCE = feed.Source("loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers", ("id",))


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Api:
    """A list API that sorts and pages as Octavia does (NULLs last under desc), or refuses or
    ignores the sort; it records every page it served."""

    def __init__(self, rows: list[dict[str, Any]], *, refuse: bool = False,
                 ignore_sort: bool = False) -> None:
        self.rows = rows
        self.refuse = refuse
        self.ignore_sort = ignore_sort
        self.pages: list[tuple[str, int]] = []
        self.cloud = "test"

    async def url(self, endpoint: str, path: str, service: str = "load-balancer") -> str:
        return f"http://127.0.0.1/{path}"

    async def list_all(self, endpoint: str, path: str, collection: str, fields: Any = (),
                       page_size: int | None = None,
                       on_page: Callable[[list[Any]], bool | None] | None = None,
                       query: Any = (), **kwargs: Any) -> list[Any]:
        sort = dict(query).get("sort", "")
        if sort and self.refuse:
            raise ApiError(endpoint, "client_error", "HTTP 400", status=400,
                           url=f"http://127.0.0.1/{path}")
        key = sort.split(":")[0]
        rows = list(self.rows) if endpoint == "loadbalancers" else []
        if key and not self.ignore_sort:
            rows.sort(key=lambda r: (r.get(key) is not None, r.get(key) or "", r["id"]),
                      reverse=True)
        size = page_size or 1000
        for start in range(0, len(rows), size):
            page = rows[start:start + size]
            self.pages.append((sort, len(page)))
            assert on_page is not None
            if on_page(page) is False or len(page) < size:
                break
        return []


def lb_row(lb_id: str, updated: float | None, status: str = "ONLINE", **extra: Any,
           ) -> dict[str, Any]:
    return {"id": lb_id, "name": lb_id, "project_id": "p", "provisioning_status": "ACTIVE",
            "operating_status": status, "admin_state_up": True, "listeners": [], "pools": [],
            "created_at": stamp(1000.0),
            "updated_at": None if updated is None else stamp(updated), **extra}


async def test_reads_back_to_the_watermark_minus_the_overlap_and_no_further() -> None:
    rows = [lb_row(f"lb{i}", 2000.0 + i) for i in range(30)]
    api = Api(rows)
    found = await feed.read(api, SOURCE, 2020.0, page_size=4, overlap=5.0)  # type: ignore[arg-type]
    # 2015 .. 2029 are at or after 2020 - 5; the page that showed 2014 was the last read.
    assert [r["id"] for r in found.rows] == [f"lb{i}" for i in range(29, 14, -1)]
    assert found.newest == 2029.0
    assert api.pages == [("updated_at:desc", 4)] * 4


async def test_a_page_entirely_newer_than_the_watermark_reads_the_next() -> None:
    rows = [lb_row(f"lb{i}", 3000.0 + i) for i in range(10)]
    api = Api(rows)
    found = await feed.read(api, SOURCE, 3001.0, page_size=3, overlap=0.0)  # type: ignore[arg-type]
    assert len(found.rows) == 9  # every row from 3001 on, across three full pages and one more
    assert len(api.pages) == 4


async def test_null_updated_at_sorts_last_and_ends_the_read() -> None:
    rows = [lb_row("new", None), lb_row("old", 10.0), lb_row("fresh", 5000.0)]
    api = Api(rows)
    found = await feed.read(api, SOURCE, 0.0, page_size=10)  # type: ignore[arg-type]
    # "new" was never updated: the created_at read (ChangeReader) is what finds it.
    assert [r["id"] for r in found.rows] == ["fresh", "old"]


async def test_a_settled_watermark_is_not_read_again() -> None:
    # A bulk import: every row has the same timestamp, long before now.
    api = Api([lb_row(f"lb{i}", 100.0) for i in range(10)] + [lb_row("new", 500.0)])
    found = await feed.read(api, SOURCE, 100.0, page_size=3, now=1000.0)  # type: ignore[arg-type]
    assert [r["id"] for r in found.rows] == ["new"] and len(api.pages) == 1
    # The same watermark a moment after it was written is read back over the overlap.
    again = await feed.read(api, SOURCE, 100.0, page_size=3, now=101.0)  # type: ignore[arg-type]
    assert len(again.rows) == 11


async def test_without_a_watermark_one_page_says_where_the_list_stands() -> None:
    api = Api([lb_row(f"lb{i}", 100.0 + i) for i in range(10)])
    found = await feed.read(api, SOURCE, None, page_size=3)  # type: ignore[arg-type]
    assert found.newest == 109.0 and len(api.pages) == 1


async def test_more_rows_than_a_round_reads_asks_for_a_reconciliation() -> None:
    api = Api([lb_row(f"lb{i}", 100.0 + i) for i in range(10)])
    found = await feed.read(api, SOURCE, 0.0, page_size=3, max_rows=5)  # type: ignore[arg-type]
    assert not found.complete and len(found.rows) == 5


@pytest.mark.parametrize(("api", "reason"), [
    (Api([lb_row("a", 1.0)], refuse=True), "refused"),
    (Api([lb_row("a", 1.0), lb_row("b", 9.0)], ignore_sort=True), "unordered"),
])
async def test_an_api_that_refuses_or_ignores_the_sort_is_unusable(api: Api, reason: str) -> None:
    with pytest.raises(feed.FeedUnusable) as raised:
        await feed.read(api, SOURCE, 0.0, page_size=10)  # type: ignore[arg-type]
    assert raised.value.reason == reason
    assert raised.value.url.startswith("http://127.0.0.1/")


def fleet() -> FleetSnapshot:
    lb = LoadBalancer("lb1", "lb1", "p", "ACTIVE", "ONLINE", True, listener_ids=("l1", "l2"),
                      pool_ids=("p1",))
    other = LoadBalancer("lb2", "lb2", "p", "ACTIVE", "ONLINE", True)
    return FleetSnapshot(
        cloud="test", taken_at=0.0, loadbalancers={"lb1": lb, "lb2": other},
        listeners={x: Listener(x, x, "p", "lb1", "ACTIVE", "ONLINE", True)
                   for x in ("l1", "l2")},
        pools={"p1": Pool("p1", "p1", "p", "lb1", "ACTIVE", "ONLINE", True,
                          listener_ids=("l1",))})


def state_of(snapshot: FleetSnapshot) -> FleetState:
    state = FleetState(plan.Rules(), Observer(Telemetry(), "test", Capabilities()))
    state.install(snapshot, 0.0, lambda s: s)
    return state


def test_a_change_puts_its_load_balancer_first_and_only_it() -> None:
    state = state_of(fleet())
    before = state.snapshot
    assert before is not None
    degraded = dataclasses.replace(before.pools["p1"], operating_status="DEGRADED")
    planned, incomplete = state.apply(Delta(pools={"p1": degraded}), 10.0)
    assert [work.loadbalancer_id for _, work in planned] == ["lb1"]
    assert planned[0][0] == (plan.CHANGED, 10.0)  # ahead of any backlog, in the feed's order
    assert state.snapshot is not None
    assert state.snapshot.pools["p1"].operating_status == "DEGRADED"
    assert state.snapshot.loadbalancers["lb2"] is before.loadbalancers["lb2"]
    assert not incomplete


def test_a_child_its_parent_no_longer_lists_is_deleted() -> None:
    state = state_of(fleet())
    assert state.snapshot is not None
    lb = dataclasses.replace(state.snapshot.loadbalancers["lb1"], listener_ids=("l1",),
                             operating_status="DEGRADED")
    state.apply(Delta(loadbalancers={"lb1": lb}), 10.0)
    assert set(state.snapshot.listeners) == {"l1"}


def test_a_parent_that_lists_an_unknown_child_asks_for_its_subtree() -> None:
    state = state_of(fleet())
    assert state.snapshot is not None
    lb = dataclasses.replace(state.snapshot.loadbalancers["lb1"],
                             listener_ids=("l1", "l2", "l3"))
    new = LoadBalancer("lb3", "lb3", "p", "PENDING_CREATE", "OFFLINE", True,
                       listener_ids=("x",))
    _, incomplete = state.apply(Delta(loadbalancers={"lb1": lb, "lb3": new}), 10.0)
    assert incomplete == {"lb1", "lb3"}


def test_rows_the_snapshot_already_holds_are_not_news() -> None:
    state = state_of(fleet())
    assert state.snapshot is not None
    same = Delta(loadbalancers=dict(state.snapshot.loadbalancers),
                 listeners=dict(state.snapshot.listeners))
    assert state.news(same).empty


async def test_a_round_parses_every_list_and_the_created_page() -> None:
    rows = [lb_row("lb9", None, created_at=stamp(5000.0)), lb_row("lb1", 4000.0)]
    api = Api(rows)
    reader = ChangeReader(api, Capabilities(amphorae=False), page_size=10)  # type: ignore[arg-type]
    delta = await reader.read({"loadbalancers": 3990.0, "created": 4990.0}, fleet())
    assert set(delta.loadbalancers) == {"lb1", "lb9"}
    assert delta.newest["created"] == 5000.0 and delta.newest["loadbalancers"] == 4000.0


def test_page_sizes_follow_what_the_last_page_took() -> None:
    from exporter.octavia.pacing import Pacer

    pacer = Pacer(1.0, page_seconds=0.25)
    pacer.last_took = 0.5  # 200 rows in 0.5 s: 100 fit in 0.25 s
    assert pacer.next_size(200, 200) == 100
    pacer.last_took = 0.05  # quick: at most twice the last
    assert pacer.next_size(200, 200) == 400
    pacer.last_took = 0.001
    assert pacer.next_size(1000, 1000) == 1000  # never past the API's usual cap
    assert Pacer(1.0, page_seconds=None).next_size(200, 200) == 200
    # The API's own time, when known, rather than the page's wait for the rate budget too.
    assert pacer.next_size(200, 200, took=0.125) == 400
    assert pacer.next_size(200, 200, took=1.0) == 50


def test_a_deleted_amphora_leaves_and_asks_after_its_load_balancer() -> None:
    from exporter.model.snapshot import Amphora

    snapshot = dataclasses.replace(fleet(), amphorae={"a1": Amphora("a1", "lb1", "ALLOCATED")})
    state = state_of(snapshot)
    delta = state.news(Delta(deleted_amphorae=frozenset({"a1", "unknown"}),
                             suspect=frozenset({"lb1", "lb-unknown"})))
    assert delta.deleted_amphorae == {"a1"} and delta.suspect == {"lb1"}
    planned, _ = state.apply(delta, 10.0)
    assert state.snapshot is not None and not state.snapshot.amphorae
    assert [w.loadbalancer_id for _, w in planned] == ["lb1"]


async def test_a_paused_pacer_lets_no_next_page_start_until_resumed() -> None:
    import asyncio

    from exporter.octavia.pacing import Pacer

    pacer = Pacer(1.0)
    started: list[int] = []

    async def page(n: int) -> None:
        async with pacer.page():
            started.append(n)

    pacer.pause()
    waiting = asyncio.create_task(page(1))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == []
    pacer.resume()
    await waiting
    await page(2)
    assert started == [1, 2]


class AmphoraApi(Api):
    """Load balancers as Api; amphorae from `amphorae`, by the feed's sort or by
    `loadbalancer_id` as Octavia filters them (DELETED ones hidden, as show_deleted=False
    hides them), recording each load balancer asked for."""

    def __init__(self, rows: list[dict[str, Any]], amphorae: list[dict[str, Any]]) -> None:
        super().__init__(rows)
        self.amphorae = amphorae
        self.by_lb: list[str] = []

    async def list_all(self, endpoint: str, path: str, collection: str, fields: Any = (),
                       page_size: int | None = None,
                       on_page: Callable[[list[Any]], bool | None] | None = None,
                       query: Any = (), **kwargs: Any) -> list[Any]:
        if endpoint != "amphorae":
            return await super().list_all(endpoint, path, collection, fields, page_size,
                                          on_page, query, **kwargs)
        shown = [a for a in self.amphorae if a["status"] != "DELETED"]
        owner = dict(query).get("loadbalancer_id")
        if owner is not None:
            self.by_lb.append(owner)
            return [a for a in shown if a["loadbalancer_id"] == owner]
        assert on_page is not None
        on_page(sorted(shown, key=lambda a: a["updated_at"] or "", reverse=True))
        return []


def amp_row(amp_id: str, lb_id: str, status: str, updated: float) -> dict[str, Any]:
    return {"id": amp_id, "loadbalancer_id": lb_id, "status": status, "role": "STANDALONE",
            "created_at": stamp(updated), "updated_at": stamp(updated)}


def with_amphorae() -> FleetSnapshot:
    from exporter.model.snapshot import Amphora

    return dataclasses.replace(fleet(), amphorae={
        "old": Amphora("old", "lb1", "ALLOCATED"), "other": Amphora("other", "lb2", "ALLOCATED")})


async def test_a_failovers_new_amphora_lists_its_load_balancers_again() -> None:
    # The failover marked the old amphora DELETED (hidden) and the new one came up.
    api = AmphoraApi([], [amp_row("old", "lb1", "DELETED", 4000.0),
                          amp_row("new", "lb1", "ALLOCATED", 4001.0),
                          amp_row("other", "lb2", "ALLOCATED", 100.0)])
    reader = ChangeReader(api, Capabilities(), page_size=10)  # type: ignore[arg-type]
    delta = await reader.read({"amphorae": 3990.0}, with_amphorae())
    assert set(delta.amphorae) == {"new"}
    assert delta.deleted_amphorae == {"old"}
    assert api.by_lb == ["lb1"]  # lb2's amphorae did not change: not asked


async def test_a_load_balancer_leaving_pending_update_lists_its_amphorae_again() -> None:
    snapshot = with_amphorae()
    snapshot = dataclasses.replace(snapshot, loadbalancers={
        **snapshot.loadbalancers, "lb1": dataclasses.replace(
            snapshot.loadbalancers["lb1"], provisioning_status="PENDING_UPDATE")})
    # The old amphora went DELETED before its replacement's row last moved: only the load
    # balancer's own row says the failover is over.
    api = AmphoraApi([lb_row("lb1", 4002.0, listeners=[{"id": "l1"}, {"id": "l2"}],
                             pools=[{"id": "p1"}])],
                     [amp_row("old", "lb1", "DELETED", 4001.0),
                      amp_row("new", "lb1", "ALLOCATED", 3000.0),
                      amp_row("other", "lb2", "ALLOCATED", 100.0)])
    reader = ChangeReader(api, Capabilities(), page_size=10)  # type: ignore[arg-type]
    delta = await reader.read({"loadbalancers": 3990.0, "amphorae": 3990.0,
                               "created": 3990.0}, snapshot)
    assert delta.loadbalancers["lb1"].provisioning_status == "ACTIVE"
    assert delta.deleted_amphorae == {"old"}
    assert api.by_lb == ["lb1"]


async def test_a_round_without_amphora_changes_lists_none_again() -> None:
    api = AmphoraApi([lb_row("lb2", 4000.0, status="ERROR")],
                     [amp_row("old", "lb1", "ALLOCATED", 100.0),
                      amp_row("other", "lb2", "ALLOCATED", 100.0)])
    reader = ChangeReader(api, Capabilities(), page_size=10)  # type: ignore[arg-type]
    delta = await reader.read({"loadbalancers": 3990.0, "amphorae": 3990.0,
                               "created": 3990.0}, with_amphorae())
    assert set(delta.loadbalancers) == {"lb2"} and not delta.deleted_amphorae
    assert api.by_lb == []


async def test_a_round_lists_a_few_load_balancers_amphorae_again_and_the_rest_next() -> None:
    from exporter.model.snapshot import Amphora, LoadBalancer
    from exporter.octavia.changes import RELISTS_PER_ROUND

    count = RELISTS_PER_ROUND + 3
    lbs = {f"lb{n:02d}": LoadBalancer(f"lb{n:02d}", "", "p", "PENDING_UPDATE", "ONLINE", True)
           for n in range(count)}
    snapshot = FleetSnapshot(cloud="test", taken_at=0.0, loadbalancers=lbs, amphorae={
        f"a{k}": Amphora(f"a{k}", k, "ALLOCATED") for k in lbs})
    api = AmphoraApi([lb_row(k, 4000.0) for k in lbs], [])
    reader = ChangeReader(api, Capabilities(), page_size=100)  # type: ignore[arg-type]
    first = await reader.read({"loadbalancers": 3990.0, "amphorae": 3990.0,
                               "created": 3990.0}, snapshot)
    assert api.by_lb == sorted(lbs)[:RELISTS_PER_ROUND]
    assert len(first.deleted_amphorae) == RELISTS_PER_ROUND
    # The next round, with nothing new, lists the rest.
    settled = dataclasses.replace(snapshot, loadbalancers={
        k: dataclasses.replace(lb, provisioning_status="ACTIVE") for k, lb in lbs.items()})
    await reader.read({"loadbalancers": 4000.0, "amphorae": 3990.0, "created": 3990.0},
                      settled)
    assert api.by_lb == sorted(lbs)
