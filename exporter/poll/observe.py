"""Differences between two published snapshots, turned into logs and counters."""

from __future__ import annotations

import structlog

from exporter.model.capabilities import Capabilities
from exporter.model.snapshot import FleetSnapshot
from exporter.poll.events import Presence, Transition, diff, floating_ip_changes, unknown_statuses
from exporter.telemetry import Telemetry

log = structlog.get_logger("exporter.observe")


class Observer:
    def __init__(self, telemetry: Telemetry, cloud: str, capabilities: Capabilities) -> None:
        self._telemetry = telemetry
        self._capabilities = capabilities
        if capabilities.floating_ips:
            # Present from the start at 0, so increase() sees the first change.
            for change in ("attached", "detached", "moved"):
                telemetry.floating_ip_changes.labels(cloud, change)

    def observe(self, old: FleetSnapshot | None, new: FleetSnapshot,
                unknown: bool = True, first_seen: frozenset[str] = frozenset()) -> None:
        """Count and log what changed from `old` to `new`; `unknown`: also count status values
        outside Octavia's documented set (once per tier-1 cycle, not per merge). Members of a
        load balancer whose detail is read for the first time are not news: they existed
        before we looked, as on the first cycle; nor are the objects of the resources in
        `first_seen` (read for the first time since start)."""
        cloud = new.cloud
        if unknown:
            for (resource, field), count in unknown_statuses(new).items():
                self._telemetry.unknown_values.labels(cloud, resource, field).inc(count)
        if old is None or old is new:
            return
        transitions = self._telemetry.transitions
        # A collection switched off since `old` (403) empties its list: not a mass deletion.
        caps = self._capabilities
        first_read = {k for k in new.detail_read_at if k not in old.detail_read_at}
        # Likewise L7 rules on their first read after start (a tier-2 task after tier 1).
        first_rules = not old.l7rules
        for event in diff(old, new, amphorae=caps.amphorae):
            if isinstance(event, Transition):
                transitions.labels(cloud, event.resource, event.field, event.old,
                                   event.new).inc()
                log.info("status_changed", cloud=cloud, resource=event.resource, id=event.id,
                         name=event.name, project_id=event.project_id, field=event.field,
                         old=event.old, new=event.new)
            elif isinstance(event, Presence):
                if event.appeared and (event.loadbalancer_id in first_read
                                       or event.resource in first_seen or (
                        first_rules and event.resource == "l7rule")):
                    continue
                log.info("object_appeared" if event.appeared else "object_vanished",
                         cloud=cloud, resource=event.resource, id=event.id, name=event.name,
                         project_id=event.project_id)
        for change in floating_ip_changes(old, new) if caps.floating_ips else ():
            self._telemetry.floating_ip_changes.labels(cloud, change.kind).inc()
            log.info(f"floating_ip_{change.kind}", cloud=cloud, id=change.id,
                     address=change.address, old_loadbalancer_id=change.old_loadbalancer_id,
                     new_loadbalancer_id=change.new_loadbalancer_id)
