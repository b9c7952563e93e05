"""benchmarks/probe_overlap.py: another client's requests grouped by what the exporter had in
flight, from the server's request log."""

from __future__ import annotations

from benchmarks.probe_overlap import breakdown, kind, read

LOG = """\
100.000 100.500 /v2/lbaas/pools octavia-exporter/1.0
100.100 100.300 /v2/lbaas/loadbalancers/a/status python-requests/2.34
101.000 101.030 /v2/lbaas/loadbalancers/b/status octavia-exporter/1.0
101.010 101.040 /v2/lbaas/loadbalancers/c/status python-requests/2.34
102.000 102.020 /v2/lbaas/loadbalancers/d/status python-requests/2.34
103.000 103.010 /v2/octavia/amphorae/x/stats octavia-exporter/1.0
103.005 103.100 /v2/lbaas/loadbalancers/e/status python-requests/2.34
104.000 104.100 /v2/lbaas/loadbalancers/f/status python-requests/2.34
"""


def test_probes_are_grouped_by_what_they_met_and_counted_slow_over_the_threshold() -> None:
    requests = read(LOG.splitlines())
    # f starts after the exporter's last request ended: outside its span, not counted.
    assert breakdown(requests, slow_ms=50.0) == {
        "list page": (1, 1), "status tree": (1, 0), "nothing": (1, 0), "amphora stats": (1, 1)}


def test_kinds_of_request() -> None:
    assert kind("/v2/lbaas/loadbalancers/x/status") == "status tree"
    assert kind("/v2/octavia/amphorae/x/stats") == "amphora stats"
    assert kind("/v2/lbaas/listeners/x/stats") == "listener or LB stats"
    assert kind("/v2/lbaas/pools?limit=200&marker=x") == "list page"
