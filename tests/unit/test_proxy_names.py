"""No name the exporter exposes equals, or is a near-twin of, a name that Octavia's own
PROMETHEUS listener exposes (octavia/cmd/prometheus_proxy.py; its list is kept in
tests/data/octavia_proxy_metric_names.txt). A Prometheus that scrapes both would otherwise mix
the two sources in every query on such a name."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.export.exposition import Exposition
from exporter.export.families import all_families
from exporter.export.freshness import FreshnessCollector
from exporter.model.capabilities import Capabilities
from exporter.model.snapshot import CloudView
from exporter.telemetry import Telemetry
from tests.support.snapshots import full_snapshot, view

PROXY_NAMES = Path(__file__).resolve().parents[1] / "data" / "octavia_proxy_metric_names.txt"
# What the text and OpenMetrics formats append to a family's name to make its series' names.
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("_count", "_sum", "_created"),
}
SUFFIXES = tuple(sorted({s for suffixes in SAMPLE_SUFFIXES.values() for s in suffixes}))
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def proxy_names() -> list[str]:
    lines = PROXY_NAMES.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def near_twin(ours: str, theirs: str) -> bool:
    """Equal, or equal but for a series suffix (`x` and `x_total`, `x_info` and `x`), or theirs
    with a suffix of our own (`octavia_member_weight_configured`). Their names with a suffix of
    theirs are not twins of ours: `octavia_member`, the OpenMetrics family of
    `octavia_member_info`, would then twin every one of their member series."""
    return _base(ours) == _base(theirs) or ours.startswith(theirs + "_")


def exposed_names() -> set[str]:
    """Every name a scrape of the exporter can show: each family's name and every series name
    its type gives it, for the fleet families (over a snapshot in which every mapping has
    entries and every optional collection is on, in both status-series modes) and for the live
    registry (the exporter's own metrics and the freshness collector), plus every name in the
    rendered text and OpenMetrics bodies."""
    base = view(full_snapshot())
    views = [CloudView(base.health, base.snapshot, Capabilities(amphora_stats=True))]
    names: set[str] = set()
    for stateset in (False, True):
        for family in all_families(views, stateset):
            names.update((family.name, family.sample_name))
    telemetry = Telemetry()
    telemetry.registry.register(FreshnessCollector(lambda: views, 600.0))
    for metric in telemetry.registry.collect():
        names.add(metric.name)
        names.update(metric.name + suffix for suffix in SAMPLE_SUFFIXES.get(metric.type, ()))
        names.update(sample.name for sample in metric.samples)
    exposition = Exposition(telemetry.registry)
    exposition.render_now(views)
    for openmetrics in (False, True):
        body, _ = exposition.body(openmetrics=openmetrics, compress=False)
        for line in body.decode().splitlines():
            if line.startswith(("# HELP ", "# TYPE ")):
                names.add(line.split()[2])
            elif line and not line.startswith("#"):
                match = _NAME.match(line)
                assert match is not None, line
                names.add(match.group())
    return names


def test_the_proxy_list_is_the_proxys_144_names() -> None:
    names = proxy_names()
    assert len(names) == len(set(names)) == 144
    assert all(re.fullmatch(r"octavia_[a-z0-9_]+", name) for name in names)
    # Spot checks against the proxy's table: a process counter, a listener counter renamed from
    # haproxy_frontend_*, a member gauge, and the two gauges the proxy adds itself.
    for name in ("octavia_loadbalancer_connections_total", "octavia_listener_bytes_in_total",
                 "octavia_member_weight", "octavia_loadbalancer_cpu",
                 "octavia_loadbalancer_memory"):
        assert name in names, name


def test_near_twins_are_caught() -> None:
    assert near_twin("octavia_listener_bytes_in_total", "octavia_listener_bytes_in_total")
    assert near_twin("octavia_listener_bytes_in", "octavia_listener_bytes_in_total")
    assert near_twin("octavia_member_weight_info", "octavia_member_weight")
    assert near_twin("octavia_member_weight_total", "octavia_member_weight")
    assert near_twin("octavia_member_weight_configured", "octavia_member_weight")
    assert not near_twin("octavia_member_configured_weight", "octavia_member_weight")
    assert not near_twin("octavia_listener_stats_bytes_in_total", "octavia_listener_bytes_in_total")
    assert not near_twin("octavia_member", "octavia_member_weight")


def test_the_enumeration_sees_every_kind_of_name() -> None:
    names = exposed_names()
    for name in ("octavia_up", "octavia_listener_info", "octavia_listener",
                 "octavia_amphora_stats_bytes_in_total", "octavia_member_configured_weight",
                 "octavia_api_request_duration_seconds_bucket", "octavia_api_requests_total",
                 "octavia_detail_age_seconds_gcount", "octavia_quota_limit",
                 "octavia_l7rule_info", "octavia_exporter_build_info"):
        assert name in names, name


def test_no_exposed_name_is_or_twins_a_proxy_name() -> None:
    theirs = proxy_names()
    clashes = sorted((ours, their) for ours in exposed_names() for their in theirs
                     if near_twin(ours, their))
    assert clashes == [], f"names shared with Octavia's PROMETHEUS listener: {clashes}"
