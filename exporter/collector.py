"""A prometheus_client Collector that renders the latest snapshot of every cloud.

It reads only snapshots and polling health, so deleted objects vanish by construction: nothing
here remembers an object the newest snapshot does not contain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter import states
from exporter.snapshot import CloudView, FleetSnapshot, Stats

POLLED = "Polled in the background every --interval."
STATS_FIELDS = (
    ("bytes_in", "Bytes received", "counter"),
    ("bytes_out", "Bytes sent", "counter"),
    ("connections", "Connections handled", "counter"),
    ("request_errors", "Request errors", "counter"),
    ("active_connections", "Connections open now", "gauge"),
)
STATS_ATTRS = {"connections": "total_connections"}

def _str(value: object) -> str:
    return "" if value is None else str(value)


class FleetCollector(Collector):
    def __init__(self, views: Callable[[], Iterable[CloudView]], stateset: bool = False) -> None:
        self._views = views
        self._stateset = stateset

    def describe(self) -> Iterable[Metric]:
        # Families depend on the data; an empty description keeps the registry from calling
        # collect() at registration time.
        return []

    def collect(self) -> Iterator[Metric]:
        views = list(self._views())
        yield from self._health(views)
        snapshots = [v.snapshot for v in views if v.snapshot is not None
                     and not v.health.stale_withdrawn]
        yield from self._loadbalancers(snapshots)
        yield from self._listeners(snapshots)
        yield from self._pools(snapshots)
        yield from self._members(snapshots)
        yield from self._healthmonitors(snapshots)
        yield from self._amphorae(snapshots)

    # -- helpers ---------------------------------------------------------------------------

    def _status(self, name: str, doc: str, labels: list[str], field: str,
                rows: Iterable[tuple[list[str], str]]) -> Metric:
        family = GaugeMetricFamily(name, doc, labels=[*labels, "status"])
        known = states.states_for(field)
        for values, current in rows:
            if self._stateset:
                for state in known:
                    family.add_metric([*values, state], 1.0 if state == current else 0.0)
                if current not in known:
                    family.add_metric([*values, current], 1.0)
            else:
                family.add_metric([*values, current], 1.0)
        return family

    @staticmethod
    def _stats(prefix: str, what: str, labels: list[str],
               rows: Iterable[tuple[list[str], Stats]]) -> Iterator[Metric]:
        materialised = list(rows)
        for field, text, kind in STATS_FIELDS:
            attr = STATS_ATTRS.get(field, field)
            doc = f"{text} by the {what}, cumulative as Octavia reports it. {POLLED}"
            family: Metric
            if kind == "counter":
                family = CounterMetricFamily(f"{prefix}_{field}", doc, labels=labels)
            else:
                family = GaugeMetricFamily(f"{prefix}_{field}", f"{text} on the {what}. {POLLED}",
                                           labels=labels)
            for values, stats in materialised:
                family.add_metric(values, float(getattr(stats, attr)))
            yield family

    @staticmethod
    def _gauge(name: str, doc: str, labels: list[str],
               rows: Iterable[tuple[list[str], float]]) -> Metric:
        family = GaugeMetricFamily(name, doc, labels=labels)
        for values, value in rows:
            family.add_metric(values, value)
        return family

    @staticmethod
    def _info(name: str, doc: str, labels: list[str], info_keys: list[str],
              rows: Iterable[tuple[list[str], list[str]]]) -> Metric:
        family = InfoMetricFamily(name, doc, labels=labels)
        for values, info in rows:
            family.add_metric(values, dict(zip(info_keys, info, strict=True)))
        return family

    # -- families --------------------------------------------------------------------------

    @staticmethod
    def _health(views: list[CloudView]) -> Iterator[Metric]:
        up = GaugeMetricFamily("octavia_up", "1 when the last poll cycle could read the Octavia "
                               "API's bulk lists, 0 otherwise.", labels=["cloud"])
        duration = GaugeMetricFamily("octavia_poll_duration_seconds",
                                     "Wall time of the last poll cycle.", labels=["cloud"])
        success = GaugeMetricFamily("octavia_last_poll_success_timestamp_seconds",
                                    "When the last successful poll cycle ended (0: never).",
                                    labels=["cloud"])
        objects = GaugeMetricFamily("octavia_snapshot_objects",
                                    f"Objects in the exported snapshot, by kind. {POLLED}",
                                    labels=["cloud", "resource"])
        enabled = GaugeMetricFamily("octavia_collector_enabled",
                                    "1 when an optional collection is on for this cloud.",
                                    labels=["cloud", "collector"])
        for view in views:
            cloud = view.health.cloud
            up.add_metric([cloud], 1.0 if view.health.up else 0.0)
            duration.add_metric([cloud], view.health.last_cycle_duration)
            success.add_metric([cloud], view.health.last_success)
            snap = view.snapshot
            if snap is not None and not view.health.stale_withdrawn:
                for resource, count in snap.counts().items():
                    objects.add_metric([cloud, resource], float(count))
            enabled.add_metric([cloud, "amphorae"],
                               1.0 if snap is not None and snap.amphorae_enabled else 0.0)
            enabled.add_metric([cloud, "amphora_stats"],
                               1.0 if snap is not None and snap.amphora_stats_enabled else 0.0)
        yield from (up, duration, success, objects, enabled)

    def _loadbalancers(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "loadbalancer_id", "project_id"]
        rows = [([s.cloud, lb.id, lb.project_id], lb) for s in snaps
                for lb in s.loadbalancers.values()]
        yield self._info(
            "octavia_loadbalancer", f"Load balancer metadata. {POLLED}", labels,
            ["name", "vip_address", "vip_port_id", "vip_network_id", "vip_subnet_id",
             "provider", "flavor_id", "availability_zone"],
            ((v, [lb.name, lb.vip_address, lb.vip_port_id, lb.vip_network_id, lb.vip_subnet_id,
                  lb.provider, lb.flavor_id, lb.availability_zone]) for v, lb in rows))
        yield self._gauge("octavia_loadbalancer_admin_state_up",
                          f"1 when the load balancer is administratively up. {POLLED}", labels,
                          ((v, 1.0 if lb.admin_state_up else 0.0) for v, lb in rows))
        for field in ("provisioning_status", "operating_status"):
            yield self._status(f"octavia_loadbalancer_{field}",
                               f"Load balancer {field.replace('_', ' ')} (value 1 for the "
                               f"current state). {POLLED}", labels, field,
                               ((v, getattr(lb, field)) for v, lb in rows))
        for attr, what in (("created_at", "created"), ("updated_at", "updated")):
            yield self._gauge(f"octavia_loadbalancer_{what}_timestamp_seconds",
                              f"When the load balancer was last {what}, per the API. {POLLED}",
                              labels, ((v, getattr(lb, attr)) for v, lb in rows
                                       if getattr(lb, attr) is not None))
        yield from self._stats(
            "octavia_loadbalancer", "load balancer", labels,
            (([s.cloud, lb_id, s.loadbalancers[lb_id].project_id], st)
             for s in snaps for lb_id, st in s.loadbalancer_stats.items()
             if lb_id in s.loadbalancers))

    def _listeners(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "listener_id", "loadbalancer_id", "project_id"]
        rows = [([s.cloud, x.id, x.loadbalancer_id, x.project_id], x) for s in snaps
                for x in s.listeners.values()]
        yield self._info(
            "octavia_listener", f"Listener metadata. {POLLED}", labels,
            ["name", "protocol", "protocol_port", "default_pool_id"],
            ((v, [x.name, x.protocol, _str(x.protocol_port), x.default_pool_id])
             for v, x in rows))
        yield self._gauge("octavia_listener_admin_state_up",
                          f"1 when the listener is administratively up. {POLLED}", labels,
                          ((v, 1.0 if x.admin_state_up else 0.0) for v, x in rows))
        for field in ("provisioning_status", "operating_status"):
            yield self._status(f"octavia_listener_{field}",
                               f"Listener {field.replace('_', ' ')} (value 1 for the current "
                               f"state). {POLLED}", labels, field,
                               ((v, getattr(x, field)) for v, x in rows))
        yield self._gauge("octavia_listener_connection_limit",
                          f"Maximum connections the listener accepts; absent when unlimited. "
                          f"{POLLED}", labels,
                          ((v, float(x.connection_limit)) for v, x in rows
                           if x.connection_limit > 0))
        yield from self._stats(
            "octavia_listener", "listener", labels,
            ((v, s.listener_stats[x.id]) for s in snaps for x in s.listeners.values()
             for v in [[s.cloud, x.id, x.loadbalancer_id, x.project_id]]
             if x.id in s.listener_stats))

    def _pools(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "pool_id", "loadbalancer_id", "project_id"]
        rows = [([s.cloud, x.id, x.loadbalancer_id, x.project_id], x, s) for s in snaps
                for x in s.pools.values()]
        yield self._info("octavia_pool", f"Pool metadata. {POLLED}", labels,
                         ["name", "protocol", "lb_algorithm"],
                         ((v, [x.name, x.protocol, x.lb_algorithm]) for v, x, _ in rows))
        yield self._gauge("octavia_pool_admin_state_up",
                          f"1 when the pool is administratively up. {POLLED}", labels,
                          ((v, 1.0 if x.admin_state_up else 0.0) for v, x, _ in rows))
        for field in ("provisioning_status", "operating_status"):
            yield self._status(f"octavia_pool_{field}",
                               f"Pool {field.replace('_', ' ')} (value 1 for the current state). "
                               f"{POLLED}", labels, field,
                               ((v, getattr(x, field)) for v, x, _ in rows))
        yield self._gauge("octavia_pool_members", f"Members in the pool. {POLLED}", labels,
                          ((v, float(len(x.member_ids))) for v, x, _ in rows))

    def _members(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "member_id", "pool_id", "loadbalancer_id", "project_id"]
        rows = [([s.cloud, m.id, m.pool_id, m.loadbalancer_id, m.project_id], m) for s in snaps
                for m in s.members.values()]
        yield self._info("octavia_member", f"Pool member metadata. {POLLED}", labels,
                         ["name", "address", "protocol_port"],
                         ((v, [m.name, m.address, _str(m.protocol_port)]) for v, m in rows))
        for field in ("provisioning_status", "operating_status"):
            yield self._status(f"octavia_member_{field}",
                               f"Member {field.replace('_', ' ')} (value 1 for the current "
                               f"state). {POLLED}", labels, field,
                               ((v, getattr(m, field)) for v, m in rows))

    def _healthmonitors(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "healthmonitor_id", "pool_id", "loadbalancer_id", "project_id"]
        rows = [([s.cloud, h.id, h.pool_id, h.loadbalancer_id, h.project_id], h) for s in snaps
                for h in s.healthmonitors.values()]
        yield self._info("octavia_healthmonitor", f"Health monitor metadata. {POLLED}", labels,
                         ["name", "monitor_type"],
                         ((v, [h.name, h.monitor_type]) for v, h in rows))
        yield self._gauge("octavia_healthmonitor_admin_state_up",
                          f"1 when the health monitor is administratively up. {POLLED}", labels,
                          ((v, 1.0 if h.admin_state_up else 0.0) for v, h in rows))
        for field in ("provisioning_status", "operating_status"):
            yield self._status(f"octavia_healthmonitor_{field}",
                               f"Health monitor {field.replace('_', ' ')} (value 1 for the "
                               f"current state). {POLLED}", labels, field,
                               ((v, getattr(h, field)) for v, h in rows))

    def _amphorae(self, snaps: list[FleetSnapshot]) -> Iterator[Metric]:
        labels = ["cloud", "amphora_id", "loadbalancer_id", "project_id"]
        with_amps = [s for s in snaps if s.amphorae_enabled]
        rows = [([s.cloud, a.id, a.loadbalancer_id, a.project_id], a) for s in with_amps
                for a in s.amphorae.values()]
        yield self._info(
            "octavia_amphora", f"Amphora metadata (admin only). {POLLED}", labels,
            ["compute_id", "role", "lb_network_ip", "vrrp_ip", "ha_ip", "image_id",
             "compute_flavor", "cached_zone"],
            ((v, [a.compute_id, a.role, a.lb_network_ip, a.vrrp_ip, a.ha_ip, a.image_id,
                  a.compute_flavor, a.cached_zone]) for v, a in rows))
        yield self._status("octavia_amphora_status",
                           f"Amphora status (value 1 for the current state). {POLLED}", labels,
                           "status", ((v, a.status) for v, a in rows))
        yield self._gauge("octavia_amphora_cert_expiration_timestamp_seconds",
                          f"When the amphora's agent certificate expires. {POLLED}", labels,
                          ((v, a.cert_expiration) for v, a in rows
                           if a.cert_expiration is not None))
        stat_labels = ["cloud", "amphora_id", "listener_id", "loadbalancer_id", "project_id"]
        stat_rows = []
        for s in with_amps:
            if not s.amphora_stats_enabled:
                continue
            for (amp_id, listener_id), st in s.amphora_stats.items():
                amp = s.amphorae.get(amp_id)
                if amp is not None:
                    stat_rows.append(
                        ([s.cloud, amp_id, listener_id, amp.loadbalancer_id, amp.project_id], st))
        if stat_rows:
            yield from self._stats("octavia_amphora", "amphora", stat_labels, stat_rows)
