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


def labels_of(metrics: dict, name: str, label: str, object_id: str, *keys: str) -> list[tuple]:
    return [tuple(lab[k] for k in keys) for lab, _ in metrics.get(name, [])
            if lab[label] == object_id]


def joined(value: list[str] | None, sort: bool = False) -> str:
    return ",".join(sorted(value) if sort else value) if value else ""


def flag(value: bool | None) -> str:
    return "" if value is None else "true" if value else "false"


def setting_differences(metrics: dict, truth: dict) -> list[str]:
    """Every configured setting the exposition shows differently from the simulator's API."""
    found: list[str] = []

    def check(what: str, got: object, want: object) -> None:
        if got != want:
            found.append(f"{what}: exporter {got!r}, simulator {want!r}")

    for lb in truth["loadbalancers"]:
        check(f"lb {lb['id']}", labels_of(metrics, "octavia_loadbalancer_info", "loadbalancer_id",
                                          lb["id"], "vip_qos_policy_id", "vip_vnic_type",
                                          "vip_sg_ids"),
              [(lb["vip_qos_policy_id"] or "", lb["vip_vnic_type"], joined(lb["vip_sg_ids"], True))])
        check(f"lb {lb['id']} additional VIPs",
              sorted(labels_of(metrics, "octavia_loadbalancer_additional_vip_info",
                               "loadbalancer_id", lb["id"], "ip_address", "subnet_id", "port_id")),
              sorted((v["ip_address"], v["subnet_id"], v["port_id"])
                     for v in lb["additional_vips"]))
    for lst in truth["listeners"]:
        check(f"listener {lst['id']} timeout_client_data",
              one(metrics, "octavia_listener_timeout_client_data_seconds", listener_id=lst["id"]),
              lst["timeout_client_data"] / 1000)
        # The other settings are labels, the API's numbers as sent (timeouts in milliseconds).
        check(f"listener {lst['id']}", labels_of(
            metrics, "octavia_listener_info", "listener_id", lst["id"], "allowed_cidrs",
            "timeout_member_connect", "timeout_member_data", "timeout_tcp_inspect",
            "tls_versions", "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
            "hsts_preload"),
              [(joined(lst["allowed_cidrs"], True), _text(lst["timeout_member_connect"]),
                _text(lst["timeout_member_data"]), _text(lst["timeout_tcp_inspect"]),
                joined(lst["tls_versions"]), joined(lst["alpn_protocols"]),
                _text(lst["hsts_max_age"]), flag(lst["hsts_include_subdomains"]),
                flag(lst["hsts_preload"]))])
    for pool in truth["pools"]:
        persistence = pool["session_persistence"]
        check(f"pool {pool['id']}", labels_of(
            metrics, "octavia_pool_info", "pool_id", pool["id"], "session_persistence",
            "tls_enabled", "tls_versions", "alpn_protocols"),
              [(persistence["type"] if persistence else "", flag(pool["tls_enabled"]),
                joined(pool["tls_versions"]), joined(pool["alpn_protocols"]))])
    for hm in truth["healthmonitors"]:
        check(f"healthmonitor {hm['id']}", [
            one(metrics, f"octavia_healthmonitor_{name}_seconds", healthmonitor_id=hm["id"])
            for name in ("delay", "timeout")], [hm["delay"], hm["timeout"]])
        check(f"healthmonitor {hm['id']}", labels_of(
            metrics, "octavia_healthmonitor_info", "healthmonitor_id", hm["id"], "http_method",
            "url_path", "expected_codes", "max_retries", "max_retries_down"),
              [(hm["http_method"] or "", (hm["url_path"] or "").split("?")[0],
                hm["expected_codes"] or "", _text(hm["max_retries"]),
                _text(hm["max_retries_down"]))])
    # Without --member-details only the members of pools no listener uses are listed per pool.
    unattached = {p["id"] for p in truth["pools"] if not p["listeners"]}
    for member in truth["members"]:
        want = ([(member["monitor_address"] or "", _text(member["monitor_port"]))]
                if member["pool_id"] in unattached else [])
        check(f"member {member['id']}", labels_of(
            metrics, "octavia_member_monitor_info", "member_id", member["id"],
            "monitor_address", "monitor_port"), want)
    return found


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


async def test_every_configured_setting_matches_the_simulator(make_exporter, control) -> None:
    exporter = make_exporter()
    metrics = await exporter.cycle()
    truth = await control.fleet()
    assert setting_differences(metrics, truth) == []
    # The seed has the settings off their defaults, so equal is not equal by absence.
    assert {lab["url_path"] for lab, _ in metrics["octavia_healthmonitor_info"]} >= {"/healthz"}
    assert any(lab["vip_sg_ids"] for lab, _ in metrics["octavia_loadbalancer_info"])
    assert metrics["octavia_loadbalancer_additional_vip_info"]
    assert {lab["tls_enabled"] for lab, _ in metrics["octavia_pool_info"]} == {"true", "false"}
    assert len({v for _, v in metrics["octavia_listener_timeout_client_data_seconds"]}) > 1
    assert all(lab["timeout_member_connect"] and lab["timeout_tcp_inspect"]
               for lab, _ in metrics["octavia_listener_info"])


async def test_a_listeners_tls_and_hsts_settings_reach_the_exposition(make_exporter,
                                                                      control) -> None:
    """HSTS is for TERMINATED_HTTPS listeners, which the seed has none of: set on one."""
    exporter = make_exporter()
    await exporter.cycle()
    truth = await control.fleet()
    listener = truth["listeners"][0]
    await control.call("PATCH", f"/_sim/listeners/{listener['id']}", {
        "hsts_max_age": 31536000, "hsts_include_subdomains": True,
        "tls_versions": ["TLSv1.3"], "alpn_protocols": ["h2", "http/1.1"],
        "updated_at": truth["clock"]})
    metrics = await exporter.cycle()
    assert labels_of(metrics, "octavia_listener_info", "listener_id", listener["id"],
                     "tls_versions", "alpn_protocols", "hsts_max_age", "hsts_include_subdomains",
                     "hsts_preload") == [("TLSv1.3", "h2,http/1.1", "31536000", "true", "false")]
    assert setting_differences(metrics, await control.fleet()) == []


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
