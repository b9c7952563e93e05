"""The fleet's metric families, defined once, from the latest snapshot of every cloud.

Both renderers consume these definitions: `collector.FleetCollector` (a prometheus_client
Collector, for any registry) and `render` (the fast writer that /metrics serves from). Everything
here reads only snapshots and polling health, so deleted objects vanish by construction.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.model import states
from exporter.model.capabilities import OPTIONAL_LISTS
from exporter.model.snapshot import PROBE, TIMEOUTS, CloudView, FleetSnapshot, Stats

POLLED = "Polled in the background every --interval."
STATS_FIELDS = (
    ("bytes_in", "Bytes received", "counter"),
    ("bytes_out", "Bytes sent", "counter"),
    ("connections", "Connections handled", "counter"),
    ("request_errors", "Request errors", "counter"),
    ("active_connections", "Connections open now", "gauge"),
)
STATS_ATTRS = {"connections": "total_connections"}

Sample = tuple[Sequence[str], float]
# What a family's samples are made of, compared by identity: snapshots never change a mapping
# once published, so a family whose key holds the same objects as last time has the same text
# (render.RenderCache). None: always rendered.
Key = tuple[object, ...] | None


def _key(snaps: Sequence[FleetSnapshot], stateset: bool, *fields: str) -> Key:
    return (stateset, *(x for s in snaps for x in (s.cloud, *(getattr(s, f) for f in fields))))


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family. `name` is the OpenMetrics family name: counters without `_total`,
    info families without `_info`; `labels` includes the info keys for info families."""

    name: str
    kind: str  # gauge | counter | info
    help: str
    labels: Sequence[str]
    samples: Iterable[Sample]
    key: Key = None

    @property
    def sample_name(self) -> str:
        if self.kind == "counter":
            return self.name + "_total"
        if self.kind == "info":
            return self.name + "_info"
        return self.name


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def _maybe(value: bool | None) -> str:
    """A flag as label text: "true", "false", or "" where the API gave none."""
    return "" if value is None else "true" if value else "false"


# snapshot.TIMEOUTS and snapshot.PROBE put first the settings exported as gauges, the numbers
# to alert or graph on (a listener's client timeout, a monitor's delay against its timeout);
# the others are labels of the info families, as the API sends them (timeouts in milliseconds).
CLIENT_DATA = 0
TIMEOUT_LABELS = TIMEOUTS[CLIENT_DATA + 1:]
PROBE_GAUGES = (
    ("delay", "Seconds between the health monitor's probes of a member."),
    ("timeout", "Seconds the health monitor waits for a probe's answer."),
)
PROBE_LABELS = PROBE[len(PROBE_GAUGES):]
assert TIMEOUTS[CLIENT_DATA] == "timeout_client_data"
assert tuple(field for field, _ in PROBE_GAUGES) == PROBE[:len(PROBE_GAUGES)]


@functools.lru_cache(maxsize=4096)
def _texts(values: tuple[int | bool | None, ...], start: int = 0) -> tuple[str, ...]:
    """values[start:] of a shared settings tuple (parse.compact) as label text, made once per
    distinct tuple: numbers as the API sends them, flags as `_maybe`, "" for None."""
    return tuple(_maybe(v) if isinstance(v, bool) else _str(v) for v in values[start:])


def _status(name: str, what: str, labels: list[str], field: str, stateset: bool,
            rows: Iterable[tuple[list[str], str]], key: Key = None) -> Family:
    known = states.states_for(field)

    def samples() -> Iterator[Sample]:
        for values, current in rows:
            if stateset:
                for state in known:
                    yield [*values, state], 1.0 if state == current else 0.0
                if current not in known:
                    yield [*values, current], 1.0
            else:
                yield [*values, current], 1.0

    pretty = field.replace("_", " ")
    return Family(name, "gauge", f"{what} {pretty} (value 1 for the current state). {POLLED}",
                  [*labels, "status"], samples(), key)


def _stats(prefix: str, what: str, labels: list[str],
           rows: Sequence[tuple[list[str], Stats]], key: Key = None) -> Iterator[Family]:
    for field, text, kind in STATS_FIELDS:
        attr = STATS_ATTRS.get(field, field)
        doc = (f"{text} by the {what}, cumulative as Octavia reports it. {POLLED}"
               if kind == "counter" else f"{text} on the {what}. {POLLED}")
        yield Family(f"{prefix}_stats_{field}", kind, doc, labels,
                     ((values, float(getattr(st, attr))) for values, st in rows), key)


def _gauge(name: str, doc: str, labels: list[str], rows: Iterable[Sample],
           key: Key = None) -> Family:
    return Family(name, "gauge", doc, labels, rows, key)


def _info(name: str, doc: str, labels: list[str], keys: list[str],
          rows: Iterable[tuple[list[str], list[str]]], key: Key = None) -> Family:
    return Family(name, "info", doc, [*labels, *keys],
                  (([*values, *info], 1.0) for values, info in rows), key)


def _states(prefix: str, what: str, labels: list[str], rows: Sequence[tuple[list[str], Any]],
            stateset: bool, admin: bool = True, key: Key = None) -> Iterator[Family]:
    """The admin-state gauge and both status families every Octavia object kind has."""
    if admin:
        yield _gauge(f"{prefix}_admin_state_up",
                     f"1 when the {what.lower()} is administratively up. {POLLED}", labels,
                     ((v, _flag(x.admin_state_up)) for v, x in rows), key)
    for field in ("provisioning_status", "operating_status"):
        yield _status(f"{prefix}_{field}", what, labels, field, stateset,
                      ((v, getattr(x, field)) for v, x in rows), key)


def health_families(views: Sequence[CloudView]) -> Iterator[Family]:
    usable = [(v, v.snapshot) for v in views]
    yield _gauge("octavia_up", "1 when the last poll cycle could read the Octavia API's bulk "
                 "lists, 0 otherwise; per-load-balancer detail never changes it.", ["cloud"],
                 [([v.health.cloud], _flag(v.health.up)) for v in views])
    yield _gauge("octavia_poll_interval_seconds", "Seconds between the starts of two tier-1 "
                 "cycles: --interval, or longer while the bulk lists would otherwise hold the API "
                 "more than --lists-share of the time; rules scale staleness thresholds by it.",
                 ["cloud"],
                 [([v.health.cloud], v.health.interval) for v in views])
    yield _gauge("octavia_poll_duration_seconds",
                 "Wall time of the last tier-1 cycle (the bulk lists).", ["cloud"],
                 [([v.health.cloud], v.health.last_cycle_duration) for v in views])
    yield _gauge("octavia_last_poll_success_timestamp_seconds",
                 "When the last successful poll cycle ended (0: never).", ["cloud"],
                 [([v.health.cloud], v.health.last_success) for v in views])
    yield _gauge("octavia_snapshot_objects", f"Objects in the exported snapshot, by kind. {POLLED}",
                 ["cloud", "resource"],
                 [([v.health.cloud, resource], float(count)) for v, snap in usable
                  if snap is not None and not v.health.stale_withdrawn
                  for resource, count in snap.counts().items()])
    yield _gauge("octavia_collector_enabled", "1 when an optional collection is on for this cloud.",
                 ["cloud", "collector"],
                 [([v.health.cloud, name], _flag(getattr(v.capabilities, name)))
                  for v in views
                  for name in ("amphorae", "amphora_stats", "floating_ips", *OPTIONAL_LISTS,
                               "project_names")])


def loadbalancer_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, lb.id, lb.project_id], lb) for s in snaps for lb in s.loadbalancers.values()]
    key = _key(snaps, stateset, "loadbalancers")
    yield _info("octavia_loadbalancer", f"Load balancer metadata. {POLLED}", labels,
                ["name", "vip_address", "vip_port_id", "vip_network_id", "vip_subnet_id",
                 "provider", "flavor_id", "availability_zone", "vip_qos_policy_id",
                 "vip_vnic_type", "vip_sg_ids"],
                ((v, [lb.name, lb.vip_address, lb.vip_port_id, lb.vip_network_id,
                      lb.vip_subnet_id, lb.provider, lb.flavor_id, lb.availability_zone,
                      lb.vip_qos_policy_id, lb.vip_vnic_type, lb.vip_sg_ids])
                 for v, lb in rows), key)
    yield _info("octavia_loadbalancer_additional_vip",
                f"The load balancer's additional VIPs (API 2.26), one series each. {POLLED}",
                labels, ["ip_address", "subnet_id", "port_id"],
                ((v, list(vip)) for v, lb in rows for vip in lb.additional_vips), key)
    yield from _states("octavia_loadbalancer", "Load balancer", labels, rows, stateset, key=key)
    for attr, what in (("created_at", "created"), ("updated_at", "updated")):
        yield _gauge(f"octavia_loadbalancer_{what}_timestamp_seconds",
                     f"When the load balancer was last {what}, per the API. {POLLED}", labels,
                     ((v, getattr(lb, attr)) for v, lb in rows if getattr(lb, attr) is not None),
                     key)
    yield _gauge("octavia_loadbalancer_detail_timestamp_seconds",
                 "When the load balancer's detail (members, stats) was read: the oldest of its "
                 "parts. Absent until first read.", labels,
                 (([s.cloud, lb.id, lb.project_id], s.detail_read_at[lb.id])
                  for s in snaps for lb in s.loadbalancers.values()
                  if lb.id in s.detail_read_at),
                 _key(snaps, stateset, "loadbalancers", "detail_read_at"))
    yield _info("octavia_loadbalancer_floating_ip",
                f"Neutron floating IPs attached to the load balancer's VIP port, one series each. "
                f"{POLLED}", labels, ["floating_ip_address", "floating_ip_id", "status"],
                (([s.cloud, f.loadbalancer_id, s.loadbalancers[f.loadbalancer_id].project_id],
                  [f.address, f.id, f.status])
                 for s in snaps for f in s.floating_ips.values()
                 if f.loadbalancer_id in s.loadbalancers),
                _key(snaps, stateset, "loadbalancers", "floating_ips"))
    yield from _stats("octavia_loadbalancer", "load balancer", labels,
                      [(v, s.loadbalancer_stats[lb.id]) for s in snaps
                       for lb in s.loadbalancers.values() if lb.id in s.loadbalancer_stats
                       for v in [[s.cloud, lb.id, lb.project_id]]],
                      _key(snaps, stateset, "loadbalancers", "loadbalancer_stats"))


def listener_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "listener_id", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, x.id, x.loadbalancer_id, x.project_id], x) for s in snaps
            for x in s.listeners.values()]
    key = _key(snaps, stateset, "listeners")
    yield _info("octavia_listener", f"Listener metadata and settings (timeout_* labels in the "
                f"API's milliseconds, hsts_max_age in seconds). {POLLED}", labels,
                ["name", "protocol", "protocol_port", "default_pool_id", "allowed_cidrs",
                 *TIMEOUT_LABELS, "tls_versions", "alpn_protocols", "hsts_max_age",
                 "hsts_include_subdomains", "hsts_preload"],
                ((v, [x.name, x.protocol, _str(x.protocol_port), x.default_pool_id,
                      x.allowed_cidrs, *_texts(x.timeouts, CLIENT_DATA + 1), x.tls_versions,
                      x.alpn_protocols, *_texts(x.hsts)])
                 for v, x in rows), key)
    yield from _states("octavia_listener", "Listener", labels, rows, stateset, key=key)
    yield _gauge("octavia_listener_connection_limit",
                 f"Maximum connections the listener accepts; absent when unlimited. {POLLED}",
                 labels, ((v, float(x.connection_limit)) for v, x in rows
                          if x.connection_limit > 0), key)
    yield _gauge("octavia_listener_timeout_client_data_seconds",
                 f"How long the listener waits for a client to send or receive data (the API's "
                 f"timeout_client_data, in seconds). {POLLED}", labels,
                 ((v, ms / 1000.0) for v, x in rows
                  if (ms := x.timeouts[CLIENT_DATA]) is not None), key)
    yield from _stats("octavia_listener", "listener", labels,
                      [(v, s.listener_stats[x.id]) for s in snaps for x in s.listeners.values()
                       if x.id in s.listener_stats
                       for v in [[s.cloud, x.id, x.loadbalancer_id, x.project_id]]],
                      _key(snaps, stateset, "listeners", "listener_stats"))


def pool_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "pool_id", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, x.id, x.loadbalancer_id, x.project_id], x) for s in snaps
            for x in s.pools.values()]
    key = _key(snaps, stateset, "pools")
    yield _info("octavia_pool", f"Pool metadata. {POLLED}", labels,
                ["name", "protocol", "lb_algorithm", "session_persistence", "tls_enabled",
                 "tls_versions", "alpn_protocols"],
                ((v, [x.name, x.protocol, x.lb_algorithm, x.session_persistence,
                      _maybe(x.tls_enabled), x.tls_versions, x.alpn_protocols])
                 for v, x in rows), key)
    yield from _states("octavia_pool", "Pool", labels, rows, stateset, key=key)
    yield _gauge("octavia_pool_members", f"Members in the pool. {POLLED}", labels,
                 ((v, float(len(x.member_ids))) for v, x in rows), key)


def member_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "member_id", "pool_id", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, m.id, m.pool_id, m.loadbalancer_id, m.project_id], m) for s in snaps
            for m in s.members.values()]
    key = _key(snaps, stateset, "members")
    yield _info("octavia_member", f"Pool member metadata. {POLLED}", labels,
                ["name", "address", "protocol_port"],
                ((v, [m.name, m.address, _str(m.protocol_port)]) for v, m in rows), key)
    yield from _states("octavia_member", "Member", labels, rows, stateset, admin=False, key=key)
    yield _gauge("octavia_member_admin_state_up",
                 f"1 when the member is administratively up (with --member-details). {POLLED}",
                 labels, ((v, _flag(m.admin_state_up)) for v, m in rows
                          if m.admin_state_up is not None), key)
    yield _gauge("octavia_member_configured_weight",
                 f"The member's weight, 0 to 256 (with --member-details). {POLLED}", labels,
                 ((v, float(m.weight)) for v, m in rows if m.weight is not None), key)
    yield _gauge("octavia_member_backup",
                 f"1 when the member is a backup member (with --member-details). {POLLED}",
                 labels, ((v, _flag(m.backup)) for v, m in rows if m.backup is not None), key)
    yield _info("octavia_member_monitor",
                f"Where the member's health checks go when not to its own address and port "
                f"(\"\" where unset; with --member-details). {POLLED}", labels,
                ["monitor_address", "monitor_port"],
                ((v, list(m.monitor)) for v, m in rows if m.monitor is not None), key)


def healthmonitor_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "healthmonitor_id", "pool_id", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, h.id, h.pool_id, h.loadbalancer_id, h.project_id], h) for s in snaps
            for h in s.healthmonitors.values()]
    key = _key(snaps, stateset, "healthmonitors")
    yield _info("octavia_healthmonitor", f"Health monitor metadata and settings. {POLLED}",
                labels, ["name", "monitor_type", "http_method", "url_path", "expected_codes",
                         *PROBE_LABELS],
                ((v, [h.name, h.monitor_type, h.http_method, h.url_path, h.expected_codes,
                      *_texts(h.probe, len(PROBE_GAUGES))])
                 for v, h in rows), key)
    yield from _states("octavia_healthmonitor", "Health monitor", labels, rows, stateset,
                       key=key)
    for i, (field, doc) in enumerate(PROBE_GAUGES):
        yield _gauge(f"octavia_healthmonitor_{field}_seconds", f"{doc} {POLLED}", labels,
                     ((v, float(p)) for v, h in rows if (p := h.probe[i]) is not None), key)


def amphora_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    labels = ["cloud", "amphora_id", "loadbalancer_id", "project_id"]
    with_amps = snaps
    rows = [([s.cloud, a.id, a.loadbalancer_id, a.project_id], a) for s in with_amps
            for a in s.amphorae.values()]
    key = _key(snaps, stateset, "amphorae")
    yield _info("octavia_amphora", f"Amphora metadata (admin only). {POLLED}", labels,
                ["compute_id", "role", "lb_network_ip", "vrrp_ip", "ha_ip", "image_id",
                 "compute_flavor", "cached_zone"],
                ((v, [a.compute_id, a.role, a.lb_network_ip, a.vrrp_ip, a.ha_ip, a.image_id,
                      a.compute_flavor, a.cached_zone]) for v, a in rows), key)
    yield _status("octavia_amphora_status", "Amphora", labels, "status", stateset,
                  ((v, a.status) for v, a in rows), key)
    yield _gauge("octavia_amphora_cert_expiration_timestamp_seconds",
                 f"When the amphora's agent certificate expires. {POLLED}", labels,
                 ((v, a.cert_expiration) for v, a in rows if a.cert_expiration is not None),
                 key)
    stat_rows = [([s.cloud, amp_id, listener_id, amp.loadbalancer_id, amp.project_id], st)
                 for s in with_amps
                 for (amp_id, listener_id), st in s.amphora_stats.items()
                 for amp in [s.amphorae.get(amp_id)] if amp is not None]
    if stat_rows:
        yield from _stats("octavia_amphora", "amphora",
                          ["cloud", "amphora_id", "listener_id", "loadbalancer_id", "project_id"],
                          stat_rows, _key(snaps, stateset, "amphorae", "amphora_stats"))



def _bool(value: bool) -> str:
    return "true" if value else "false"


def l7_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    """L7 policies (from the bulk policy list) and rules (from each policy's rule list). A
    rule's `value` is never exported: it can hold a cookie or a header secret."""
    labels = ["cloud", "l7policy_id", "listener_id", "loadbalancer_id", "project_id"]
    rows = [([s.cloud, p.id, p.listener_id, lst.loadbalancer_id, p.project_id], p)
            for s in snaps for p in s.l7policies.values()
            for lst in [s.listeners.get(p.listener_id)] if lst is not None]
    key = _key(snaps, stateset, "l7policies", "listeners")
    yield _info("octavia_l7policy", f"L7 policy metadata. {POLLED}", labels,
                ["name", "action", "position", "redirect_pool_id", "redirect_url",
                 "redirect_prefix"],
                ((v, [p.name, p.action, _str(p.position), p.redirect_pool_id, p.redirect_url,
                      p.redirect_prefix]) for v, p in rows), key)
    yield from _states("octavia_l7policy", "L7 policy", labels, rows, stateset, key=key)
    rule_labels = ["cloud", "l7rule_id", "l7policy_id", "listener_id", "loadbalancer_id",
                   "project_id"]
    rule_rows = [([s.cloud, r.id, r.l7policy_id, r.listener_id, lst.loadbalancer_id,
                   r.project_id], r)
                 for s in snaps for r in s.l7rules.values()
                 for lst in [s.listeners.get(r.listener_id)] if lst is not None]
    rule_key = _key(snaps, stateset, "l7rules", "listeners")
    yield _info("octavia_l7rule", f"L7 rule metadata, never its value. {POLLED}", rule_labels,
                ["rule_type", "compare_type", "key", "invert"],
                ((v, [r.rule_type, r.compare_type, r.key, _bool(r.invert)])
                 for v, r in rule_rows), rule_key)
    yield from _states("octavia_l7rule", "L7 rule", rule_labels, rule_rows, stateset,
                       key=rule_key)


QUOTA_RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy",
                   "l7rule")


def quota_usage(snap: FleetSnapshot) -> dict[str, dict[str, int]]:
    """Objects per project and quota resource, counted from the snapshot (members and rules
    from their parents' id lists, which the bulk lists carry every cycle)."""
    usage: dict[str, dict[str, int]] = {}

    def add(project: str, resource: str, count: int = 1) -> None:
        usage.setdefault(project, dict.fromkeys(QUOTA_RESOURCES, 0))[resource] += count

    for lb in snap.loadbalancers.values():
        add(lb.project_id, "loadbalancer")
    for lst in snap.listeners.values():
        add(lst.project_id, "listener")
    for pool in snap.pools.values():
        add(pool.project_id, "pool")
        add(pool.project_id, "member", len(pool.member_ids))
    for hm in snap.healthmonitors.values():
        add(hm.project_id, "healthmonitor")
    for pol in snap.l7policies.values():
        add(pol.project_id, "l7policy")
        add(pol.project_id, "l7rule", len(pol.rule_ids))
    return usage


def quota_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    # Quota data exists only while the cloud lets us read quotas (capabilities.quotas).
    with_quotas = [s for s in snaps if s.quota_defaults or s.quota_limits]
    usages: dict[str, dict[str, dict[str, int]]] = {}
    # Counted on first use: a render that finds these families unchanged never needs it.
    key = _key(with_quotas, stateset, "loadbalancers", "listeners", "pools", "healthmonitors",
               "l7policies", "quota_limits", "quota_defaults")

    def usage(s: FleetSnapshot) -> dict[str, dict[str, int]]:
        if s.cloud not in usages:
            usages[s.cloud] = quota_usage(s)
        return usages[s.cloud]

    def projects(s: FleetSnapshot) -> list[str]:
        return sorted(set(s.quota_limits) | {p for p in usage(s) if p})

    labels = ["cloud", "project_id", "resource"]
    yield _gauge("octavia_quota_limit",
                 f"The project's Octavia quota for the resource (-1: unlimited); the default "
                 f"where the project has none of its own. {POLLED}", labels,
                 (([s.cloud, project, resource], float(limit)) for s in with_quotas
                  for project in projects(s)
                  for resource, limit in (s.quota_limits.get(project)
                                          or s.quota_defaults).items()), key)
    yield _gauge("octavia_quota_usage",
                 f"Objects of the resource the project has, counted from the polled fleet. "
                 f"{POLLED}", labels,
                 (([s.cloud, project, resource], float(count)) for s in with_quotas
                  for project in projects(s)
                  for resource, count in usage(s).get(
                      project, dict.fromkeys(QUOTA_RESOURCES, 0)).items()), key)
    yield _gauge("octavia_quota_default_limit",
                 f"Octavia's configured default quota for the resource (-1: unlimited). {POLLED}",
                 ["cloud", "resource"],
                 (([s.cloud, resource], float(limit)) for s in with_quotas
                  for resource, limit in s.quota_defaults.items()),
                 _key(with_quotas, stateset, "quota_defaults"))
    yield _info("octavia_project", "Project names, where Keystone lets the exporter read them "
                "(GET /v3/projects, or /v3/auth/projects), refreshed every "
                "--project-names-interval.", ["cloud", "project_id"], ["project_name"],
                (([s.cloud, project], [name]) for s in snaps
                 for project, name in sorted(s.project_names.items())),
                _key(snaps, stateset, "project_names"))


def offering_families(snaps: Sequence[FleetSnapshot], stateset: bool) -> Iterator[Family]:
    yield _info("octavia_flavor", f"Load-balancer flavors the cloud offers. {POLLED}",
                ["cloud", "flavor_id"], ["name", "enabled", "flavor_profile_id", "description"],
                (([s.cloud, f.id], [f.name, _bool(f.enabled), f.flavor_profile_id,
                                    f.description])
                 for s in snaps for f in s.flavors.values()), _key(snaps, stateset, "flavors"))
    yield _info("octavia_availability_zone", f"Availability zones the cloud offers. {POLLED}",
                ["cloud", "availability_zone"],
                ["enabled", "availability_zone_profile_id", "description"],
                (([s.cloud, z.name], [_bool(z.enabled), z.availability_zone_profile_id,
                                      z.description])
                 for s in snaps for z in s.availability_zones.values()),
                _key(snaps, stateset, "availability_zones"))
    yield _info("octavia_provider", f"Provider drivers the cloud has enabled. {POLLED}",
                ["cloud", "provider"], ["description"],
                (([s.cloud, p.name], [p.description]) for s in snaps
                 for p in s.providers.values()), _key(snaps, stateset, "providers"))

FLEET: tuple[Callable[[Sequence[FleetSnapshot], bool], Iterator[Family]], ...] = (
    loadbalancer_families, listener_families, pool_families, member_families,
    healthmonitor_families, amphora_families, l7_families, quota_families, offering_families,
)


def _collected(snapshot: FleetSnapshot, view: CloudView) -> FleetSnapshot:
    """The snapshot without what its cloud no longer lets us collect."""
    if not view.capabilities.amphorae and (snapshot.amphorae or snapshot.amphora_stats):
        return dataclasses.replace(snapshot, amphorae={}, amphora_stats={})
    if not view.capabilities.amphora_stats and snapshot.amphora_stats:
        return dataclasses.replace(snapshot, amphora_stats={})
    return snapshot


def all_families(views: Sequence[CloudView], stateset: bool = False) -> Iterator[Family]:
    """Every family, each exactly once, across all clouds."""
    yield from health_families(views)
    snaps = [_collected(v.snapshot, v) for v in views
             if v.snapshot is not None and not v.health.stale_withdrawn]
    for build in FLEET:
        yield from build(snaps, stateset)



