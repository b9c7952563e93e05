"""Listener statistics read from the amphorae (one call per amphora instead of one per listener)
equal what the listener stats calls answer, and the listeners are asked whenever the amphorae
could be wrong: a sum that would move a counter back, a failed amphora call, a 403."""

from __future__ import annotations

from tests.support.calls import listener_stats_calls, octavia_calls
from tests.support.exporter import events
from tests.support.exposition import one

AMPHORA_STATS = "/v2/octavia/amphorae/{id}/stats"
LISTENER_STATS = "/v2/lbaas/listeners/{id}/stats"

STATS = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")
METRIC = {"bytes_in": "octavia_listener_stats_bytes_in_total",
          "bytes_out": "octavia_listener_stats_bytes_out_total",
          "active_connections": "octavia_listener_stats_active_connections",
          "total_connections": "octavia_listener_stats_connections_total",
          "request_errors": "octavia_listener_stats_request_errors_total"}


def exported(metrics, listener_id: str) -> dict[str, float | None]:
    return {f: one(metrics, METRIC[f], listener_id=listener_id) for f in STATS}


async def test_listener_stats_from_amphorae_equal_the_listener_calls(control,
                                                                     make_exporter) -> None:
    truth = await control.fleet()
    await octavia_calls(control)
    metrics = await make_exporter().cycle()
    calls = await octavia_calls(control)
    expected = listener_stats_calls(truth)
    assert expected[AMPHORA_STATS] > 0
    assert (calls[AMPHORA_STATS], calls[LISTENER_STATS]) == (
        expected[AMPHORA_STATS], expected[LISTENER_STATS])
    # Whichever way each load balancer's were read, they are the listener calls' figures.
    for listener in truth["listeners"]:
        assert exported(metrics, listener["id"]) == listener["stats"], listener["id"]


async def test_a_sum_that_would_move_a_counter_back_is_asked_of_the_listener(
        sim, control, make_exporter, log_buffer) -> None:
    exporter = make_exporter(log_level="debug")
    await exporter.cycle()
    lb = next(x for x in sim.fleet.loadbalancers.values()
              if x.provisioning_status == "ACTIVE" and x.listener_ids
              and 0 < len(x.amphora_ids) <= len(x.listener_ids))
    others = listener_stats_calls(await control.fleet())[LISTENER_STATS]
    listener_id = lb.listener_ids[0]
    amphora_id = lb.amphora_ids[0]
    before = sim.fleet.listener_stats(listener_id)["bytes_in"]
    # The amphora's row loses 1,000 bytes to a row no listed amphora has (as when housekeeping
    # purges a replaced amphora): the listener call still sums it, the amphorae no longer do.
    row = sim.fleet.stats_row(listener_id, amphora_id)
    await control.call("POST", f"/_sim/listeners/{listener_id}/stats",
                       {"amphora_id": amphora_id, "bytes_in": row.bytes_in - 1000})
    await control.call("POST", f"/_sim/listeners/{listener_id}/stats",
                       {"amphora_id": "purged-amphora", "bytes_in": 1050})
    await octavia_calls(control)
    metrics = await exporter.cycle()
    calls = await octavia_calls(control)
    assert calls[LISTENER_STATS] == others + len(lb.listener_ids)
    assert one(metrics, METRIC["bytes_in"], listener_id=listener_id) == before + 50
    fell_back = [e for e in events(log_buffer) if e["event"] == "stats_via_amphorae_fell_back"]
    assert [(e["loadbalancer_id"], e["reason"]) for e in fell_back] == [
        (lb.id, "counter_went_back")]


async def test_failed_amphora_stats_are_counted_and_the_listeners_asked(control,
                                                                        make_exporter) -> None:
    exporter = make_exporter(retries=0)
    await control.faults({"kind": "error", "status": 500, "endpoint": "amphorae/*/stats"})
    truth = await control.fleet()
    await octavia_calls(control)
    metrics = await exporter.cycle()
    calls = await octavia_calls(control)
    assert calls["/v2/lbaas/listeners/{id}/stats"] == len(truth["listeners"])
    for listener in truth["listeners"]:
        assert exported(metrics, listener["id"]) == listener["stats"], listener["id"]
    assert one(metrics, "octavia_poll_errors_total", cloud="simulator",
               endpoint="amphorae/{id}/stats", reason="server_error") == calls[
        "/v2/octavia/amphorae/{id}/stats"]
    # A passing failure: the next cycle tries the amphorae again.
    await control.call("DELETE", "/_sim/faults")
    await exporter.cycle()
    calls = await octavia_calls(control)
    expected = listener_stats_calls(truth)
    assert (calls[AMPHORA_STATS], calls[LISTENER_STATS]) == (
        expected[AMPHORA_STATS], expected[LISTENER_STATS])


async def test_forbidden_amphora_stats_switch_to_listener_calls_for_good(control,
                                                                         make_exporter,
                                                                         log_buffer) -> None:
    exporter = make_exporter(retries=0)
    await control.faults({"kind": "error", "status": 403, "endpoint": "amphorae/*/stats"})
    truth = await control.fleet()
    metrics = await exporter.cycle()
    for listener in truth["listeners"]:
        assert exported(metrics, listener["id"]) == listener["stats"], listener["id"]
    assert [e["event"] for e in events(log_buffer)
            if e["event"] == "stats_via_amphorae_forbidden"] == ["stats_via_amphorae_forbidden"]
    await octavia_calls(control)
    await exporter.cycle()
    calls = await octavia_calls(control)
    assert "/v2/octavia/amphorae/{id}/stats" not in calls
    assert calls["/v2/lbaas/listeners/{id}/stats"] == len(truth["listeners"])
