"""The seeded fleet state the end-to-end tests need, set through the simulator's /_sim/ API.

Each state gets a load balancer of its own, created through the control API with a known shape
(one listener, one pool of three monitored members, two ALLOCATED amphorae) so the scenario
does not depend on which special cases the generated fleet happens to contain. The generated
fleet (30 load balancers, seed 7) stays around them as background.

The "data_plane" tree gets a PROMETHEUS listener (the simulator serves it on 127.0.0.1, reached
through the tree's loopback floating IP), which Prometheus finds through exporter A's service
discovery.

Neutron floating IPs (FLOATING_IPS) are attached through the control API too: some trees get
none, one or two, so every floating IP join is exercised with and without a floating IP, and
apply() attaches, moves and detaches one each (octavia_floating_ip_changes_total).

`create()` runs before the exporters start (the new trees are then part of their first cycle);
`apply()` runs once they have completed a cycle, so the changes are real status transitions
(octavia_status_transitions_total) rather than initial states.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.harness import http

# The load balancer the Alertmanager test flips to operating ERROR and back. Quotes and
# non-ASCII on purpose: the name travels exporter → Prometheus → Alertmanager → webhook.
ALERT_LB_NAME = 'e2e "alert" lb ñ'

ROLES = (
    "provisioning_error",  # provisioning_status ERROR
    "pending_update",  # provisioning_status PENDING_UPDATE (frozen clock: it stays pending)
    "operating_error",  # operating_status ERROR
    "member_error",  # one member ERROR; rolls up to pool/listener/load balancer DEGRADED
    "pool_down",  # every member of the pool ERROR; the pool rolls up to ERROR
    "healthmonitor_error",  # health monitor provisioning_status ERROR
    "connection_limit",  # listener connection_limit 100 with 95 active connections
    "traffic",  # counters pumped while the tests run: 20 % request errors per connection
    "amphora_error",  # an amphora in ERROR
    "amphora_failover_stopped",  # an amphora in FAILOVER_STOPPED
    "cert_expiring",  # an amphora certificate expiring in one day
    "alert",  # left healthy: the Alertmanager test owns it
    "data_plane",  # a PROMETHEUS listener too, scraped through discovery; traffic pumped, one
    #                member failed once Prometheus scrapes it (fail_data_plane_member)
)

CONNECTION_LIMIT = 100
ACTIVE_CONNECTIONS = 95
# Added to the "traffic" listener every PUMP_PERIOD seconds.
PUMP = {"total_connections": 50, "request_errors": 10, "bytes_in": 40_000, "bytes_out": 160_000}
PUMP_PERIOD = 0.5
CERT_EXPIRES_IN = 86_400  # one day: inside both the 14-day warning and the 3-day critical

# Floating IPs attached by create(), by role (documentation addresses, so never confused with
# the generated fleet's 172.24.x.x). Trees not listed have none: "provisioning_error" stays
# without one, so the not-ACTIVE table and the alerts are seen both ways.
FLOATING_IPS = {
    "operating_error": ["198.51.100.10"],
    "pending_update": ["198.51.100.20", "198.51.100.21"],
    "alert": ["198.51.100.30"],
    "traffic": ["198.51.100.40"],  # apply() moves it to "healthmonitor_error"
    "cert_expiring": ["198.51.100.50"],  # apply() detaches it
    # The simulator serves PROMETHEUS listeners on 127.0.0.1 (no VIP routes anywhere here), so
    # this load balancer's floating IP is the loopback address: Prometheus reaches the
    # listener through the floating IP, as one outside the tenant network would.
    "data_plane": ["127.0.0.1"],
}
ATTACHED_BY_APPLY = ("member_error", "198.51.100.60")
MOVED_BY_APPLY = ("traffic", "healthmonitor_error")
DETACHED_BY_APPLY = "cert_expiring"


@dataclass
class Tree:
    """The ids of one load balancer tree, as POST /_sim/loadbalancers answers them."""

    role: str
    name: str
    loadbalancer: str
    project_id: str
    listeners: list[str]
    pools: list[str]
    members: list[str]
    healthmonitors: list[str]
    amphorae: list[str]
    floating_ips: dict[str, str] = field(default_factory=dict)  # address -> floating IP id
    prometheus_listener: str = ""  # its PROMETHEUS listener, if any


@dataclass
class Scenario:
    sim_url: str
    trees: dict[str, Tree] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _pump: threading.Thread | None = None
    pump_errors: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = http(method, f"{self.sim_url}/_sim/{path}", body)
        if status >= 300:
            raise AssertionError(f"{method} /_sim/{path} {body}: HTTP {status}: {answer}")
        return answer

    def create(self) -> None:
        for role in ROLES:
            name = ALERT_LB_NAME if role == "alert" else f"e2e-{role}"
            ids = self.call("POST", "loadbalancers", {
                "name": name, "listeners": 1, "pools": 1, "members_per_pool": 3,
                "healthmonitor": True, "amphorae": 2,
            })
            self.trees[role] = Tree(role=role, name=name, loadbalancer=ids["loadbalancer"],
                                    **{k: ids[k] for k in ("project_id", "listeners", "pools",
                                                           "members", "healthmonitors",
                                                           "amphorae")})
        # Known starting point for every tree, whatever create_lb_tree defaults to.
        for tree in self.trees.values():
            lb = self.call("GET", f"loadbalancers/{tree.loadbalancer}")
            assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE"), lb
            for amphora in tree.amphorae:
                assert self.call("GET", f"amphorae/{amphora}")["status"] == "ALLOCATED"
        for role, addresses in FLOATING_IPS.items():
            for address in addresses:
                self.attach_new_floating_ip(role, address)
        tree = self.trees["data_plane"]
        made = self.call("POST", f"loadbalancers/{tree.loadbalancer}/prometheus",
                         {"name": "e2e-metrics"})
        tree.prometheus_listener = made["listener"]

    def fail_data_plane_member(self) -> None:
        """HAProxy counts check failures and downtime from the moment it sees the member go
        DOWN: done once Prometheus has scraped the member UP, so the counters rise in
        Prometheus rather than start high."""
        member = self.trees["data_plane"].members[0]
        self.call("PATCH", f"members/{member}", {"operating_status": "ERROR"})

    def attach_new_floating_ip(self, role: str, address: str) -> None:
        tree = self.trees[role]
        fip = self.call("POST", "floatingips", {"loadbalancer_id": tree.loadbalancer,
                                               "floating_ip_address": address})
        assert (fip["floating_ip_address"], fip["loadbalancer_id"], fip["status"]) == (
            address, tree.loadbalancer, "ACTIVE"), fip
        tree.floating_ips[address] = fip["id"]

    def move_floating_ip(self, source: str, target: str | None) -> None:
        """Move the (only) floating IP of `source` to `target`, or detach it (None)."""
        (address, fip_id), = self.trees[source].floating_ips.items()
        lb = None if target is None else self.trees[target].loadbalancer
        fip = self.call("PATCH", f"floatingips/{fip_id}", {"loadbalancer_id": lb})
        assert fip["loadbalancer_id"] == lb, fip
        del self.trees[source].floating_ips[address]
        if target is not None:
            self.trees[target].floating_ips[address] = fip_id

    def apply(self) -> None:
        t = self.trees
        self.call("PATCH", f"loadbalancers/{t['provisioning_error'].loadbalancer}",
                  {"provisioning_status": "ERROR"})
        self.call("PATCH", f"loadbalancers/{t['pending_update'].loadbalancer}",
                  {"provisioning_status": "PENDING_UPDATE"})
        self.call("PATCH", f"loadbalancers/{t['operating_error'].loadbalancer}",
                  {"operating_status": "ERROR"})
        self.call("PATCH", f"members/{t['member_error'].members[0]}", {"operating_status": "ERROR"})
        for member in t["pool_down"].members:
            self.call("PATCH", f"members/{member}", {"operating_status": "ERROR"})
        self.call("PATCH", f"healthmonitors/{t['healthmonitor_error'].healthmonitors[0]}",
                  {"provisioning_status": "ERROR"})
        listener = t["connection_limit"].listeners[0]
        self.call("PATCH", f"listeners/{listener}", {"connection_limit": CONNECTION_LIMIT})
        self.call("POST", f"listeners/{listener}/stats", {"active_connections": ACTIVE_CONNECTIONS})
        self.call("PATCH", f"amphorae/{t['amphora_error'].amphorae[0]}", {"status": "ERROR"})
        self.call("PATCH", f"amphorae/{t['amphora_failover_stopped'].amphorae[0]}",
                  {"status": "FAILOVER_STOPPED"})
        self.call("PATCH", f"amphorae/{t['cert_expiring'].amphorae[0]}",
                  {"cert_expiration": int(time.time()) + CERT_EXPIRES_IN})
        self.attach_new_floating_ip(*ATTACHED_BY_APPLY)
        self.move_floating_ip(*MOVED_BY_APPLY)
        self.move_floating_ip(DETACHED_BY_APPLY, None)
        # The simulator's roll-up is what the alerts rely on: check it did what we expect.
        for role, pool_status, lb_status in (("member_error", "DEGRADED", "DEGRADED"),
                                             ("pool_down", "ERROR", "DEGRADED")):
            pool = self.call("GET", f"pools/{t[role].pools[0]}")
            lb = self.call("GET", f"loadbalancers/{t[role].loadbalancer}")
            assert (pool["operating_status"], lb["operating_status"]) == (
                pool_status, lb_status), (role, pool["operating_status"], lb["operating_status"])
        self._pump = threading.Thread(target=self._pump_traffic, name="e2e-traffic", daemon=True)
        self._pump.start()

    def _pump_traffic(self) -> None:
        # The data plane's HTTP listener answers its request errors as 5xx (the simulator's
        # PROMETHEUS listener): 20 % of them.
        listeners = [self.trees[role].listeners[0] for role in ("traffic", "data_plane")]
        while not self._stop.is_set():
            for listener in listeners:
                try:
                    self.call("POST", f"listeners/{listener}/stats", {"mode": "add", **PUMP})
                except Exception as exc:  # reported by the tests that need the traffic
                    self.pump_errors.append(repr(exc))
            self._stop.wait(PUMP_PERIOD)  # pacing, not synchronisation

    def stop(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(10)

    def set_lb(self, role: str, **fields: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.call(
            "PATCH", f"loadbalancers/{self.trees[role].loadbalancer}", fields)
        return answer
