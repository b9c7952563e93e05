"""--amphora-stats against the real per-amphora statistics endpoint."""

from __future__ import annotations

from tests.integration.checks import TRAFFIC
from tests.support.exporter import events
from tests.support.exposition import one


async def test_amphora_stats_equal_the_rows_in_octavias_database(make_exporter, truth) -> None:
    exporter = make_exporter(amphora_stats=True)
    metrics = await exporter.cycle()
    assert exporter.cycles == [True]
    now = truth()
    exported = {(lab["amphora_id"], lab["listener_id"])
                for lab, _ in metrics["octavia_amphora_stats_bytes_in_total"]}
    assert exported == {key for key in now.amphora_stats
                        if now.amphorae[key[0]]["status"] != "DELETED"}
    for (amphora_id, listener_id), row in now.amphora_stats.items():
        if now.amphorae[amphora_id]["status"] == "DELETED":
            continue
        for key, metric in TRAFFIC:
            assert one(metrics, f"octavia_amphora_stats_{metric}", amphora_id=amphora_id,
                       listener_id=listener_id) == row[key], (amphora_id, listener_id, key)


async def test_amphorae_without_statistics_are_not_errors(make_exporter, log_buffer) -> None:
    exporter = make_exporter(amphora_stats=True)
    metrics = await exporter.cycle()
    assert exporter.cycles == [True]
    failed = [e for e in events(log_buffer) if e.get("event") == "api_call_failed"]
    assert failed == []
    assert not metrics.get("octavia_poll_errors_total")
