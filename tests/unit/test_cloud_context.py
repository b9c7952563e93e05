"""A cloud's logger and telemetry view: the cloud label on every line and series, and nothing
else changed (a later log configuration applies, no series appears before it is recorded)."""

from __future__ import annotations

import io
import json

from exporter import logs
from exporter.telemetry import Telemetry


def test_a_cloud_logger_taken_before_configure_writes_where_configure_says() -> None:
    log = logs.cloud_logger("exporter.test", "east")
    out = io.StringIO()
    logs.configure("info", "json", out)
    try:
        log.warning("api_call_failed", endpoint="pools", reason="timeout")
    finally:
        logs.configure("info", "json")
    line = json.loads(out.getvalue())
    assert list(line)[:3] == ["cloud", "endpoint", "reason"]
    assert (line["cloud"], line["event"], line["level"]) == ("east", "api_call_failed",
                                                             "warning")


def test_the_view_labels_every_series_with_its_cloud_and_creates_none_early() -> None:
    telemetry = Telemetry()
    east = telemetry.for_cloud("east")
    registry = telemetry.registry
    assert registry.get_sample_value("octavia_changes_feed_rows_total",
                                     {"cloud": "east", "resource": "pool"}) is None
    east.feed_rows.labels("pool").inc(3)
    east.feed_lag.labels().set(1.5)
    east.poll_error("pools", "timeout", "http://127.0.0.1/v2/lbaas/pools", "slow")
    assert registry.get_sample_value("octavia_changes_feed_rows_total",
                                     {"cloud": "east", "resource": "pool"}) == 3
    assert registry.get_sample_value("octavia_changes_feed_lag_seconds",
                                     {"cloud": "east"}) == 1.5
    assert registry.get_sample_value("octavia_poll_errors_total", {
        "cloud": "east", "endpoint": "pools", "reason": "timeout"}) == 1
    assert [e.url for e in telemetry.last_errors("east")] == ["http://127.0.0.1/v2/lbaas/pools"]
    assert telemetry.last_errors("west") == []
