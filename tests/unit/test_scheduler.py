"""The scheduler with a controllable list reader and fetcher (no network, a fake clock): tier 1 is
published while tier 2 is held back, tier 2 follows the planning order, and the exported ages are
exactly the clock's."""

from __future__ import annotations

import asyncio
import dataclasses

import structlog.testing
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.export.families import health_families
from exporter.export.freshness import FreshnessCollector
from exporter.model import plan
from exporter.model.capabilities import Capabilities
from exporter.model.parts import Detail, Inventory
from exporter.model.snapshot import Flavor, FleetSnapshot, Listener, LoadBalancer, Member, Pool
from exporter.octavia.errors import ApiError
from exporter.octavia.lists import ListsFailed
from exporter.poll import assemble
from exporter.poll.scheduler import CloudScheduler
from exporter.telemetry import Telemetry


def fleet(statuses: dict[str, str]) -> FleetSnapshot:
    lbs = {i: LoadBalancer(i, i, "p", "ACTIVE", s, True, updated_at=1.0) for i, s in
           statuses.items()}
    listeners = {f"{i}-l": Listener(f"{i}-l", "", "p", i, "ACTIVE", "ONLINE", True) for i in lbs}
    pools = {f"{i}-pool": Pool(f"{i}-pool", "", "p", i, "ACTIVE", "ONLINE", True,
                               listener_ids=(f"{i}-l",), member_ids=(f"{i}-m",)) for i in lbs}
    return FleetSnapshot("c", 0.0, lbs, listeners, pools)


class Lists:
    cloud = "c"

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses
        self.flavors: dict[str, Flavor] = {}
        self.inventory_gate = asyncio.Event()
        self.inventory_gate.set()

    async def read(self, previous: FleetSnapshot | None) -> FleetSnapshot:
        # As lists.ListReader: the last inventory stands until the next is read.
        return assemble.with_inventory(fleet(self.statuses), assemble.inventory_of(previous))

    async def inventory(self, snapshot: FleetSnapshot) -> Inventory:
        await self.inventory_gate.wait()
        return Inventory(flavors=dict(self.flavors))


class Fetcher:
    client = None

    def __init__(self) -> None:
        self.order: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self, parts: plan.Parts, work: plan.Work, now, known=None) -> Detail:
        started = now()
        await self.gate.wait()
        lb = parts.loadbalancer
        self.order.append(lb.id)
        member = Member(f"{lb.id}-m", "m", "p", f"{lb.id}-pool", lb.id, "ACTIVE", "ONLINE")
        return Detail(lb.id, started, frozenset({f"{lb.id}-pool"}), {member.id: member},
                      complete=frozenset({"members", "stats"}),
                      listener_stats={}, loadbalancer_stats=None)


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def scheduler(lists: Lists, fetcher: Fetcher, clock: Clock, telemetry: Telemetry | None = None,
              cycle_timeout: float = 10.0) -> tuple[CloudScheduler, list[int]]:
    published: list[int] = []

    async def publish() -> float:
        published.append(1)
        return 0.0

    return CloudScheduler(lists, fetcher, plan.Rules(), Capabilities(),  # type: ignore[arg-type]
                          telemetry or Telemetry(),
                          publish, interval=30.0, cycle_timeout=cycle_timeout,
                          max_staleness=300.0,
                          workers=1, clock=clock), published


async def test_lists_are_published_while_every_detail_read_is_held() -> None:
    fetcher = Fetcher()
    fetcher.gate.clear()  # tier 2 cannot finish anything
    state, published = scheduler(Lists({"a": "ONLINE", "b": "ERROR"}), fetcher, Clock())
    state.start_stream()
    try:
        assert await state.run_lists() is True
        assert published  # on /metrics already
        assert state.snapshot is not None
        assert state.snapshot.loadbalancers["b"].operating_status == "ERROR"
        assert not state.snapshot.members and fetcher.order == []
        assert state.health.up and state.backlog >= 1
    finally:
        await state.stop()


async def test_lists_are_published_before_the_inventory_is_read() -> None:
    """On a rate-limited API the inventory's small calls would each wait for a token; tier 1
    does not wait for them, and the next publish carries what they found."""
    lists = Lists({"a": "ONLINE"})
    lists.flavors = {"f": Flavor("f", "small", True)}
    lists.inventory_gate.clear()
    state, published = scheduler(lists, Fetcher(), Clock())
    task = asyncio.create_task(state.run_cycle())

    async def tier1_published() -> None:
        while not published:
            await asyncio.sleep(0)

    try:
        await asyncio.wait_for(tier1_published(), 10)
        assert state.snapshot is not None and not state.snapshot.flavors
        assert state.snapshot.loadbalancers["a"].operating_status == "ONLINE"
        assert not task.done()  # the cycle is still reading the inventory
        lists.inventory_gate.set()
        assert await task is True
        assert set(state.snapshot.flavors) == {"f"}
        assert len(published) == 2  # tier 1, then the inventory with the detail
    finally:
        task.cancel()
        await state.stop()


async def test_an_inventory_that_never_answers_keeps_the_last_one() -> None:
    lists = Lists({"a": "ONLINE"})
    lists.flavors = {"f": Flavor("f", "small", True)}
    telemetry = Telemetry()
    # What is left of the cycle timeout for the inventory: at least a second.
    state, _ = scheduler(lists, Fetcher(), Clock(), telemetry, cycle_timeout=1.0)
    try:
        assert await state.run_cycle() is True
        lists.inventory_gate.clear()  # the next inventory hangs
        assert await state.run_cycle() is True
        assert state.snapshot is not None and set(state.snapshot.flavors) == {"f"}
        assert telemetry.registry.get_sample_value("octavia_poll_errors_total", {
            "cloud": "c", "endpoint": "inventory", "reason": "timeout"}) == 1
    finally:
        await state.stop()


async def test_detail_follows_the_planning_order() -> None:
    fetcher = Fetcher()
    lists = Lists({"calm": "ONLINE", "sick": "ERROR", "later": "ONLINE"})
    clock = Clock()
    state, _ = scheduler(lists, fetcher, clock)
    try:
        await state.run_cycle()
        assert fetcher.order[0] == "sick"  # attention before the ones merely never read
        assert set(fetcher.order) == {"calm", "sick", "later"}
        fetcher.order.clear()
        clock.now += 60
        lists.statuses = {"calm": "ONLINE", "sick": "ERROR", "later": "DEGRADED",
                          "new": "ONLINE"}
        await state.run_cycle()
        # Needing attention first (oldest detail first among them), then the one that
        # appeared, then the stalest.
        assert fetcher.order[:2] in (["sick", "later"], ["later", "sick"])
        assert fetcher.order[2:] == ["new", "calm"]
    finally:
        await state.stop()


def ages(registry: CollectorRegistry) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if s.name in ("octavia_detail_oldest_age_seconds", "octavia_detail_age_seconds_gsum"):
                out[s.name] = s.value
    return out


async def test_exported_ages_are_the_real_ages() -> None:
    fetcher = Fetcher()
    clock = Clock()
    lists = Lists({"a": "ONLINE", "b": "ONLINE"})
    state, _ = scheduler(lists, fetcher, clock)
    registry = CollectorRegistry()
    registry.register(FreshnessCollector(lambda: [state.view()], 900.0, clock=clock))
    try:
        await state.run_cycle()  # both read at 10,000
        assert state.snapshot is not None
        assert dict(state.snapshot.detail_read_at) == {"a": 10_000.0, "b": 10_000.0}
        clock.now += 250.0
        assert ages(registry) == {"octavia_detail_oldest_age_seconds": 250.0,
                                  "octavia_detail_age_seconds_gsum": 500.0}
        # The next cycle re-reads both at 10,250; a later scrape sees the new ages.
        await state.run_cycle()
        clock.now += 40.0
        assert ages(registry) == {"octavia_detail_oldest_age_seconds": 40.0,
                                  "octavia_detail_age_seconds_gsum": 80.0}
        assert dataclasses.replace(state.snapshot, detail_read_at={}).members.keys() == {
            "a-m", "b-m"}
    finally:
        await state.stop()


class SlowLists(Lists):
    """Lists that take `seconds` on the scheduler's monotonic clock, or fail."""

    def __init__(self, statuses: dict[str, str], clock: Clock) -> None:
        super().__init__(statuses)
        self.clock = clock
        self.seconds = 1.0
        self.fail = False

    async def read(self, previous: FleetSnapshot | None) -> FleetSnapshot:
        self.clock.now += self.seconds
        if self.fail:
            raise ListsFailed(ApiError("loadbalancers", "server_error", status=500))
        return await super().read(previous)


def poll_interval(state: CloudScheduler) -> float:
    family = next(f for f in health_families([state.view()])
                  if f.name == "octavia_poll_interval_seconds")
    [(_labels, value)] = list(family.samples)
    return value


async def test_slow_lists_stretch_the_interval_to_keep_their_share_and_say_so() -> None:
    clock = Clock()
    lists = SlowLists({"a": "ONLINE"}, clock)

    async def publish() -> float:
        return 0.0

    state = CloudScheduler(lists, Fetcher(), plan.Rules(), Capabilities(), Telemetry(),  # type: ignore[arg-type]
                           publish, interval=30.0, cycle_timeout=100.0, max_staleness=300.0,
                           workers=1, clock=clock, monotonic=clock, lists_share=0.25)
    try:
        with structlog.testing.capture_logs() as logs:
            lists.seconds = 5.0   # a sixth of the interval: no change
            await state.run_lists()
            assert state.health.interval == 30.0
            lists.seconds = 20.0  # two thirds: the next start is 4 x 20 s after this one
            await state.run_lists()
            assert state.health.interval == 80.0
            assert poll_interval(state) == 80.0
            lists.fail = True     # a failed read says nothing about the lists' duration
            await state.run_lists()
            assert state.health.interval == 80.0
            lists.fail, lists.seconds = False, 2.0
            await state.run_lists()
            assert state.health.interval == 30.0
        events = [e for e in logs if e["event"].startswith("lists_interval")]
        assert [(e["event"], e.get("next_in_seconds")) for e in events] == [
            ("lists_interval_stretched", 80.0), ("lists_interval_restored", None)]
        done = [e["next_in_seconds"] for e in logs if e["event"] == "poll_cycle_done"]
        assert done == [30.0, 80.0, 80.0, 30.0]
    finally:
        await state.stop()
