"""The reconciliation removes load balancers deleted between two feed rounds as soon as its
load-balancer list is in, and does not count them as misses of the feed (which cannot see a
deletion)."""

from __future__ import annotations

import random
import time

from tests.support.calls import octavia_calls
from tests.support.exposition import one


async def deleted_after_a_cycle(control, make_exporter):  # type: ignore[no-untyped-def]
    """An exporter that has read a new load balancer, which the control API then deletes at
    once: no PENDING_DELETE for a round to see (and no detail read comes between, which would
    answer 404)."""
    exporter = make_exporter()
    ids = await control.call("POST", "/_sim/loadbalancers",
                             {"listeners": 1, "pools": 1, "members_per_pool": 2})
    lb_id = ids["loadbalancer"]
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_loadbalancer_info", loadbalancer_id=lb_id) == 1
    await control.call("DELETE", f"/_sim/loadbalancers/{lb_id}")
    assert lb_id in exporter.service.clouds[0].state.snapshot.loadbalancers
    return exporter, lb_id


async def test_a_deletion_the_feed_cannot_see_goes_with_the_load_balancer_list(
        control, make_exporter) -> None:
    exporter, lb_id = await deleted_after_a_cycle(control, make_exporter)
    reconciler = exporter.service.clouds[0].reconciler
    seen_after_lb_list: list[bool] = []
    lists = reconciler._lists
    read = lists.read

    async def watched(previous, pace=None, loadbalancers_first=None):  # type: ignore[no-untyped-def]
        def first(snapshot):  # type: ignore[no-untyped-def]
            assert loadbalancers_first is not None
            loadbalancers_first(snapshot)
            # Gone before the other lists are read, not at the end of the reconciliation.
            state = exporter.service.clouds[0].state.snapshot
            seen_after_lb_list.append(lb_id in state.loadbalancers)
        return await read(previous, pace, loadbalancers_first=first)

    lists.read = watched
    assert await reconciler.reconcile()
    assert seen_after_lb_list == [False]
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_loadbalancer_info", loadbalancer_id=lb_id) is None
    assert exporter.counter("octavia_reconciliation_removed_loadbalancers_total",
                            cloud="simulator") == 1
    assert exporter.counter("octavia_changes_feed_missed_total", cloud="simulator",
                            resource="loadbalancer", reason="deleted") == 0


async def test_a_sweep_reads_the_load_balancer_list_alone_and_removes_what_it_lacks(
        control, make_exporter) -> None:
    exporter, lb_id = await deleted_after_a_cycle(control, make_exporter)
    await control.call("POST", "/_sim/requests/reset")
    reconciler = exporter.service.clouds[0].reconciler
    assert await reconciler.sweep()
    state = exporter.service.clouds[0].state.snapshot
    assert lb_id not in state.loadbalancers
    assert not [x for x in state.listeners.values() if x.loadbalancer_id == lb_id]
    asked = await octavia_calls(control)
    assert exporter.counter("octavia_reconciliation_removed_loadbalancers_total",
                            cloud="simulator") == 1
    assert set(asked) == {"/v2/lbaas/loadbalancers"}, asked


def test_objects_of_a_load_balancer_deleted_during_the_lists_are_not_brought_back() -> None:
    from exporter.model.snapshot import FleetSnapshot, Listener, LoadBalancer
    from exporter.poll.reconcile import corrected

    lb = LoadBalancer(id="lb", name="", project_id="p", provisioning_status="ACTIVE",
                      operating_status="ONLINE", admin_state_up=True)
    listener = Listener(id="l", name="", project_id="p", loadbalancer_id="lb",
                        provisioning_status="ACTIVE", operating_status="ONLINE",
                        admin_state_up=True)
    full = FleetSnapshot(cloud="c", taken_at=0.0, loadbalancers={"lb": lb},
                         listeners={"l": listener})
    current = FleetSnapshot(cloud="c", taken_at=0.0)  # removed by a 404 or a sweep meanwhile
    fixed, missed, suspect = corrected(current, full, touched={"lb"})
    assert fixed.loadbalancers == {} and fixed.listeners == {}
    assert not missed and not suspect
    fixed, missed, suspect = corrected(current, full, touched=set())
    assert set(fixed.listeners) == {"l"} and missed[("listener", "absent")] == 1


def test_objects_gone_from_the_later_lists_under_a_listed_load_balancer_are_read_again() -> None:
    """The load balancer may have been deleted after its own list was read: its objects are
    kept, not counted, and it is read again by id (a 404 then removes it)."""
    from exporter.model.snapshot import FleetSnapshot, Listener, LoadBalancer
    from exporter.poll.reconcile import corrected

    lb = LoadBalancer(id="lb", name="", project_id="p", provisioning_status="ACTIVE",
                      operating_status="ONLINE", admin_state_up=True)
    listener = Listener(id="l", name="", project_id="p", loadbalancer_id="lb",
                        provisioning_status="ACTIVE", operating_status="ONLINE",
                        admin_state_up=True)
    current = FleetSnapshot(cloud="c", taken_at=0.0, loadbalancers={"lb": lb},
                            listeners={"l": listener})
    full = FleetSnapshot(cloud="c", taken_at=0.0, loadbalancers={"lb": lb})
    fixed, missed, suspect = corrected(current, full, touched=set())
    assert set(fixed.listeners) == {"l"} and not missed and suspect == {"lb"}


def test_an_amphora_gone_from_the_later_list_goes_and_counts_only_under_a_listed_lb() -> None:
    """No read by id brings amphorae back, so one the amphora list no longer shows is removed:
    a miss of the feed where its load balancer is still listed, its load balancer's deletion
    (the sweep's, not the feed's) where not."""
    from exporter.model.snapshot import Amphora, FleetSnapshot, LoadBalancer
    from exporter.poll.reconcile import corrected

    lb = LoadBalancer(id="lb", name="", project_id="p", provisioning_status="ACTIVE",
                      operating_status="ONLINE", admin_state_up=True)
    current = FleetSnapshot(cloud="c", taken_at=0.0, loadbalancers={"lb": lb},
                            amphorae={"a": Amphora("a", "lb", "ALLOCATED"),
                                      "b": Amphora("b", "lb-gone", "ALLOCATED")})
    full = FleetSnapshot(cloud="c", taken_at=0.0, loadbalancers={"lb": lb})
    fixed, missed, suspect = corrected(current, full, touched=set())
    assert fixed.amphorae == {} and not suspect
    assert missed == {("amphora", "deleted"): 1}


async def test_until_a_reconciliation_is_complete_its_age_is_the_first_lists_not_the_last_round(
        make_exporter) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    await exporter.cycle()
    tier1 = exporter.service.clouds[0].tier1
    assert 0 < tier1.last_full_lists_started < tier1.last_success_started
    age = exporter.counter("octavia_reconciliation_age_seconds", cloud="simulator")
    now = time.time()
    since_lists, since_round = now - tier1.last_full_lists_started, now - tier1.last_success_started
    assert abs(age - since_lists) < abs(age - since_round), (age, since_lists, since_round)


async def test_a_failovers_old_amphora_goes_with_the_next_round_not_the_reconciliation(
        sim, make_exporter) -> None:
    """Octavia's lists hide a DELETED amphora: the round that sees the failover end lists
    the load balancer's amphorae again, so the reconciliation finds nothing to correct."""
    exporter = make_exporter()
    await exporter.cycle()
    fleet = sim.fleet
    lb = next(lb for lb in fleet.loadbalancers.values()
              if lb.provisioning_status == "ACTIVE" and lb.id not in fleet.transitions
              and any(fleet.amphorae[a].status == "ALLOCATED" for a in lb.amphora_ids))
    old_ids = set(lb.amphora_ids)
    fleet.clock += 60.0
    new = fleet.start_failover(lb, random.Random(3))
    assert new is not None
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_amphora_status", amphora_id=new.id, status="BOOTING") == 1
    fleet.clock += 60.0
    fleet.finish_failover(lb.id)
    gone = old_ids - set(lb.amphora_ids)
    assert len(gone) == 1
    metrics = await exporter.cycle()
    shown = {lab["amphora_id"] for lab, _ in metrics["octavia_amphora_info"]
             if lab["loadbalancer_id"] == lb.id}
    assert shown == set(lb.amphora_ids)
    assert await exporter.service.clouds[0].reconciler.reconcile()
    missed = exporter.metrics().get("octavia_changes_feed_missed_total", [])
    assert [(lab, v) for lab, v in missed if v] == []


async def test_octavia_up_is_1_as_soon_as_the_first_load_balancer_list_is_in(
        make_exporter) -> None:
    exporter = make_exporter()
    cloud = exporter.service.clouds[0]
    seen: list[bool] = []
    lists = cloud.tier1.lists
    read = lists.read

    async def watched(previous, pace=None, loadbalancers_first=None):  # type: ignore[no-untyped-def]
        def first(snapshot):  # type: ignore[no-untyped-def]
            assert loadbalancers_first is not None
            loadbalancers_first(snapshot)
            seen.append(cloud.view().health.up)
        return await read(previous, pace, loadbalancers_first=first if loadbalancers_first
                          else None)

    lists.read = watched
    metrics = await exporter.cycle()
    assert seen == [True]
    assert one(metrics, "octavia_up", cloud="simulator") == 1
