"""API-call economy: the calls per cycle equal the documented formula, and the cadence and
sharding options cut them as documented (docs/benchmarks.md, "API calls per pass")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.calls import listener_stats_calls, octavia_calls
from tests.support.exposition import one

PAGE_CAP = 5  # the sim fixture's pagination_max_limit


def pages(count: int) -> int:
    # Octavia adds a next link to every full page, so a multiple of the cap costs an empty page.
    return count // PAGE_CAP + 1


def expected_calls(truth: dict[str, Any], listener_stats: bool = True) -> Counter[str]:
    pools = truth["pools"]
    tree_lbs = {p["loadbalancer_id"] for p in pools if p["listeners"] and p["members"]}
    unattached = [p for p in pools if not p["listeners"] and p["members"]]
    lbs_with_listeners = {x["loadbalancer_id"] for x in truth["listeners"]}
    calls = Counter({
        "/v2/lbaas/loadbalancers": pages(len(truth["loadbalancers"])),
        "/v2/lbaas/listeners": pages(len(truth["listeners"])),
        "/v2/lbaas/pools": pages(len(pools)),
        "/v2/lbaas/healthmonitors": pages(len(truth["healthmonitors"])),
        "/v2/octavia/amphorae": pages(len(truth["amphorae"])),
        "/v2/lbaas/loadbalancers/{id}/status": len(tree_lbs),
        "/v2/lbaas/pools/{pool_id}/members": sum(pages(len(p["members"])) for p in unattached),
        # Neutron paginates only when asked to (its pagination_max_limit defaults to none); the
        # exporter asks for pages of 200 after its first lists, more than this fleet has: one
        # call.
        "/v2.0/floatingips": 1,
        # Issue 14: L7 policies, one rule list per policy with rules, quota rows + defaults,
        # flavors, zones and providers (providers are never paginated).
        "/v2/lbaas/l7policies": pages(len(truth["l7policies"])),
        "/v2/lbaas/l7policies/{l7policy_id}/rules": sum(
            pages(len(p["rules"])) for p in truth["l7policies"] if p["rules"]),
        "/v2/lbaas/quotas": pages(len(truth["quotas"])),
        "/v2/lbaas/quotas/{project_id}/default": 1,
        "/v2/lbaas/flavors": pages(len(truth["flavors"])),
        "/v2/lbaas/availabilityzones": pages(len(truth["availability_zones"])),
        "/v2/lbaas/providers": 1,
    })
    if listener_stats:
        calls.update(listener_stats_calls(truth))
    else:
        calls["/v2/lbaas/loadbalancers/{id}/stats"] = len(lbs_with_listeners)
    return +calls


async def test_calls_per_cycle_equal_the_documented_formula(control, make_exporter) -> None:
    truth = await control.fleet()
    await octavia_calls(control)
    # Every policy's rules every cycle, as the formula counts them; by default a healthy,
    # unchanged policy waits for --l7-rules-interval (tests/system/test_inventory.py).
    exporter = make_exporter(l7_rules_interval=0)
    await exporter.cycle()
    expected = expected_calls(truth)
    # Both kinds are in this fleet (the rule's every case: tests/unit/test_plan.py).
    assert expected["/v2/octavia/amphorae/{id}/stats"] and expected["/v2/lbaas/listeners/{id}/stats"]
    assert await octavia_calls(control) == expected
    await exporter.cycle()
    assert await octavia_calls(control) == feed_cycle_calls(truth)


FEED = ("/v2/lbaas/loadbalancers", "/v2/lbaas/listeners", "/v2/lbaas/pools",
        "/v2/lbaas/healthmonitors", "/v2/octavia/amphorae")


def feed_cycle_calls(truth: dict[str, Any]) -> Counter[str]:
    """A cycle after the first: one page of the changes feed per list (nothing changed), one
    more of load balancers by created_at, and the rest as the first cycle: the detail, the
    inventory and Neutron's floating IPs."""
    first = expected_calls(truth)
    calls = Counter({k: v for k, v in first.items() if k not in FEED})
    calls.update(dict.fromkeys(FEED, 1))
    calls["/v2/lbaas/loadbalancers"] += 1
    return calls


async def test_without_listener_stats_one_call_per_load_balancer(control, make_exporter) -> None:
    truth = await control.fleet()
    await octavia_calls(control)
    exporter = make_exporter(listener_stats=False)
    metrics = await exporter.cycle()
    assert await octavia_calls(control) == expected_calls(truth, listener_stats=False)
    assert not metrics.get("octavia_listener_stats_bytes_in_total")
    for lb in truth["loadbalancers"]:
        assert one(metrics, "octavia_loadbalancer_stats_bytes_in_total",
                   loadbalancer_id=lb["id"]) == lb["stats"]["bytes_in"]


async def test_healthy_trees_and_stats_wait_for_their_interval(control, make_exporter) -> None:
    exporter = make_exporter(healthy_tree_interval=3600, stats_interval=3600)
    first = await exporter.cycle()
    truth = await control.fleet()
    await octavia_calls(control)
    second = await exporter.cycle()
    calls = await octavia_calls(control)
    unhealthy = set()
    for lb in truth["loadbalancers"]:
        lb_members = [m for m in truth["members"] if m["loadbalancer_id"] == lb["id"]]
        if (lb["provisioning_status"], lb["operating_status"]) != ("ACTIVE", "ONLINE") or any(
                m["operating_status"] not in ("ONLINE", "NO_MONITOR") for m in lb_members):
            unhealthy.add(lb["id"])
    tree_lbs = {p["loadbalancer_id"] for p in truth["pools"] if p["listeners"] and p["members"]}
    assert calls["/v2/lbaas/loadbalancers/{id}/status"] == len(tree_lbs & unhealthy)
    assert len(tree_lbs & unhealthy) < len(tree_lbs)
    assert "/v2/lbaas/listeners/{id}/stats" not in calls
    # Nothing was lost by not asking.
    for name in ("octavia_member_operating_status", "octavia_listener_stats_bytes_in_total",
                 "octavia_loadbalancer_stats_bytes_in_total"):
        assert sorted(second[name], key=repr) == sorted(first[name], key=repr), name

    # A member going down on a healthy load balancer rolls up into its operating status, which
    # the bulk list shows, so its tree is fetched again at once.
    healthy_lb = next(iter(sorted(tree_lbs - unhealthy)))
    member = next(m for m in truth["members"] if m["loadbalancer_id"] == healthy_lb
                  and any(p["id"] == m["pool_id"] and p["listeners"] for p in truth["pools"]))
    await control.call("PATCH", f"/_sim/members/{member['id']}", {"operating_status": "ERROR"})
    third = await exporter.cycle()
    assert [lab["status"] for lab, v in third["octavia_member_operating_status"]
            if lab["member_id"] == member["id"] and v == 1] == ["ERROR"]


async def test_shards_split_the_fleet_without_overlap_or_gap(control, make_exporter) -> None:
    truth = await control.fleet()
    seen: list[set[str]] = []
    members: list[set[str]] = []
    for index in (1, 2, 3):
        metrics = await make_exporter(shard=(index, 3)).cycle()
        seen.append({lab["loadbalancer_id"] for lab, _ in metrics["octavia_loadbalancer_info"]})
        members.append({lab["member_id"] for lab, _ in metrics["octavia_member_info"]})
    assert all(seen)  # 12 load balancers over 3 shards: none is empty
    assert set().union(*seen) == {lb["id"] for lb in truth["loadbalancers"]}
    assert sum(map(len, seen)) == len(truth["loadbalancers"])
    assert set().union(*members) == {m["id"] for m in truth["members"]}
    assert sum(map(len, members)) == len(truth["members"])


async def test_member_details_trade_status_trees_for_member_lists(control, make_exporter) -> None:
    truth = await control.fleet()
    await octavia_calls(control)
    exporter = make_exporter(member_details=True)
    metrics = await exporter.cycle()
    calls = await octavia_calls(control)
    with_members = [p for p in truth["pools"] if p["members"]]
    assert "/v2/lbaas/loadbalancers/{id}/status" not in calls
    assert calls["/v2/lbaas/pools/{pool_id}/members"] == sum(
        pages(len(p["members"])) for p in with_members)
    for member in truth["members"]:
        for metric, value in (("octavia_member_configured_weight", member["weight"]),
                              ("octavia_member_admin_state_up", int(member["admin_state_up"])),
                              ("octavia_member_backup", int(member["backup"]))):
            assert one(metrics, metric, member_id=member["id"]) == value, (metric, member["id"])
        assert [lab["status"] for lab, v in metrics["octavia_member_operating_status"]
                if lab["member_id"] == member["id"] and v == 1] == [member["operating_status"]]
