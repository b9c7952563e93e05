"""Floating IPs: which public address reaches each load balancer, against the simulator's Neutron."""

from __future__ import annotations

from tests.support.exporter import events
from tests.support.exposition import one


def floating(metrics) -> dict[str, set[str]]:
    """load balancer id -> its floating IP addresses, from the exposition."""
    found: dict[str, set[str]] = {}
    for labels, value in metrics.get("octavia_loadbalancer_floating_ip_info", []):
        assert value == 1
        found.setdefault(labels["loadbalancer_id"], set()).add(labels["floating_ip_address"])
    return found


def truth_floating(truth) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for fip in truth["floatingips"]:
        if fip.get("loadbalancer_id"):
            found.setdefault(fip["loadbalancer_id"], set()).add(fip["floating_ip_address"])
    return found


async def test_attached_floating_ips_match_neutron(control, make_exporter) -> None:
    exporter = make_exporter()
    metrics = await exporter.cycle()
    truth = await control.fleet()
    expected = truth_floating(truth)
    assert floating(metrics) == expected
    assert any(len(a) == 2 for a in expected.values())  # one load balancer with two
    assert any(lb["id"] not in expected for lb in truth["loadbalancers"])  # and one with none
    assert any(not f.get("loadbalancer_id") for f in truth["floatingips"])  # unattached: absent
    for labels, _ in metrics["octavia_loadbalancer_floating_ip_info"]:
        assert labels["status"] == "ACTIVE" and labels["floating_ip_id"]
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="floating_ips") == 1


async def test_attach_detach_and_move_are_events(control, make_exporter, log_buffer) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    truth = await control.fleet()
    expected = truth_floating(truth)
    free = next(f for f in truth["floatingips"] if not f.get("loadbalancer_id"))
    bare = next(lb["id"] for lb in truth["loadbalancers"] if lb["id"] not in expected)
    attached = next(f for f in truth["floatingips"] if f.get("loadbalancer_id"))
    mover = next(f for f in truth["floatingips"] if f.get("loadbalancer_id")
                 and f["id"] != attached["id"])
    target = next(lb["id"] for lb in truth["loadbalancers"]
                  if lb["id"] not in (mover["loadbalancer_id"], bare)
                  and lb["project_id"] == mover["project_id"])

    await control.call("PATCH", f"/_sim/floatingips/{free['id']}", {"loadbalancer_id": bare})
    await control.call("PATCH", f"/_sim/floatingips/{attached['id']}", {"port_id": None})
    await control.call("PATCH", f"/_sim/floatingips/{mover['id']}", {"loadbalancer_id": target})
    metrics = await exporter.cycle()

    now = floating(metrics)
    assert free["floating_ip_address"] in now[bare]
    assert attached["floating_ip_address"] not in now.get(attached["loadbalancer_id"], set())
    assert mover["floating_ip_address"] in now[target]
    assert mover["floating_ip_address"] not in now.get(mover["loadbalancer_id"], set())
    assert now == truth_floating(await control.fleet())
    logged = {e["event"]: e for e in events(log_buffer) if e["event"].startswith("floating_ip_")}
    assert logged["floating_ip_attached"]["new_loadbalancer_id"] == bare
    assert logged["floating_ip_detached"]["old_loadbalancer_id"] == attached["loadbalancer_id"]
    assert logged["floating_ip_moved"]["new_loadbalancer_id"] == target
    for change in ("attached", "detached", "moved"):
        assert exporter.counter("octavia_floating_ip_changes_total", cloud="simulator",
                                change=change) == 1


async def test_no_network_service_turns_the_feature_off_once(sim, control, make_exporter,
                                                               log_buffer) -> None:
    await control.call("PUT", "/_sim/config", {"neutron": False})
    exporter = make_exporter()
    await exporter.cycle()
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert not metrics.get("octavia_loadbalancer_floating_ip_info")
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="floating_ips") == 0
    warnings = [e for e in events(log_buffer) if e["event"] == "floating_ips_disabled"]
    assert len(warnings) == 1
    # No Neutron in the catalog: there is no URL to name, the reason says where to look.
    assert warnings[0]["reason"] == "no network (Neutron) endpoint in the service catalog"
    assert warnings[0]["url"] == ""


async def test_neutron_403_turns_the_feature_off(sim, control, make_exporter,
                                                  log_buffer) -> None:
    await control.faults({"kind": "error", "service": "neutron", "endpoint": "floatingips",
                          "status": 403})
    exporter = make_exporter()
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert metrics.get("octavia_member_info")
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="floating_ips") == 0
    warnings = [e for e in events(log_buffer) if e["event"] == "floating_ips_disabled"]
    assert len(warnings) == 1
    assert warnings[0]["reason"] == "Neutron answered 403 to the floating IP list"
    assert warnings[0]["url"] == f"{sim.base_url}/networking/v2.0/floatingips"
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()


async def test_neutron_failures_keep_last_known_and_spare_octavia(control, make_exporter) -> None:
    exporter = make_exporter(retries=0)
    first = await exporter.cycle()
    await control.faults({"kind": "error", "service": "neutron", "endpoint": "floatingips",
                          "status": 500})
    second = await exporter.cycle()
    assert one(second, "octavia_up", cloud="simulator") == 1
    assert floating(second) == floating(first) != {}
    assert len(second["octavia_member_info"]) == len(first["octavia_member_info"])
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="floatingips", reason="server_error") == 1
