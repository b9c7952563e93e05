"""The reconciliation removes load balancers deleted between two feed rounds as soon as its
load-balancer list is in, and does not count them as misses of the feed (which cannot see a
deletion)."""

from __future__ import annotations

from tests.support.exposition import one


async def test_a_deletion_the_feed_cannot_see_goes_with_the_load_balancer_list(
        control, make_exporter) -> None:
    exporter = make_exporter()
    ids = await control.call("POST", "/_sim/loadbalancers",
                             {"listeners": 1, "pools": 1, "members_per_pool": 2})
    lb_id = ids["loadbalancer"]
    await exporter.cycle()
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_loadbalancer_info", loadbalancer_id=lb_id) == 1
    # The control API deletes the rows at once: no PENDING_DELETE for a round to see (and no
    # detail read comes between, which would answer 404).
    await control.call("DELETE", f"/_sim/loadbalancers/{lb_id}")
    assert lb_id in exporter.service.clouds[0].state.snapshot.loadbalancers
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
