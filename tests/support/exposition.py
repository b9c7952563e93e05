"""Reading an exposition back: samples by name, one sample's value, a state set's state."""

from __future__ import annotations

import gzip
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.export.exposition import Exposition
from exporter.model.snapshot import CloudView

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_exposition(text: str, openmetrics: bool = False) -> Samples:
    """Every sample of `text` by sample name, as (labels, value), parsed by prometheus_client's
    own parser (the text format, or OpenMetrics)."""
    found: Samples = {}
    families = parse_openmetrics(text) if openmetrics else parse_text(text)
    for family in families:
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def one(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the single sample of `name` whose labels include `labels` (None: absent)."""
    hits = [v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) <= 1, (name, labels, hits)
    return hits[0] if hits else None


def status_of(samples: Samples, name: str, **labels: str) -> str | None:
    """The `status` label of the one sample of state set `name` at 1 (None: none is)."""
    hits = [lab["status"] for lab, v in samples.get(name, [])
            if v == 1 and all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) <= 1, (name, labels, hits)
    return hits[0] if hits else None


def render(views: Iterable[CloudView], stateset: bool = False, openmetrics: bool = False,
           compress: bool = False) -> str:
    """The exposition of `views`, rendered once into a registry of its own."""
    exposition = Exposition(CollectorRegistry(), stateset=stateset)
    exposition.render_now(list(views))
    body, _ = exposition.body(openmetrics=openmetrics, compress=compress)
    if compress:
        body = gzip.decompress(body)
    return body.decode()
