"""Every metric family checked against what the simulator knows to be true."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from tests.support import golden
from tests.support.exposition import one, parse_exposition, status_of


def ts(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


async def test_every_object_and_counter_matches_the_simulator(make_exporter, control) -> None:
    exporter = make_exporter()
    metrics = await exporter.cycle()
    truth = await control.fleet()
    assert exporter.cycles == [True]
    assert one(metrics, "octavia_up", cloud="simulator") == 1

    counts = {lab["resource"]: v for lab, v in metrics["octavia_snapshot_objects"]}
    for resource, kind in (("loadbalancer", "loadbalancers"), ("listener", "listeners"),
                           ("pool", "pools"), ("member", "members"),
                           ("healthmonitor", "healthmonitors"), ("amphora", "amphorae")):
        assert counts[resource] == len(truth[kind]) == truth["counts"][kind], resource

    for lb in truth["loadbalancers"]:
        for field in ("provisioning_status", "operating_status"):
            assert status_of(metrics, f"octavia_loadbalancer_{field}",
                             loadbalancer_id=lb["id"]) == lb[field]
        info = [lab for lab, _ in metrics["octavia_loadbalancer_info"]
                if lab["loadbalancer_id"] == lb["id"]]
        assert info[0]["name"] == lb["name"] and info[0]["vip_address"] == lb["vip_address"]
        assert info[0]["project_id"] == lb["project_id"]
        for key, metric in (("bytes_in", "bytes_in_total"), ("bytes_out", "bytes_out_total"),
                            ("total_connections", "connections_total"),
                            ("request_errors", "request_errors_total"),
                            ("active_connections", "active_connections")):
            assert one(metrics, f"octavia_loadbalancer_stats_{metric}",
                       loadbalancer_id=lb["id"]) == lb["stats"][key], (lb["id"], key)
        assert one(metrics, "octavia_loadbalancer_admin_state_up",
                   loadbalancer_id=lb["id"]) == (1 if lb["admin_state_up"] else 0)

    for lst in truth["listeners"]:
        for field in ("provisioning_status", "operating_status"):
            assert status_of(metrics, f"octavia_listener_{field}", listener_id=lst["id"]) == lst[field]
        assert one(metrics, "octavia_listener_stats_bytes_out_total",
                   listener_id=lst["id"]) == lst["stats"]["bytes_out"]
        limit = one(metrics, "octavia_listener_connection_limit", listener_id=lst["id"])
        assert limit == (lst["connection_limit"] if lst["connection_limit"] > 0 else None)

    for pool in truth["pools"]:
        assert status_of(metrics, "octavia_pool_operating_status", pool_id=pool["id"]) == \
            pool["operating_status"]
        assert one(metrics, "octavia_pool_members", pool_id=pool["id"]) == len(pool["members"])

    for member in truth["members"]:
        for field in ("provisioning_status", "operating_status"):
            assert status_of(metrics, f"octavia_member_{field}", member_id=member["id"],
                             pool_id=member["pool_id"],
                             loadbalancer_id=member["loadbalancer_id"]) == member[field]
        info = [lab for lab, _ in metrics["octavia_member_info"] if lab["member_id"] == member["id"]]
        assert (info[0]["address"], info[0]["protocol_port"]) == (
            member["address"], str(member["protocol_port"]))

    for hm in truth["healthmonitors"]:
        assert status_of(metrics, "octavia_healthmonitor_operating_status",
                         healthmonitor_id=hm["id"], pool_id=hm["pool_id"]) == hm["operating_status"]

    for amp in truth["amphorae"]:
        assert status_of(metrics, "octavia_amphora_status", amphora_id=amp["id"]) == amp["status"]
        assert one(metrics, "octavia_amphora_cert_expiration_timestamp_seconds",
                   amphora_id=amp["id"]) == ts(amp["cert_expiration"])


async def test_fleet_has_the_cases_that_matter(control) -> None:
    """Guard the seed: the checks above are only meaningful if these cases exist."""
    truth = await control.fleet()
    pool_listeners = [bool(p["listeners"]) for p in truth["pools"]]
    assert not all(pool_listeners), "no unattached pool: per-pool member listing untested"
    assert any(m["operating_status"] != "ONLINE" for m in truth["members"])
    assert any(lb["listeners"] == [] for lb in truth["loadbalancers"])
    assert len(truth["loadbalancers"]) > 5  # more than one page at page_cap 5


async def test_golden_exposition(make_exporter) -> None:
    # A test that writes what it then compares against can never fail: regenerating is a
    # command of its own, and a run that asks this test to regenerate fails.
    assert not os.environ.get("UPDATE_GOLDEN"), \
        "UPDATE_GOLDEN does not rewrite the golden file: python -m tests.support.golden does"
    exporter = make_exporter()
    await exporter.cycle()
    text = golden.stable_text(exporter)
    assert golden.GOLDEN.exists(), "python -m tests.support.golden writes the golden file"
    expected = golden.GOLDEN.read_text()
    def canonical(exposition: str) -> dict:
        return {name: sorted(samples, key=repr)
                for name, samples in parse_exposition(exposition).items()}

    assert canonical(text) == canonical(expected)
    # Every line as written (formatting, escaping, HELP/TYPE); members come in the order their
    # load balancers' detail arrived, which concurrent reads do not fix, so order is not compared.
    assert sorted(text.splitlines()) == sorted(expected.splitlines())
