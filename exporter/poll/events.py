"""What changed between two snapshots: status transitions, objects that appeared or vanished."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from exporter.model import states
from exporter.model.snapshot import FleetSnapshot

# (resource label, snapshot attribute, status fields)
RESOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("loadbalancer", "loadbalancers", ("provisioning_status", "operating_status")),
    ("listener", "listeners", ("provisioning_status", "operating_status")),
    ("pool", "pools", ("provisioning_status", "operating_status")),
    ("member", "members", ("provisioning_status", "operating_status")),
    ("healthmonitor", "healthmonitors", ("provisioning_status", "operating_status")),
    ("amphora", "amphorae", ("status",)),
    ("l7policy", "l7policies", ("provisioning_status", "operating_status")),
    ("l7rule", "l7rules", ("provisioning_status", "operating_status")),
)


@dataclass(frozen=True, slots=True)
class Transition:
    resource: str
    id: str
    field: str
    old: str
    new: str
    name: str
    project_id: str


@dataclass(frozen=True, slots=True)
class Presence:
    resource: str
    id: str
    appeared: bool
    name: str
    project_id: str
    loadbalancer_id: str = ""  # the owner, for objects that have one


def _objects(snapshot: FleetSnapshot, attribute: str) -> Mapping[str, object]:
    objects: Mapping[str, object] = getattr(snapshot, attribute)
    return objects


def diff(old: FleetSnapshot, new: FleetSnapshot,
         amphorae: bool = True) -> Iterator[Transition | Presence]:
    """Changes from `old` to `new`; amphorae only while they are collected."""
    for resource, attribute, fields in RESOURCES:
        if resource == "amphora" and not amphorae:
            continue
        before, after = _objects(old, attribute), _objects(new, attribute)
        if before is after:
            continue  # a mapping is kept while its objects are (assemble.kept): nothing moved
        for obj_id, obj in after.items():
            prior = before.get(obj_id)
            if prior is obj:
                # The poller keeps unchanged objects as the previous snapshot's own, so most of
                # a large fleet is skipped here without comparing a field.
                continue
            name = str(getattr(obj, "name", ""))
            project = str(getattr(obj, "project_id", ""))
            if prior is None:
                yield Presence(resource, obj_id, True, name, project,
                               str(getattr(obj, "loadbalancer_id", "")))
                continue
            for field in fields:
                was, now = getattr(prior, field), getattr(obj, field)
                if was != now:
                    yield Transition(resource, obj_id, field, was, now, name, project)
        for obj_id, obj in before.items():
            if obj_id not in after:
                yield Presence(resource, obj_id, False, str(getattr(obj, "name", "")),
                               str(getattr(obj, "project_id", "")),
                               str(getattr(obj, "loadbalancer_id", "")))


@dataclass(frozen=True, slots=True)
class FloatingIPChange:
    """A floating IP attached to, detached from, or moved between load balancers."""

    id: str
    address: str
    old_loadbalancer_id: str  # "" when it was not attached to one
    new_loadbalancer_id: str  # "" when it no longer is

    @property
    def kind(self) -> str:
        if not self.old_loadbalancer_id:
            return "attached"
        return "detached" if not self.new_loadbalancer_id else "moved"


def floating_ip_changes(old: FleetSnapshot, new: FleetSnapshot) -> Iterator[FloatingIPChange]:
    if old.floating_ips is new.floating_ips:
        return
    for fip_id, fip in new.floating_ips.items():
        before = old.floating_ips.get(fip_id)
        if before is None or before.loadbalancer_id != fip.loadbalancer_id:
            yield FloatingIPChange(fip_id, fip.address,
                                   before.loadbalancer_id if before else "", fip.loadbalancer_id)
    for fip_id, fip in old.floating_ips.items():
        if fip_id not in new.floating_ips:
            yield FloatingIPChange(fip_id, fip.address, fip.loadbalancer_id, "")


def unknown_statuses(snapshot: FleetSnapshot) -> Counter[tuple[str, str]]:
    """(resource, field) → how many objects carry a status outside Octavia's documented set."""
    found: Counter[tuple[str, str]] = Counter()
    for resource, attribute, fields in RESOURCES:
        for obj in _objects(snapshot, attribute).values():
            for field in fields:
                if not states.is_known(field, getattr(obj, field)):
                    found[(resource, field)] += 1
    return found
