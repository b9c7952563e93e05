"""The exporter's own counters: API requests, authentications, poll errors, transitions.

These change between cycles and have a small, fleet-independent cardinality, so they live on a
private registry that is rendered on every scrape (unlike the fleet, which is rendered once per
cycle). Everything below the poller records into this one object; nothing reads back from it
but the server.
"""

from __future__ import annotations

import platform
import threading
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from exporter import __version__

M = TypeVar("M", Counter, Gauge, Histogram)

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class LastError:
    """The latest failure on one endpoint of one cloud, for the overview page."""

    endpoint: str
    reason: str
    timestamp: float
    url: str = ""
    detail: str = ""


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.build_info = Gauge(
            "octavia_exporter_build_info",
            "Build of the running exporter; value is always 1.",
            ["version", "python_version"],
            registry=self.registry,
        )
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.api_requests = Counter(
            "octavia_api_requests",
            "API requests made by the background poller, by endpoint template and HTTP code "
            "(or timeout / connection_error).",
            ["cloud", "endpoint", "code"],
            registry=self.registry,
        )
        self.api_duration = Histogram(
            "octavia_api_request_duration_seconds",
            "Latency of API requests made by the background poller.",
            ["cloud", "endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.authentications = Counter(
            "octavia_authentications",
            "Keystone authentications (token fetches), by result.",
            ["cloud", "result"],
            registry=self.registry,
        )
        self.poll_errors = Counter(
            "octavia_poll_errors",
            "Failed API calls in poll cycles, by endpoint and reason; the objects concerned "
            "keep their last known state.",
            ["cloud", "endpoint", "reason"],
            registry=self.registry,
        )
        self.poll_cycles = Counter(
            "octavia_poll_cycles",
            "Poll cycles run, by result.",
            ["cloud", "result"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "octavia_status_transitions",
            "Status changes seen between two consecutive poll cycles.",
            ["cloud", "resource", "field", "from_status", "to_status"],
            registry=self.registry,
        )
        self.floating_ip_changes = Counter(
            "octavia_floating_ip_changes",
            "Floating IPs attached to, detached from or moved between load balancers, seen "
            "between two consecutive poll cycles.",
            ["cloud", "change"],
            registry=self.registry,
        )
        self.notifications_connected = Gauge(
            "octavia_notifications_connected",
            "1 while the notification listener is connected to the message bus.",
            ["cloud"],
            registry=self.registry,
        )
        self.notifications_received = Counter(
            "octavia_notifications_received",
            "Octavia load-balancer notifications received, by event type.",
            ["cloud", "event_type"],
            registry=self.registry,
        )
        self.notifications_dropped = Counter(
            "octavia_notifications_dropped",
            "Notifications dropped: malformed, or not about a load balancer.",
            ["cloud", "reason"],
            registry=self.registry,
        )
        self.notification_latency = Histogram(
            "octavia_notification_to_metric_seconds",
            "Time from a notification's timestamp to the refreshed exposition being served.",
            ["cloud"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
            registry=self.registry,
        )
        self.last_error_info = Gauge(
            "octavia_last_error_info",
            "The reason of the latest failed call per endpoint (keystone for Keystone); value "
            "is always 1, one series per cloud and endpoint.",
            ["cloud", "endpoint", "reason"],
            registry=self.registry,
        )
        self.last_error_timestamp = Gauge(
            "octavia_last_error_timestamp_seconds",
            "When the latest failed call per endpoint happened (Unix time).",
            ["cloud", "endpoint"],
            registry=self.registry,
        )
        # Read by the HTTP thread for the overview page, written by the poll loop.
        self._errors_lock = threading.Lock()
        self._last_errors: dict[tuple[str, str], LastError] = {}
        self.unknown_values = Counter(
            "octavia_unknown_status_values",
            "Status values outside Octavia's documented set, seen per poll cycle; exported "
            "as their own state.",
            ["cloud", "resource", "field"],
            registry=self.registry,
        )

        # The API budget (limiter.py) and the tier-2 stream (scheduler.py).
        self.api_concurrency_limit = Gauge(
            "octavia_api_concurrency_limit",
            "Current adaptive limit of API requests in flight (at most --concurrency).",
            ["cloud"], registry=self.registry)
        self.api_in_flight = Gauge(
            "octavia_api_in_flight_requests", "API requests in flight now.", ["cloud"],
            registry=self.registry)
        self.api_rate_limit = Gauge(
            "octavia_api_rate_limit_requests_per_second",
            "The configured --api-max-rate; 0 means no rate limit.", ["cloud"],
            registry=self.registry)
        self.api_limit_decreases = Counter(
            "octavia_api_limit_decreases",
            "Times the adaptive concurrency limit shrank, by cause (latency, 429, 503, "
            "timeout).", ["cloud", "reason"], registry=self.registry)
        self.detail_backlog = Gauge(
            "octavia_detail_backlog",
            "Load balancers waiting for their per-load-balancer detail (tier 2).", ["cloud"],
            registry=self.registry)
        self.detail_pass_duration = Gauge(
            "octavia_detail_pass_duration_seconds",
            "Wall time of the last complete tier-2 pass (detail of every load balancer due).",
            ["cloud"], registry=self.registry)
        self.feed_missed = Counter(
            "octavia_changes_feed_missed",
            "Objects the reconciliation lists corrected because the changes feed had not shown "
            "the change, by resource and reason (absent, changed, deleted); stays 0 while the "
            "feed sees everything.", ["cloud", "resource", "reason"], registry=self.registry)
        self.feed_rows = Counter(
            "octavia_changes_feed_rows",
            "Rows the changes feed read, by resource (a row inside the overlap counts each "
            "time it is read).", ["cloud", "resource"], registry=self.registry)
        self.feed_enabled = Gauge(
            "octavia_changes_feed_enabled",
            "1 while tier 1 follows the changes feed; 0 when the API refused or ignored "
            "sort=updated_at and tier 1 reads the full lists every cycle.", ["cloud"],
            registry=self.registry)
        self.feed_lag = Gauge(
            "octavia_changes_feed_lag_seconds",
            "Seconds since the start of the last successful tier-1 round (changes feed, or "
            "full lists): a change is on /metrics at most about this old plus one interval.",
            ["cloud"], registry=self.registry)
        self.reconciliation_age = Gauge(
            "octavia_reconciliation_age_seconds",
            "Seconds since the start of the last complete reconciliation (the full lists, "
            "which catch deletions and anything the feed missed).", ["cloud"],
            registry=self.registry)
        self.reconciliation_duration = Gauge(
            "octavia_reconciliation_duration_seconds",
            "Wall time of the last complete reconciliation, paced within --lists-share.",
            ["cloud"], registry=self.registry)
        self.reconciliation_removed = Counter(
            "octavia_reconciliation_removed_loadbalancers",
            "Load balancers the reconciliation's load-balancer list no longer showed, removed "
            "with everything they held as soon as that list was in: a deletion between two "
            "feed rounds leaves no row for the feed to read.", ["cloud"],
            registry=self.registry)

    def poll_error(self, cloud: str, endpoint: str, reason: str, url: str = "",
                   detail: str = "", when: float | None = None) -> None:
        """Count a failed call and make it the endpoint's latest error."""
        self.poll_errors.labels(cloud, endpoint, reason).inc()
        error = LastError(endpoint, reason, time.time() if when is None else when, url, detail)
        with self._errors_lock:
            previous = self._last_errors.get((cloud, endpoint))
            self._last_errors[(cloud, endpoint)] = error
            # One info series per endpoint: the previous reason's series goes.
            if previous is not None and previous.reason != reason:
                self.last_error_info.remove(cloud, endpoint, previous.reason)
            self.last_error_info.labels(cloud, endpoint, reason).set(1)
            self.last_error_timestamp.labels(cloud, endpoint).set(error.timestamp)

    def last_errors(self, cloud: str) -> list[LastError]:
        """The cloud's latest error per endpoint, newest first."""
        with self._errors_lock:
            found = [e for (c, _), e in self._last_errors.items() if c == cloud]
        return sorted(found, key=lambda e: e.timestamp, reverse=True)

    def auth_recorder(self, cloud: str) -> AuthRecorder:
        return AuthRecorder(self, cloud)

    def for_cloud(self, cloud: str) -> CloudTelemetry:
        return CloudTelemetry(self, cloud)


class Bound(Generic[M]):
    """One family's series of one cloud: `labels` takes the family's other labels. Nothing is
    created before `labels` is called, so a series appears when it is first recorded, as with
    the family itself."""

    __slots__ = ("_cloud", "_family")

    def __init__(self, family: M, cloud: str) -> None:
        self._family: M = family
        self._cloud = cloud

    def labels(self, *values: str) -> M:
        child: M = self._family.labels(self._cloud, *values)
        return child


class CloudTelemetry:
    """The telemetry as one cloud's poller records it: every series carries its cloud label,
    so nothing below the runtime passes the cloud's name along with each number."""

    def __init__(self, telemetry: Telemetry, cloud: str) -> None:
        self.telemetry = telemetry
        self.cloud = cloud
        self.poll_cycles = Bound(telemetry.poll_cycles, cloud)
        self.transitions = Bound(telemetry.transitions, cloud)
        self.floating_ip_changes = Bound(telemetry.floating_ip_changes, cloud)
        self.unknown_values = Bound(telemetry.unknown_values, cloud)
        self.notifications_connected = Bound(telemetry.notifications_connected, cloud)
        self.notifications_received = Bound(telemetry.notifications_received, cloud)
        self.notifications_dropped = Bound(telemetry.notifications_dropped, cloud)
        self.notification_latency = Bound(telemetry.notification_latency, cloud)
        self.api_concurrency_limit = Bound(telemetry.api_concurrency_limit, cloud)
        self.api_in_flight = Bound(telemetry.api_in_flight, cloud)
        self.api_rate_limit = Bound(telemetry.api_rate_limit, cloud)
        self.api_limit_decreases = Bound(telemetry.api_limit_decreases, cloud)
        self.detail_backlog = Bound(telemetry.detail_backlog, cloud)
        self.detail_pass_duration = Bound(telemetry.detail_pass_duration, cloud)
        self.feed_missed = Bound(telemetry.feed_missed, cloud)
        self.feed_rows = Bound(telemetry.feed_rows, cloud)
        self.feed_enabled = Bound(telemetry.feed_enabled, cloud)
        self.feed_lag = Bound(telemetry.feed_lag, cloud)
        self.reconciliation_age = Bound(telemetry.reconciliation_age, cloud)
        self.reconciliation_duration = Bound(telemetry.reconciliation_duration, cloud)
        self.reconciliation_removed = Bound(telemetry.reconciliation_removed, cloud)

    def poll_error(self, endpoint: str, reason: str, url: str = "", detail: str = "",
                   when: float | None = None) -> None:
        """Count a failed call of this cloud and make it the endpoint's latest error."""
        self.telemetry.poll_error(self.cloud, endpoint, reason, url, detail, when)

    def auth_recorder(self) -> AuthRecorder:
        return AuthRecorder(self.telemetry, self.cloud)


class AuthRecorder:
    def __init__(self, telemetry: Telemetry, cloud: str) -> None:
        self._counter = telemetry.authentications
        self._cloud = cloud

    def __call__(self, result: str) -> None:
        self._counter.labels(self._cloud, result).inc()
