import dataclasses

from exporter.events import Presence, Transition, diff, unknown_statuses
from tests.unit.test_exposition import snapshot


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
