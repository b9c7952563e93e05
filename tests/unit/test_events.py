import dataclasses

from exporter.poll.events import Presence, Transition, diff, unknown_statuses
from tests.support.snapshots import snapshot


def test_transitions_appear_and_vanish() -> None:
    old = snapshot()
    new_lb = dataclasses.replace(old.loadbalancers["lb1"], operating_status="ERROR")
    new_members = {"m1": old.members["m1"], "m3": dataclasses.replace(old.members["m1"], id="m3")}
    new = dataclasses.replace(old, loadbalancers={"lb1": new_lb}, members=new_members)
    events = list(diff(old, new))
    transitions = [e for e in events if isinstance(e, Transition)]
    assert [(t.resource, t.field, t.old, t.new) for t in transitions] == [
        ("loadbalancer", "operating_status", "DEGRADED", "ERROR")]
    presence = {(e.resource, e.id, e.appeared) for e in events if isinstance(e, Presence)}
    assert presence == {("member", "m3", True), ("member", "m2", False)}


def test_no_events_for_identical_snapshots() -> None:
    assert list(diff(snapshot(), snapshot())) == []


def test_unknown_statuses_are_counted() -> None:
    assert unknown_statuses(snapshot()) == {("member", "operating_status"): 1}


def _appeared(old, new, first_seen: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(resource, id) of every object_appeared line the observer logs for old -> new."""
    import structlog.testing

    from exporter.model.capabilities import Capabilities
    from exporter.poll.observe import Observer
    from exporter.telemetry import Telemetry

    observer = Observer(Telemetry(), new.cloud, Capabilities())
    with structlog.testing.capture_logs() as logs:
        observer.observe(old, new, unknown=False, first_seen=first_seen)
    return [(e["resource"], e["id"]) for e in logs if e["event"] == "object_appeared"]


def test_first_reads_of_detail_and_rules_are_not_news() -> None:
    from exporter.model.snapshot import L7Rule

    lists = snapshot()
    rule = L7Rule(id="r1", l7policy_id="p1", listener_id="l1", project_id="p",
                  provisioning_status="ACTIVE", operating_status="ONLINE", admin_state_up=True)
    # Rules and members read for the first time after the lists: they existed before we looked.
    no_detail = dataclasses.replace(lists, members={}, detail_read_at={})
    detailed = dataclasses.replace(lists, l7rules={"r1": rule},
                                   detail_read_at={"lb1": 1.0})
    assert _appeared(no_detail, detailed) == []
    # Once read, a new rule or member is news.
    later = dataclasses.replace(detailed, l7rules={"r1": rule, "r2": dataclasses.replace(
        rule, id="r2")}, members={**detailed.members, "m9": dataclasses.replace(
            detailed.members["m1"], id="m9")})
    assert sorted(_appeared(detailed, later)) == [("l7rule", "r2"), ("member", "m9")]


def test_the_first_inventory_s_policies_are_not_news() -> None:
    from exporter.model.snapshot import L7Policy

    lists = snapshot()
    policy = L7Policy(id="p1", name="", project_id="p", listener_id="l1", action="REJECT",
                      position=1, provisioning_status="ACTIVE", operating_status="ONLINE",
                      admin_state_up=True)
    inventoried = dataclasses.replace(lists, l7policies={"p1": policy})
    # Tier 1 is published before the inventory: its first policies existed before we looked.
    assert _appeared(lists, inventoried, frozenset({"l7policy"})) == []
    # After that, a policy created is news.
    assert _appeared(lists, inventoried) == [("l7policy", "p1")]
