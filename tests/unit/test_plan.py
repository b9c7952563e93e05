"""Planning rules, snapshot assembly and freshness, without any I/O: which load balancer needs
what and in which order; details merged whole; vanished objects gone at once; ages exact."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.export.freshness import FreshnessCollector
from exporter.model import plan
from exporter.model.parts import Detail
from exporter.model.snapshot import (
    Amphora,
    CloudHealth,
    CloudView,
    FleetSnapshot,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Stats,
)
from exporter.octavia.fetch import listener_sums, went_back
from exporter.poll import assemble

RULES = plan.Rules()


def lb(lb_id: str, operating: str = "ONLINE", provisioning: str = "ACTIVE",
       updated: float = 1.0) -> LoadBalancer:
    return LoadBalancer(lb_id, lb_id, "p", provisioning, operating, True, updated_at=updated,
                        listener_ids=(f"{lb_id}-l",), pool_ids=(f"{lb_id}-pool",))


def fleet(*lbs: LoadBalancer, members: tuple[str, ...] = ("m1", "m2"),
          member_status: str = "ONLINE") -> FleetSnapshot:
    listeners = {f"{x.id}-l": Listener(f"{x.id}-l", "", "p", x.id, "ACTIVE", "ONLINE", True)
                 for x in lbs}
    pools = {f"{x.id}-pool": Pool(f"{x.id}-pool", "", "p", x.id, "ACTIVE", "ONLINE", True,
                                  listener_ids=(f"{x.id}-l",),
                                  member_ids=tuple(f"{x.id}-{m}" for m in members))
             for x in lbs}
    member_objs = {f"{x.id}-{m}": Member(f"{x.id}-{m}", m, "p", f"{x.id}-pool", x.id, "ACTIVE",
                                         member_status) for x in lbs for m in members}
    return FleetSnapshot("c", 100.0, {x.id: x for x in lbs}, listeners, pools, member_objs)


def planned(now_fleet: FleetSnapshot, before: FleetSnapshot | None = None,
            read: dict[str, plan.ReadTimes] | None = None, notified: tuple[str, ...] = (),
            rules: plan.Rules = RULES, now: float = 1000.0) -> list[tuple[str, plan.Work]]:
    members: dict[str, list[Member]] = {}
    for m in now_fleet.members.values():
        members.setdefault(m.loadbalancer_id, []).append(m)
    result = plan.plan(plan.index(now_fleet), plan.index(before) if before else {}, members,
                       read or {}, now_fleet.detail_read_at, notified, now, rules)
    return [(w.loadbalancer_id, w) for _, w in result]


def read_at(when: float, *ids: str) -> dict[str, plan.ReadTimes]:
    return {i: plan.ReadTimes(members=when, stats=when) for i in ids}


def test_shards_are_stable_and_cover_everything() -> None:
    ids = [f"lb-{i}" for i in range(300)]
    owners = [[k for k in (1, 2, 3) if plan.in_shard(i, (k, 3))] for i in ids]
    assert all(len(o) == 1 for o in owners)
    assert plan.in_shard("lb-7", (1, 1))
    assert owners == [[k for k in (1, 2, 3) if plan.in_shard(i, (k, 3))] for i in ids]


def test_attention_first_then_appeared_then_notified_then_stalest() -> None:
    before = fleet(lb("calm-old"), lb("calm-new"), lb("changed"), lb("named"), lb("sick"),
                   lb("member-down"))
    now = fleet(lb("calm-old"), lb("calm-new"), lb("changed", updated=2.0), lb("named"),
                lb("sick", operating="ERROR"), lb("member-down"), lb("fresh"))
    now = dataclasses.replace(now, members={
        **now.members, "member-down-m1": dataclasses.replace(
            now.members["member-down-m1"], operating_status="ERROR")},
        detail_read_at={"calm-old": 10.0, "calm-new": 50.0, "named": 60.0, "changed": 5.0,
                        "sick": 70.0, "member-down": 80.0})
    read = {**read_at(10.0, "calm-old"), **read_at(50.0, "calm-new"), **read_at(60.0, "named"),
            **read_at(5.0, "changed"), **read_at(70.0, "sick"), **read_at(80.0, "member-down")}
    order = [i for i, _ in planned(now, before, read, notified=("named",))]
    assert order[:3] == ["changed", "sick", "member-down"]  # attention, oldest detail first
    assert order[3:] == ["fresh", "named", "calm-old", "calm-new"]


def test_every_part_is_due_every_cycle_by_default() -> None:
    now = fleet(lb("a"))
    (_, work), = planned(now, now, read_at(999.0, "a"))
    assert work.tree and work.stats and not work.member_pools


def test_healthy_trees_and_stats_wait_for_their_intervals() -> None:
    rules = plan.Rules(healthy_tree_interval=300, stats_interval=600)
    now = fleet(lb("a"))
    assert planned(now, now, read_at(900.0, "a"), rules=rules) == []
    (_, work), = planned(now, now, read_at(650.0, "a"), rules=rules)
    assert work.tree and not work.stats
    (_, work), = planned(now, now, read_at(300.0, "a"), rules=rules)
    assert work.tree and work.stats
    # A load balancer needing attention has its members read whatever the interval.
    sick = fleet(lb("a", operating="DEGRADED"))
    (_, work), = planned(sick, now, read_at(900.0, "a"), rules=rules)
    assert work.tree and not work.stats
    # So does one whose pools' membership changed.
    moved = fleet(lb("a"), members=("m1", "m3"))
    (_, work), = planned(moved, now, read_at(900.0, "a"), rules=rules)
    assert work.tree


def amphora_parts(born: float, *created: float | None, listeners: int = 2,
                  listed_at: float | None = 20_000.0, **lb_fields: object) -> plan.Parts:
    lb_obj = dataclasses.replace(lb("a"), **{"created_at": born, "updated_at": None,
                                             **lb_fields})
    lsts = tuple(Listener(f"l{i}", "", "p", "a", "ACTIVE", "ONLINE", True)
                 for i in range(listeners))
    amps = tuple(Amphora(f"amp{i}", "a", "ALLOCATED", created_at=when)
                 for i, when in enumerate(created))
    return plan.Parts(lb_obj, (), lsts, amps, listed_at)


def test_stats_come_from_amphorae_only_when_they_are_all_it_has_had() -> None:
    born = 10_000.0
    cases = [
        ((born + 1.0,), ("amp0",)),
        ((born + 5.0, born + 6.0), ("amp0", "amp1")),  # ACTIVE_STANDBY, booted for it
        ((born - 1.0,), ("amp0",)),  # the worker's clock a second behind the API's
        ((born - 86400.0,), ()),  # a spare: taken at creation or at a failover, who knows
        ((born + 5.0, born + plan.REPLACED_AFTER + 1), ()),  # one replaced another
        ((born + 5.0, None), ()),  # an amphora without a creation time
        ((), ()),  # another provider, or no amphora list
    ]
    for created, expected in cases:
        assert plan.stats_amphorae(amphora_parts(born, *created), RULES) == expected, created
    # Not more calls than one per listener: two amphorae, one listener.
    assert plan.stats_amphorae(amphora_parts(born, born, born, listeners=1), RULES) == ()
    # Changed since the lists that listed its amphorae (a failover ended since?), or in the
    # middle of a change: the listeners, until lists newer than the change.
    assert plan.stats_amphorae(amphora_parts(born, born, updated_at=20_001.0), RULES) == ()
    assert plan.stats_amphorae(amphora_parts(born, born, updated_at=19_999.0), RULES) == (
        "amp0",)
    assert plan.stats_amphorae(amphora_parts(born, born, listed_at=None), RULES) == ()
    assert plan.stats_amphorae(amphora_parts(born, born, provisioning_status="PENDING_UPDATE"),
                               RULES) == ()
    for rules in (plan.Rules(stats_via_amphorae=False), plan.Rules(listener_stats=False)):
        assert plan.stats_amphorae(amphora_parts(born, born), rules) == ()
    # The lists' start time travels with every load balancer's parts.
    snap = dataclasses.replace(fleet(lb("a")), taken_at=123.0)
    assert plan.index(snap)["a"].listed_at == 123.0
    assert plan.index_one(snap, "a").listed_at == 123.0


def test_listener_sums_from_amphora_rows_are_octavias() -> None:
    amps = [Amphora("master", "a", "ALLOCATED"), Amphora("backup", "a", "ALLOCATED"),
            Amphora("old", "a", "DELETED")]
    rows = {
        "master": {("master", "l1"): Stats(10, 20, 3, 100, 1), ("master", "l9"): Stats(1, 1, 1, 1, 1)},
        "backup": {("backup", "l1"): Stats(1, 2, 4, 5, 0)},
        "old": {("old", "l1"): Stats(100, 200, 7, 300, 2)},
    }
    sums = listener_sums(["l1", "l2"], amps, rows)
    # Active connections only from ALLOCATED amphorae; every row's other counters; a listener
    # without rows at zero; a row of a listener the lists do not show ignored.
    assert sums == {"l1": Stats(111, 222, 7, 405, 3), "l2": Stats()}
    assert not went_back(sums, {"l1": Stats(111, 222, 50, 405, 3)})  # a gauge may fall
    assert went_back(sums, {"l1": Stats(112, 222, 0, 405, 3)})
    assert went_back(sums, {"l2": Stats(request_errors=1)})
    assert not went_back(sums, {"gone": Stats(999, 999, 999, 999, 999)})


def test_member_details_read_member_lists_instead_of_trees() -> None:
    rules = plan.Rules(member_details=True)
    (_, work), = planned(fleet(lb("a")), rules=rules)
    assert not work.tree and work.member_pools == ("a-pool",)


def test_nothing_to_read_for_a_load_balancer_without_children() -> None:
    bare = LoadBalancer("bare", "", "p", "ACTIVE", "ONLINE", True)
    snap = FleetSnapshot("c", 1.0, {"bare": bare})
    assert planned(snap) == []


def detail(lb_id: str, members: dict[str, Member], stats: Stats | None,
           pools: tuple[str, ...]) -> Detail:
    return Detail(lb_id, 500.0, frozenset(pools), members,
                  {f"{lb_id}-l": stats} if stats else None, stats,
                  complete=frozenset({"members", "stats"}))


def test_a_detail_is_merged_whole_and_only_for_what_still_exists() -> None:
    snap = dataclasses.replace(fleet(lb("a"), lb("b")), loadbalancer_stats={
        "a": Stats(1), "b": Stats(2)}, listener_stats={"a-l": Stats(1), "b-l": Stats(2)})
    new_member = Member("a-m9", "m9", "p", "a-pool", "a", "ACTIVE", "ERROR")
    merged = assemble.merge(snap, [
        (detail("a", {"a-m9": new_member}, Stats(7), ("a-pool",)), 500.0),
        (detail("gone", {}, Stats(9), ()), 500.0),
    ])
    assert {k for k in merged.members if k.startswith("a-")} == {"a-m9"}
    assert merged.loadbalancer_stats["a"] == Stats(7) and merged.listener_stats["a-l"] == Stats(7)
    assert merged.detail_read_at == {"a": 500.0}
    # b untouched; the input snapshot untouched (it may be on /metrics right now).
    assert merged.loadbalancer_stats["b"] == Stats(2)
    assert snap.loadbalancer_stats["a"] == Stats(1) and "a-m1" in snap.members


def test_a_failed_part_keeps_its_last_values() -> None:
    snap = dataclasses.replace(fleet(lb("a")), loadbalancer_stats={"a": Stats(1)})
    failed = Detail("a", 500.0, frozenset(), {}, None, None, complete=frozenset())
    merged = assemble.merge(snap, [(failed, None)])
    assert merged.members == snap.members and merged.loadbalancer_stats == {"a": Stats(1)}
    assert "a" not in merged.detail_read_at


def test_what_the_lists_no_longer_show_vanishes_at_once_with_its_detail() -> None:
    current = dataclasses.replace(
        fleet(lb("a"), lb("b")), loadbalancer_stats={"a": Stats(1), "b": Stats(2)},
        listener_stats={"a-l": Stats(1), "b-l": Stats(2)}, detail_read_at={"a": 1.0, "b": 2.0})
    lists = fleet(lb("a"), members=("m1",))
    lists = dataclasses.replace(lists, members={})
    carried = assemble.carry(lists, current)
    assert set(carried.members) == {"a-m1"}  # b's members, and a-m2 (no longer in its pool)
    assert carried.loadbalancer_stats == {"a": Stats(1)}
    assert carried.listener_stats == {"a-l": Stats(1)}
    assert carried.detail_read_at == {"a": 1.0}


def test_a_mapping_stays_the_same_object_only_while_it_holds_the_same_objects() -> None:
    a, b = lb("a"), lb("b")
    old = {"a": a, "b": b}
    assert assemble.kept({"a": a, "b": b}, old) is old
    for new in ({"a": a}, {"a": a, "b": b, "c": lb("c")}, {"a": a, "c": b},
                {"a": a, "b": lb("b")}):  # the last: equal, but another object
        assert assemble.kept(new, old) is new


def test_unchanged_parts_of_a_snapshot_stay_the_same_objects() -> None:
    """What lets a render skip a family: carry and merge hand back the very mappings they were
    given wherever nothing in them changed."""
    current = dataclasses.replace(fleet(lb("a"), lb("b")), loadbalancer_stats={
        "a": Stats(1), "b": Stats(2)}, listener_stats={"a-l": Stats(1), "b-l": Stats(2)},
        detail_read_at={"a": 1.0, "b": 2.0})
    lists = dataclasses.replace(current, members={}, listener_stats={}, loadbalancer_stats={},
                                detail_read_at={}, loadbalancers=dict(current.loadbalancers),
                                listeners=dict(current.listeners), pools=dict(current.pools))
    carried = assemble.carry(lists, current)
    for name in ("loadbalancers", "listeners", "pools", "members", "listener_stats",
                 "loadbalancer_stats", "detail_read_at"):
        assert getattr(carried, name) is getattr(current, name), name
    # A detail with the same members and counters changes only its read time.
    same = detail("a", {k: m for k, m in current.members.items() if k.startswith("a-")},
                  Stats(1), ("a-pool",))
    merged = assemble.merge(carried, [(same, 600.0)])
    assert merged.members is carried.members
    assert merged.loadbalancer_stats is carried.loadbalancer_stats
    assert merged.detail_read_at is not carried.detail_read_at
    assert merged.detail_read_at["a"] == 600.0
    # A changed member makes a new mapping, and only for members.
    changed = dataclasses.replace(current.members["a-m1"], operating_status="ERROR")
    merged = assemble.merge(carried, [(detail("a", {"a-m1": changed}, Stats(1), ("a-pool",)),
                                       600.0)])
    assert merged.members is not carried.members and merged.members["a-m1"] is changed
    assert merged.listener_stats is carried.listener_stats


def test_freshness_metrics_are_the_real_ages() -> None:
    now = [10_000.0]
    snap = dataclasses.replace(
        fleet(lb("a"), lb("b"), lb("c"), lb("never")),
        detail_read_at={"a": 9_990.0, "b": 9_700.0, "c": 8_000.0}, taken_at=9_950.0)
    views = [CloudView(CloudHealth("c", up=True), snap)]
    registry = CollectorRegistry()
    registry.register(FreshnessCollector(lambda: views, 900.0, clock=lambda: now[0]))

    def scrape() -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(generate_latest(registry).decode()):
            for s in family.samples:
                out.setdefault(s.name, {})[s.labels.get("le", "")] = s.value
        return out

    found = scrape()
    # Ages: a 10 s, b 300 s, c 2000 s, never (first seen with the lists at 9,950) 50 s.
    assert found["octavia_detail_oldest_age_seconds"][""] == 2000.0
    assert found["octavia_detail_age_seconds_gsum"][""] == 10 + 300 + 2000 + 50
    assert found["octavia_detail_age_seconds_gcount"][""] == 4
    buckets = found["octavia_detail_age_seconds_bucket"]
    assert (buckets["30.0"], buckets["60.0"], buckets["300.0"], buckets["1800.0"],
            buckets["3600.0"], buckets["+Inf"]) == (1, 2, 3, 3, 4, 4)
    assert found["octavia_detail_age_target_seconds"][""] == 900.0
    now[0] += 100.0  # ages grow between publishes
    assert scrape()["octavia_detail_oldest_age_seconds"][""] == 2100.0


def test_lists_keep_their_share_of_the_api() -> None:
    assert plan.lists_period(30.0, 1.2) == 30.0    # exactly the default 4 %: --interval
    assert plan.lists_period(30.0, 15.0) == 375.0  # half: every 25 list durations
    assert plan.lists_period(30.0, 7.5, share=0.25) == 30.0
    assert plan.lists_period(120.0, 35.0, share=0.25) == 140.0
    # --lists-share 1: only "never overlap", the behaviour before the share existed
    assert plan.lists_period(30.0, 35.0, share=1.0) == 35.0
