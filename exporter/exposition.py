"""The /metrics body: fleet families rendered once per cycle, self-metrics on each scrape.

Rendering a fleet of 100,000 members costs seconds; a scrape must cost milliseconds whatever
the fleet size. So the fleet part is rendered once when a cycle ends, in a worker thread, in
both text formats and gzipped, and kept as bytes. A scrape only renders the exporter's own
small registry and concatenates. Gzip members may be concatenated (RFC 1952), so the cached
compressed fleet part is reused as is.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.openmetrics import exposition as om_format

from exporter.collector import FleetCollector
from exporter.snapshot import CloudView

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
EOF_LINE = b"# EOF\n"
GZIP_LEVEL = 6


@dataclass(frozen=True, slots=True)
class Rendered:
    text: bytes
    text_gzip: bytes
    openmetrics: bytes  # without the trailing "# EOF"
    openmetrics_gzip: bytes
    generation: int


def _strip_eof(body: bytes) -> bytes:
    return body[: -len(EOF_LINE)] if body.endswith(EOF_LINE) else body


class Exposition:
    def __init__(self, live: CollectorRegistry, stateset: bool = False) -> None:
        self._live = live
        self._views: Sequence[CloudView] = ()
        self._fleet = CollectorRegistry(auto_describe=False)
        self._fleet.register(FleetCollector(lambda: self._views, stateset=stateset))
        self._render_lock = threading.Lock()
        self._generation = 0
        self.current = Rendered(b"", gzip.compress(b""), b"", gzip.compress(b""), 0)

    def render_now(self, views: Sequence[CloudView]) -> Rendered:
        """Render the fleet part for these views (blocking; call from a worker thread)."""
        with self._render_lock:
            self._views = tuple(views)
            text = text_format.generate_latest(self._fleet)
            om = _strip_eof(om_format.generate_latest(self._fleet))  # type: ignore[no-untyped-call]
            self._views = ()
            self._generation += 1
            rendered = Rendered(
                text=text,
                text_gzip=gzip.compress(text, GZIP_LEVEL),
                openmetrics=om,
                openmetrics_gzip=gzip.compress(om, GZIP_LEVEL),
                generation=self._generation,
            )
            self.current = rendered
            return rendered

    async def render(self, views: Sequence[CloudView]) -> Rendered:
        return await asyncio.to_thread(self.render_now, views)

    def body(self, openmetrics: bool, compress: bool) -> tuple[bytes, str]:
        """The full exposition as the client asked for it, and its content type."""
        fleet = self.current
        if openmetrics:
            live = om_format.generate_latest(self._live)  # type: ignore[no-untyped-call]
            head = fleet.openmetrics_gzip if compress else fleet.openmetrics
            content_type = OPENMETRICS_CONTENT_TYPE
        else:
            live = text_format.generate_latest(self._live)
            head = fleet.text_gzip if compress else fleet.text
            content_type = TEXT_CONTENT_TYPE
        tail = gzip.compress(live, GZIP_LEVEL) if compress else live
        return head + tail, content_type
