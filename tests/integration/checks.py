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


def mismatches(metrics: Samples, truth: Truth, *, amphorae: bool = True) -> list[str]:
    """Every way the exposition differs from the truth (empty: they agree)."""
    found: list[str] = []

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
