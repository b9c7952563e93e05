"""How old each cloud's per-load-balancer detail is, computed when scraped.

The published snapshot holds when each load balancer's detail was read; ages grow between
publishes, so they are computed at scrape time, from timestamps sorted once per publish (a scrape
then costs a few bisections, not a pass over the fleet). A load balancer whose detail has never
been read counts from when the lists first showed it, so a backlog shows as age, not as absence.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.metrics_core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.model.snapshot import CloudView, FleetSnapshot

AGE_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)


class _Sorted:
    def __init__(self, snapshot: FleetSnapshot, first_seen: dict[str, float]) -> None:
        self.snapshot = snapshot
        stamps = [snapshot.detail_read_at.get(lb_id) or first_seen.get(lb_id, snapshot.taken_at)
                  for lb_id in snapshot.loadbalancers]
        self.stamps = sorted(stamps)
        self.total = sum(stamps)


class FreshnessCollector(Collector):
    def __init__(self, views: Callable[[], Sequence[CloudView]], target: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._views = views
        self._target = target
        self._clock = clock
        self._sorted: dict[str, _Sorted] = {}
        self._first_seen: dict[str, dict[str, float]] = {}

    def _for(self, snapshot: FleetSnapshot) -> _Sorted:
        cached = self._sorted.get(snapshot.cloud)
        if cached is None or cached.snapshot is not snapshot:
            seen = self._first_seen.setdefault(snapshot.cloud, {})
            for lb_id in snapshot.loadbalancers:
                seen.setdefault(lb_id, snapshot.taken_at)
            for lb_id in [k for k in seen if k not in snapshot.loadbalancers]:
                del seen[lb_id]
            cached = self._sorted[snapshot.cloud] = _Sorted(snapshot, seen)
        return cached

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        ages = GaugeHistogramMetricFamily(
            "octavia_detail_age_seconds",
            "Load balancers by the age of their detail (members, stats), at scrape time.",
            labels=["cloud"])
        oldest = GaugeMetricFamily(
            "octavia_detail_oldest_age_seconds",
            "Age of the oldest load-balancer detail of the cloud, at scrape time.",
            labels=["cloud"])
        target = GaugeMetricFamily(
            "octavia_detail_age_target_seconds",
            "The configured --detail-target: how old detail may get before it is late.",
            labels=["cloud"])
        for view in self._views():
            cloud = view.health.cloud
            target.add_metric([cloud], self._target)
            if view.snapshot is None or view.health.stale_withdrawn:
                continue
            data = self._for(view.snapshot)
            count = len(data.stamps)
            # An age <= le means a stamp >= now - le.
            buckets = [(_le(le), float(count - bisect.bisect_left(data.stamps, now - le)))
                       for le in AGE_BUCKETS]
            buckets.append(("+Inf", float(count)))
            ages.add_metric([cloud], buckets, gsum_value=max(0.0, count * now - data.total))
            oldest.add_metric([cloud], max(0.0, now - data.stamps[0]) if count else 0.0)
        yield ages
        yield oldest
        yield target


def _le(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{value:.1f}"
