"""A prometheus_client Collector over the fleet families, for any CollectorRegistry.

/metrics is served by the faster `render` module; this adapter is the reference the fast writer
is tested against, and lets the fleet be registered on an ordinary registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.export.families import Family, all_families
from exporter.model.snapshot import CloudView


def to_metric(family: Family) -> Metric:
    metric = Metric(family.name, family.help, family.kind)
    names = list(family.labels)
    for values, value in family.samples:
        metric.add_sample(family.sample_name, dict(zip(names, values, strict=True)), value)
    return metric


class FleetCollector(Collector):
    def __init__(self, views: Callable[[], Sequence[CloudView]], stateset: bool = False) -> None:
        self._views = views
        self._stateset = stateset

    def describe(self) -> Iterable[Metric]:
        # The families depend on the data; an empty description keeps the registry from
        # calling collect() at registration time.
        return []

    def collect(self) -> Iterator[Metric]:
        for family in all_families(self._views(), self._stateset):
            yield to_metric(family)
