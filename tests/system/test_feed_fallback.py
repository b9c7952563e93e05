"""An Octavia that refuses `sort=updated_at` (400) or ignores it (rows in table order) gets the
full lists every cycle: one `changes_feed_unusable` warning, `octavia_changes_feed_enabled` 0,
and every object still exported, changes included."""

from __future__ import annotations

import pytest

from tests.support.exporter import events
from tests.support.exposition import one, status_of


@pytest.mark.parametrize(("kind", "reason"), [("sort_refused", "refused"),
                                              ("unordered", "unordered")])
async def test_the_exporter_falls_back_to_the_full_lists(control, make_exporter, log_buffer,
                                                         kind, reason) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    assert one(exporter.metrics(), "octavia_changes_feed_enabled", cloud="simulator") == 1
    # Every load balancer written, newest last: in table order the feed's rows are ascending.
    fleet = await control.fleet()
    for lb in fleet["loadbalancers"]:
        await control.call("PATCH", f"/_sim/loadbalancers/{lb['id']}", {"name": lb["name"]})
    await control.faults({"kind": kind, "endpoint": "loadbalancers"})
    await exporter.cycle()
    await exporter.cycle()

    warnings = [e for e in events(log_buffer) if e.get("event") == "changes_feed_unusable"]
    assert [(w["endpoint"], w["reason"]) for w in warnings] == [("loadbalancers", reason)]
    metrics = exporter.metrics()
    assert one(metrics, "octavia_changes_feed_enabled", cloud="simulator") == 0
    # A change after the fallback reaches /metrics through the full lists.
    changed = fleet["loadbalancers"][0]["id"]
    await control.call("PATCH", f"/_sim/loadbalancers/{changed}", {"operating_status": "ERROR"})
    metrics = await exporter.cycle()
    truth = await control.fleet()
    for lb in truth["loadbalancers"]:
        assert status_of(metrics, "octavia_loadbalancer_operating_status",
                         loadbalancer_id=lb["id"]) == lb["operating_status"], lb["id"]
    assert status_of(metrics, "octavia_loadbalancer_operating_status",
                     loadbalancer_id=changed) == "ERROR"
    for name, key in (("octavia_listener_operating_status", "listeners"),
                      ("octavia_pool_operating_status", "pools"),
                      ("octavia_member_operating_status", "members")):
        exported = {lab[f"{key[:-1]}_id"] for lab, v in metrics.get(name, []) if v == 1}
        assert exported == {o["id"] for o in truth[key]}, name
    assert len([e for e in events(log_buffer) if e.get("event") == "changes_feed_unusable"]) == 1
