"""The Octavia API goes away and comes back on the same port: octavia_up 1 → 0 → 1."""

from __future__ import annotations

from tests.integration import checks
from tests.support.exposition import one


async def test_octavia_down_then_back(make_exporter, cloud, truth) -> None:
    exporter = make_exporter(request_timeout=3.0, retries=1)
    metrics = await exporter.cycle()
    assert one(metrics, "octavia_up", cloud="os-admin") == 1
    port = cloud.octavia.port

    # Stopped, polled once while nothing listens, started again on the same port.
    cloud.octavia.stop()
    try:
        down = await exporter.cycle()
    finally:
        cloud.timings["octavia_restart"] = cloud.octavia.start()
    assert cloud.octavia.port == port

    assert one(down, "octavia_up", cloud="os-admin") == 0
    refused = {lab["code"] for lab, v in down["octavia_api_requests_total"] if v}
    assert "connection_error" in refused
    # Classified at the source: a closed port is connection_refused, with the endpoint named.
    reasons = {lab["reason"] for lab, v in down["octavia_poll_errors_total"] if v}
    assert "connection_refused" in reasons, reasons
    assert any(lab["reason"] == "connection_refused" for lab, v in down["octavia_last_error_info"]
               if v == 1)
    # The last good data stays exported while the API is away (max_staleness).
    assert checks.mismatches(down, truth()) == []

    metrics = await exporter.cycle()
    assert exporter.cycles == [True, False, True]
    assert one(metrics, "octavia_up", cloud="os-admin") == 1
    assert checks.mismatches(metrics, truth()) == []
    # The token survived the restart: no new authentication was needed.
    assert exporter.counter("octavia_authentications_total", cloud="os-admin",
                            result="success") == 1
