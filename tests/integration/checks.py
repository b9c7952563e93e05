"""Compare one exposition with the truth read from Octavia's database, object by object."""

from __future__ import annotations

from typing import Any

from tests.integration.fleet import Truth, timestamp
from tests.support.exposition import Samples, one, status_of

STATUS_KINDS = (
    # metric prefix, id label, Truth attribute
    ("loadbalancer", "loadbalancer_id", "loadbalancers"),
    ("listener", "listener_id", "listeners"),
    ("pool", "pool_id", "pools"),
    ("member", "member_id", "members"),
    ("healthmonitor", "healthmonitor_id", "healthmonitors"),
)
RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "amphora")
TRAFFIC = (("bytes_in", "bytes_in_total"), ("bytes_out", "bytes_out_total"),
           ("total_connections", "connections_total"), ("request_errors", "request_errors_total"),
           ("active_connections", "active_connections"))


def ids_in(metrics: Samples, name: str, label: str) -> set[str]:
    return {labels[label] for labels, _ in metrics.get(name, [])}


# Listener timeouts exported as octavia_listener_info labels, in the API's milliseconds (the
# columns' unit); timeout_client_data is a gauge, in seconds.
LISTENER_TIMEOUT_LABELS = ("timeout_member_connect", "timeout_member_data", "timeout_tcp_inspect")
# health monitor gauge -> Octavia's column
PROBE_GAUGES = (("delay_seconds", "delay"), ("timeout_seconds", "timeout"))
# octavia_healthmonitor_info label -> Octavia's column (max_retries is rise_threshold there)
PROBE_LABELS = (("max_retries", "rise_threshold"), ("max_retries_down", "fall_threshold"))


def info_of(metrics: Samples, name: str, label: str, object_id: str,
            *keys: str) -> list[tuple[str, ...]]:
    """The values of `keys` on every `name` series of one object."""
    return [tuple(lab[k] for k in keys) for lab, _ in metrics.get(name, [])
            if lab[label] == object_id]


def number(value: Any) -> str:
    """An integer column (or NULL) as the exporter's label text."""
    return "" if value is None else str(value)


def flag(value: Any) -> str:
    """A boolean column (0/1/NULL) as the exporter's label text."""
    return "" if value is None else "true" if value else "false"


def setting_mismatches(metrics: Samples, truth: Truth, member_details: bool) -> list[str]:
    """The configured settings of every object against Octavia's database."""
    found: list[str] = []

    def check(what: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{what}: exporter {got!r}, Octavia {want!r}")

    for lb_id, lb in truth.loadbalancers.items():
        check(f"loadbalancer {lb_id} VIP settings",
              info_of(metrics, "octavia_loadbalancer_info", "loadbalancer_id", lb_id,
                      "vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids"),
              [(lb["vip_qos_policy_id"] or "", lb["vip_vnic_type"] or "",
                ",".join(lb["vip_sg_ids"]))])
        check(f"loadbalancer {lb_id} additional VIPs",
              sorted(info_of(metrics, "octavia_loadbalancer_additional_vip_info",
                             "loadbalancer_id", lb_id, "ip_address", "subnet_id", "port_id")),
              [tuple(v or "" for v in vip) for vip in lb["additional_vips"]])

    for listener_id, listener in truth.listeners.items():
        ms = listener["timeout_client_data"]
        check(f"listener {listener_id} timeout_client_data",
              one(metrics, "octavia_listener_timeout_client_data_seconds",
                  listener_id=listener_id),
              ms / 1000 if ms is not None else None)
        check(f"listener {listener_id} settings",
              info_of(metrics, "octavia_listener_info", "listener_id", listener_id,
                      "allowed_cidrs", *LISTENER_TIMEOUT_LABELS, "tls_versions",
                      "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
                      "hsts_preload"),
              # tls_versions and alpn_protocols: comma-joined lists in the database too
              [(",".join(listener["allowed_cidrs"]),
                *(number(listener[key]) for key in LISTENER_TIMEOUT_LABELS),
                listener["tls_versions"] or "", listener["alpn_protocols"] or "",
                number(listener["hsts_max_age"]), flag(listener["hsts_include_subdomains"]),
                flag(listener["hsts_preload"]))])

    for pool_id, pool in truth.pools.items():
        check(f"pool {pool_id} settings",
              info_of(metrics, "octavia_pool_info", "pool_id", pool_id, "session_persistence",
                      "tls_enabled", "tls_versions", "alpn_protocols"),
              [(pool["session_persistence"] or "", flag(pool["tls_enabled"]),
                pool["tls_versions"] or "", pool["alpn_protocols"] or "")])

    for hm_id, hm in truth.healthmonitors.items():
        for metric, column in PROBE_GAUGES:
            check(f"healthmonitor {hm_id} {column}",
                  one(metrics, f"octavia_healthmonitor_{metric}", healthmonitor_id=hm_id),
                  hm[column])
        check(f"healthmonitor {hm_id} settings",
              info_of(metrics, "octavia_healthmonitor_info", "healthmonitor_id", hm_id,
                      "http_method", "url_path", "expected_codes",
                      *(label for label, _ in PROBE_LABELS)),
              [(hm["http_method"] or "", (hm["url_path"] or "").split("?")[0],
                hm["expected_codes"] or "", *(number(hm[column]) for _, column in PROBE_LABELS))])

    # A member's weight, backup flag and monitor address are in its pool's member list only:
    # read for every pool with --member-details, else for the pools no listener uses.
    served = {lst["default_pool_id"] for lst in truth.listeners.values()}
    listed = {m_id for m_id, m in truth.members.items()
              if member_details or m["pool_id"] not in served}
    check("members with settings", ids_in(metrics, "octavia_member_monitor_info", "member_id"),
          listed)
    for member_id in listed:
        member = truth.members[member_id]
        check(f"member {member_id} monitor",
              info_of(metrics, "octavia_member_monitor_info", "member_id", member_id,
                      "monitor_address", "monitor_port"),
              [(member["monitor_address"] or "",
                "" if member["monitor_port"] is None else str(member["monitor_port"]))])
        check(f"member {member_id} weight",
              one(metrics, "octavia_member_configured_weight", member_id=member_id),
              member["weight"])
        check(f"member {member_id} backup",
              one(metrics, "octavia_member_backup", member_id=member_id),
              1.0 if member["backup"] else 0.0)
    return found


def mismatches(metrics: Samples, truth: Truth, *, amphorae: bool = True,
               member_details: bool = False) -> list[str]:
    """Every way the exposition differs from the truth (empty: they agree)."""
    found: list[str] = setting_mismatches(metrics, truth, member_details)

    def check(what: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{what}: exporter {got!r}, Octavia {want!r}")

    for kind, label, attribute in STATUS_KINDS:
        objects: dict[str, dict[str, Any]] = getattr(truth, attribute)
        check(f"{kind} ids", ids_in(metrics, f"octavia_{kind}_provisioning_status", label),
              set(objects))
        for object_id, row in objects.items():
            for field in ("provisioning_status", "operating_status"):
                check(f"{kind} {object_id} {field}",
                      status_of(metrics, f"octavia_{kind}_{field}", **{label: object_id}),
                      row[field])

    for lb_id, lb in truth.loadbalancers.items():
        info = [labels for labels, _ in metrics.get("octavia_loadbalancer_info", [])
                if labels["loadbalancer_id"] == lb_id]
        check(f"loadbalancer {lb_id} info", [(i["name"], i["project_id"]) for i in info],
              [(lb["name"] or "", lb["project_id"])])
        check(f"loadbalancer {lb_id} admin_state_up",
              one(metrics, "octavia_loadbalancer_admin_state_up", loadbalancer_id=lb_id),
              1.0 if lb["enabled"] else 0.0)
        for key, metric in TRAFFIC:
            check(f"loadbalancer {lb_id} {key}",
                  one(metrics, f"octavia_loadbalancer_stats_{metric}", loadbalancer_id=lb_id),
                  truth.lb_stats[lb_id][key])

    for listener_id, listener in truth.listeners.items():
        for key, metric in TRAFFIC:
            check(f"listener {listener_id} {key}",
                  one(metrics, f"octavia_listener_stats_{metric}", listener_id=listener_id),
                  truth.listener_stats[listener_id][key])
        limit = listener["connection_limit"]
        check(f"listener {listener_id} connection_limit",
              one(metrics, "octavia_listener_connection_limit", listener_id=listener_id),
              limit if limit is not None and limit >= 0 else None)
        check(f"listener {listener_id} loadbalancer",
              [lab["loadbalancer_id"] for lab, _ in metrics["octavia_listener_info"]
               if lab["listener_id"] == listener_id], [listener["load_balancer_id"]])

    for pool_id in truth.pools:
        check(f"pool {pool_id} members", one(metrics, "octavia_pool_members", pool_id=pool_id),
              sum(1 for m in truth.members.values() if m["pool_id"] == pool_id))

    for member_id, member in truth.members.items():
        info = [lab for lab, _ in metrics.get("octavia_member_info", [])
                if lab["member_id"] == member_id]
        check(f"member {member_id} info",
              [(i["pool_id"], i["loadbalancer_id"], i["address"], i["protocol_port"])
               for i in info],
              [(member["pool_id"], member["load_balancer_id"], member["ip_address"],
                str(member["protocol_port"]))])

    for hm_id, hm in truth.healthmonitors.items():
        check(f"healthmonitor {hm_id} pool",
              [lab["pool_id"] for lab, _ in metrics["octavia_healthmonitor_info"]
               if lab["healthmonitor_id"] == hm_id], [hm["pool_id"]])

    if amphorae:
        listed = {k: v for k, v in truth.amphorae.items() if v["status"] != "DELETED"}
        check("amphora ids", ids_in(metrics, "octavia_amphora_status", "amphora_id"),
              set(listed))
        for amp_id, amp in listed.items():
            check(f"amphora {amp_id} status",
                  status_of(metrics, "octavia_amphora_status", amphora_id=amp_id), amp["status"])
            check(f"amphora {amp_id} cert_expiration",
                  one(metrics, "octavia_amphora_cert_expiration_timestamp_seconds",
                      amphora_id=amp_id), timestamp(amp["cert_expiration"]))
            check(f"amphora {amp_id} loadbalancer",
                  [lab["loadbalancer_id"] for lab, _ in metrics["octavia_amphora_info"]
                   if lab["amphora_id"] == amp_id], [amp["load_balancer_id"] or ""])
    else:
        check("amphora series", metrics.get("octavia_amphora_status", []), [])
    return found
