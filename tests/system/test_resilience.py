"""The exporter when the cloud misbehaves: it keeps serving, keeps what it knew, and says so."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest
import yaml

from tests.support.exporter import events, failed_cycle
from tests.support.exposition import one, status_of


def member_count(metrics) -> float:
    return one(metrics, "octavia_snapshot_objects", resource="member") or 0.0


async def test_simulator_killed_and_back(sim, make_exporter, log_buffer) -> None:
    exporter = make_exporter()
    before = await exporter.cycle()
    port = urlsplit(sim.base_url).port
    await sim.stop()
    during = await exporter.cycle()
    assert one(during, "octavia_up", cloud="simulator") == 0
    # The token is still good, so it is Octavia's port that is closed: said with the URL of
    # whichever bulk list failed first.
    failed = [failed_cycle(log_buffer)]
    endpoint = failed[0]["endpoint"]
    assert failed[0]["reason"] == "connection_refused"
    assert failed[0]["url"] == f"{sim.base_url}/load-balancer/v2/lbaas/{endpoint}"
    assert one(during, "octavia_last_error_info", cloud="simulator", endpoint=endpoint,
               reason="connection_refused") == 1
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    # The last good data stays, marked by the last success timestamp.
    assert member_count(during) == member_count(before) > 0
    assert one(during, "octavia_last_poll_success_timestamp_seconds", cloud="simulator") == one(
        before, "octavia_last_poll_success_timestamp_seconds", cloud="simulator")
    assert exporter.counter("octavia_poll_cycles_total", cloud="simulator", result="failure") == 1
    await sim.start(port=port)
    after = await exporter.cycle()
    assert one(after, "octavia_up", cloud="simulator") == 1
    assert exporter.cycles == [True, False, True]


async def test_failed_status_trees_keep_last_known_members(control, make_exporter,
                                                           log_buffer) -> None:
    exporter = make_exporter()
    first = await exporter.cycle()
    truth = await control.fleet()
    member = next(m for m in truth["members"] if m["operating_status"] == "ONLINE"
                  and any(p["id"] == m["pool_id"] and p["listeners"] for p in truth["pools"]))
    await control.call("PATCH", f"/_sim/members/{member['id']}", {"operating_status": "ERROR"})
    await control.faults({"kind": "error", "endpoint": "loadbalancers/*/status", "status": 500})
    second = await exporter.cycle()
    assert one(second, "octavia_up", cloud="simulator") == 1
    assert member_count(second) == member_count(first)
    assert status_of(second, "octavia_member_operating_status", member_id=member["id"]) == "ONLINE"
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="loadbalancers/{id}/status", reason="server_error") > 0

    await control.call("DELETE", "/_sim/faults")
    third = await exporter.cycle()
    assert status_of(third, "octavia_member_operating_status", member_id=member["id"]) == "ERROR"
    assert exporter.counter("octavia_status_transitions_total", cloud="simulator",
                            resource="member", field="operating_status", from_status="ONLINE",
                            to_status="ERROR") == 1
    changed = [e for e in events(log_buffer) if e["event"] == "status_changed"
               and e["id"] == member["id"]]
    assert changed and changed[0]["old"] == "ONLINE" and changed[0]["new"] == "ERROR"


async def test_failed_listener_stats_keep_counters_from_going_backwards(control,
                                                                        make_exporter) -> None:
    exporter = make_exporter(stats_via_amphorae=False)
    first = await exporter.cycle()
    await control.faults({"kind": "malformed", "endpoint": "listeners/*/stats"})
    second = await exporter.cycle()
    assert one(second, "octavia_up", cloud="simulator") == 1
    for name in ("octavia_loadbalancer_stats_bytes_in_total", "octavia_listener_stats_bytes_in_total"):
        assert sorted(second[name], key=str) == sorted(first[name], key=str)
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="listeners/{id}/stats", reason="malformed") > 0


async def test_truncated_bulk_list_fails_the_cycle_but_keeps_the_data(control,
                                                                      make_exporter) -> None:
    exporter = make_exporter()
    first = await exporter.cycle()
    await control.faults({"kind": "truncate", "endpoint": "loadbalancers"})
    second = await exporter.cycle()
    assert one(second, "octavia_up", cloud="simulator") == 0
    assert member_count(second) == member_count(first)
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="loadbalancers", reason="malformed") == 1


async def test_stale_data_is_withdrawn_after_max_staleness(sim, make_exporter,
                                                           log_buffer) -> None:
    exporter = make_exporter(max_staleness=0.0)
    await exporter.cycle()
    await sim.stop()
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="simulator") == 0
    assert "octavia_member_info" not in metrics or not metrics["octavia_member_info"]
    last_success = one(metrics, "octavia_last_poll_success_timestamp_seconds", cloud="simulator")
    assert last_success and last_success > 0
    await exporter.cycle()
    withdrawn = [e for e in events(log_buffer) if e["event"] == "fleet_data_withdrawn"]
    assert len(withdrawn) == 1  # once, not at every failed cycle
    assert (withdrawn[0]["cloud"], withdrawn[0]["max_staleness_seconds"]) == ("simulator", 0.0)
    assert withdrawn[0]["last_success"] == pytest.approx(last_success)


async def test_retries_honour_retry_after_and_recover(control, make_exporter) -> None:
    exporter = make_exporter(retries=3)
    await control.faults({"kind": "error", "endpoint": "loadbalancers", "status": 503,
                          "retry_after": 0, "times": 2})
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert exporter.counter("octavia_api_requests_total", cloud="simulator",
                            endpoint="loadbalancers", code="503") == 2


async def test_hung_and_reset_connections_are_abandoned(control, make_exporter) -> None:
    # One call hangs, so the timeout can be one that every healthy call on a busy machine
    # stays well inside (a short timeout would also cut the bulk lists and fail the cycle),
    # and the test still waits it out only once.
    exporter = make_exporter(request_timeout=2.0, retries=0, stats_via_amphorae=False)
    await exporter.cycle()
    await control.faults({"kind": "hang", "endpoint": "listeners/*/stats", "times": 1},
                         {"kind": "reset", "endpoint": "loadbalancers/*/status"})
    metrics = await exporter.cycle()
    await control.call("DELETE", "/_sim/faults")
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="listeners/{id}/stats", reason="timeout") > 0
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="loadbalancers/{id}/status",
                            reason="connection_error") > 0


async def test_revoked_token_means_one_reauthentication(control, make_exporter,
                                                        log_buffer) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    revoked = exporter.clients[0].tokens.current
    await control.call("POST", "/_sim/tokens/revoke")
    metrics = await exporter.cycle()
    # Nothing failed, so nothing is logged as failed; neither token is in the log.
    assert not [e for e in events(log_buffer) if e["event"].endswith("_failed")]
    fresh = exporter.clients[0].tokens.current
    assert revoked and fresh and fresh != revoked
    assert revoked not in log_buffer.getvalue() and fresh not in log_buffer.getvalue()
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert exporter.counter("octavia_authentications_total", cloud="simulator",
                            result="success") == 2
    assert exporter.counter("octavia_api_requests_total", cloud="simulator",
                            endpoint="loadbalancers", code="401") == 1


async def test_project_member_sees_its_project_and_no_amphorae(sim, control, make_exporter,
                                                               log_buffer) -> None:
    exporter = make_exporter(clouds=("simulator-member",))
    await exporter.cycle()
    metrics = await exporter.cycle()
    truth = await control.fleet()
    demo = next(p["id"] for p in truth["projects"] if p["name"] == "demo")
    expected = {lb["id"] for lb in truth["loadbalancers"] if lb["project_id"] == demo}
    seen = {lab["loadbalancer_id"] for lab, _ in metrics["octavia_loadbalancer_info"]}
    assert expected and seen == expected
    assert one(metrics, "octavia_up", cloud="simulator-member") == 1
    assert one(metrics, "octavia_collector_enabled", cloud="simulator-member",
               collector="amphorae") == 0
    assert not metrics.get("octavia_amphora_status")
    warnings = [e for e in events(log_buffer) if e["event"] == "amphorae_disabled"]
    assert len(warnings) == 1
    # What was refused, where, and what it takes: never the member's password or token.
    assert warnings[0]["url"] == f"{sim.base_url}/load-balancer/v2/octavia/amphorae"
    assert warnings[0]["reason"] == (
        "the API answered 403: listing amphorae needs the admin or global observer role; "
        "amphora metrics are off until restart")
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    assert "demo-secret" not in log_buffer.getvalue()


async def test_unknown_status_is_exported_and_counted(control, make_exporter) -> None:
    exporter = make_exporter()
    truth = await control.fleet()
    lb = truth["loadbalancers"][0]["id"]
    await control.call("PATCH", f"/_sim/loadbalancers/{lb}", {"operating_status": "MAINTENANCE"})
    metrics = await exporter.cycle()
    assert status_of(metrics, "octavia_loadbalancer_operating_status",
                     loadbalancer_id=lb) == "MAINTENANCE"
    assert exporter.counter("octavia_unknown_status_values_total", cloud="simulator",
                            resource="loadbalancer", field="operating_status") == 1


async def test_deleted_load_balancer_vanishes_everywhere(control, make_exporter,
                                                         log_buffer) -> None:
    exporter = make_exporter()
    first = await exporter.cycle()
    truth = await control.fleet()
    lb = next(x for x in truth["loadbalancers"] if x["listeners"])["id"]
    assert any(lab.get("loadbalancer_id") == lb for lab, _ in first["octavia_member_info"])
    await control.call("DELETE", f"/_sim/loadbalancers/{lb}")
    await exporter.cycle()
    assert f'"{lb}"' not in exporter.text()
    vanished = {e["resource"] for e in events(log_buffer) if e["event"] == "object_vanished"}
    assert {"loadbalancer", "listener", "pool", "member"} <= vanished


async def test_wrong_credentials_are_a_clear_error_not_a_crash(sim, tmp_path, monkeypatch,
                                                               make_exporter,
                                                               log_buffer) -> None:
    clouds = yaml.safe_load((tmp_path / "clouds.yaml").read_text())
    broken = dict(clouds["clouds"]["simulator"])
    broken["auth"] = dict(broken["auth"], password="wrong-password-123")
    clouds["clouds"]["broken"] = broken
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    exporter = make_exporter(clouds=("broken",))
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="broken") == 0
    failures = [e for e in events(log_buffer) if e["event"] == "poll_cycle_failed"]
    assert failures and failures[0]["cloud"] == "broken"
    # A wrong password is Keystone's 401, counted against keystone, with the URL tried.
    assert (failures[0]["endpoint"], failures[0]["reason"]) == ("keystone", "unauthorized")
    assert failures[0]["url"] == sim.auth_url.rstrip("/")
    assert "rejected the credentials" in failures[0]["detail"]
    assert one(metrics, "octavia_last_error_info", cloud="broken", endpoint="keystone",
               reason="unauthorized") == 1
    assert exporter.counter("octavia_authentications_total", cloud="broken",
                            result="failure") == 1
    assert "wrong-password-123" not in log_buffer.getvalue()


async def test_no_secret_ever_reaches_logs_pages_or_metrics(sim, control, make_exporter,
                                                            log_buffer) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from exporter.web.server import build_app

    exporter = make_exporter(log_level="debug")
    appcred = make_exporter(clouds=("simulator-appcred",))
    await exporter.cycle()
    await appcred.cycle()
    await control.call("POST", "/_sim/tokens/revoke")
    await control.faults({"kind": "error", "endpoint": "*", "status": 500})
    await exporter.cycle()
    await control.call("DELETE", "/_sim/faults")
    await exporter.cycle()
    async with TestClient(TestServer(build_app(exporter.service, exporter.exposition))) as client:
        page = await (await client.get("/")).text()
        body = await (await client.get("/metrics")).text()
    tokens = set()
    for tokens_source in (exporter.clients[0]._tokens, appcred.clients[0]._tokens):
        tokens |= {s for s in tokens_source.secrets if len(s) > 20}
    secrets = {"admin-secret", "demo-secret", "sim-appcred-secret", *tokens}
    assert len(tokens) >= 3  # two admin tokens (before and after revocation) and the appcred one
    emitted = log_buffer.getvalue() + page + body + exporter.text() + appcred.text()
    for secret in secrets:
        assert secret not in emitted


async def test_cycles_never_overlap_and_are_paced(sim, control, make_exporter) -> None:
    # The full lists every cycle (no changes feed) and --lists-share 1: lists slower than the
    # interval run back to back (the default share would space them 25 list durations apart,
    # which tests/unit/test_scheduler.py covers), and once they are fast again one starts every
    # interval, never sooner.
    interval = 0.2
    exporter = make_exporter(interval=interval, lists_share=1.0, changes_feed=False)
    # The first reads' pages of load balancers take 150 ms each: longer than the interval.
    await control.faults({"kind": "latency", "endpoint": "loadbalancers", "latency_ms": 150,
                          "times": 6})
    in_flight = 0
    most = 0
    reads: list[tuple[float, float]] = []  # (start, end) of each read, monotonic
    enough = asyncio.Event()
    lists = exporter.service.clouds[0].lists
    original = lists.read

    async def watched(previous):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        started = time.monotonic()
        try:
            return await original(previous)
        finally:
            in_flight -= 1
            reads.append((started, time.monotonic()))
            if len(reads) >= 6:
                enough.set()

    lists.read = watched
    await exporter.service.start()
    await asyncio.wait_for(enough.wait(), 30)
    await exporter.service.stop()
    assert most == 1
    assert reads[0][1] - reads[0][0] >= 0.3, reads  # the fault held at least two pages back
    # Lower bounds only, which a loaded machine cannot break (it only makes everything later):
    # a read starts after the one before it ended, and at least an interval after the end of
    # the one before that (the cycle that ended then started no sooner, and the next one
    # waits out its interval from that start). A loop that did not wait would start the next
    # read as soon as one ended.
    slack = 0.001  # a timer may fire a clock tick early
    for i in range(1, len(reads)):
        assert reads[i][0] >= reads[i - 1][1], (i, reads)
    for i in range(2, len(reads)):
        assert reads[i][0] >= reads[i - 2][1] + interval - slack, (i, reads)


async def test_several_clouds_in_one_process_are_told_apart(control, make_exporter) -> None:
    exporter = make_exporter(clouds=("simulator", "simulator-member"))
    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    up = {lab["cloud"]: v for lab, v in metrics["octavia_up"]}
    assert up == {"simulator": 1, "simulator-member": 1}
    by_cloud: dict[str, set[str]] = {}
    for lab, _ in metrics["octavia_loadbalancer_info"]:
        by_cloud.setdefault(lab["cloud"], set()).add(lab["loadbalancer_id"])
    assert by_cloud["simulator-member"] < by_cloud["simulator"]
    # Each family appears once in the exposition, whatever the number of clouds.
    text = exporter.text()
    assert text.count("# TYPE octavia_member_operating_status ") == 1


async def test_keystone_down_backs_off_instead_of_hammering(sim, make_exporter) -> None:
    await sim.stop()
    exporter = make_exporter(retries=0)
    for _ in range(3):
        metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="simulator") == 0
    # Three back-to-back cycles, dozens of requests wanting a token: one Keystone attempt, the
    # rest answered from the back-off.
    assert exporter.counter("octavia_authentications_total", cloud="simulator",
                            result="failure") == 1


async def test_lists_past_the_cycle_timeout_are_abandoned(sim, control, make_exporter,
                                                         log_buffer) -> None:
    exporter = make_exporter(request_timeout=5.0, cycle_timeout=1.0)
    first = await exporter.cycle()
    # --cycle-timeout bounds tier 1 (after the first lists, a round of the changes feed,
    # whose first page here takes 3 s).
    await control.faults({"kind": "latency", "endpoint": "loadbalancers", "latency_ms": 3000})
    second = await exporter.cycle()
    await control.call("DELETE", "/_sim/faults")
    assert one(second, "octavia_up", cloud="simulator") == 0
    assert member_count(second) == member_count(first)
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator", endpoint="cycle",
                            reason="timeout") == 1
    timeouts = [e for e in events(log_buffer) if e["event"] == "poll_cycle_timeout"]
    assert len(timeouts) == 1
    # The load balancer list is slow, and the others wait behind it for a slot (the adaptive
    # limit starts at 1): the first list still unanswered is named with its URL, all of them
    # in the detail.
    assert (timeouts[0]["endpoint"], timeouts[0]["reason"], timeouts[0]["url"]) == (
        "cycle", "timeout", f"{sim.base_url}/load-balancer/v2/lbaas/loadbalancers")
    assert timeouts[0]["detail"].startswith("changes feed over 1 s; unanswered: loadbalancers")
    assert one(second, "octavia_last_error_info", cloud="simulator", endpoint="cycle",
               reason="timeout") == 1
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    third = await exporter.cycle()
    assert one(third, "octavia_up", cloud="simulator") == 1
