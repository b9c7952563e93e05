"""The /metrics body: fleet families rendered once per publish, self-metrics on each scrape.

Rendering a fleet of 100,000 members costs seconds; a scrape must cost milliseconds whatever
the fleet size. So the fleet part is rendered when something new is published, in a worker
thread, in both text formats, gzipped (reusing the blocks the last render compressed), and kept
as bytes. A scrape renders only the exporter's own small registry and appends it to the cached
deflate stream as a few more blocks. Clients that do not accept gzip (people with curl) get the
fleet part decompressed on the fly, the rare, slower path.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.openmetrics import exposition as om_format

from exporter.export.families import all_families
from exporter.export.render import EMPTY, Deflated, RenderCache, render_families
from exporter.model.snapshot import CloudView

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Rendered:
    text: Deflated
    openmetrics: Deflated  # without the trailing "# EOF"
    generation: int
    lines: int = 0


class Exposition:
    def __init__(self, live: CollectorRegistry, stateset: bool = False,
                 compression_level: int = 1) -> None:
        self._live = live
        self._stateset = stateset
        self._level = compression_level
        self._render_lock = threading.Lock()
        self._cache = RenderCache()
        self._generation = 0
        self.current = Rendered(EMPTY, EMPTY, 0)

    def render_now(self, views: Sequence[CloudView]) -> Rendered:
        """Render the fleet part for these views (blocking; call from a worker thread)."""
        with self._render_lock:
            compressed = render_families(all_families(views, self._stateset), self._level,
                                         self._cache)
            self._generation += 1
            rendered = Rendered(compressed.text, compressed.openmetrics, self._generation,
                                compressed.lines)
            self.current = rendered
            return rendered

    async def render(self, views: Sequence[CloudView]) -> Rendered:
        return await asyncio.to_thread(self.render_now, views)

    def body(self, openmetrics: bool, compress: bool) -> tuple[bytes, str]:
        """The full exposition as one bytes object (for --once and tests)."""
        parts, content_type = self.parts(openmetrics, compress)
        return b"".join(parts), content_type

    def stream(self, openmetrics: bool, compress: bool) -> tuple[Iterator[bytes], int, str]:
        """The exposition as pieces to write one after the other, its length and content type.
        Plain text is inflated piece by piece as it is written, never whole."""
        fleet = self.current
        if compress:
            parts, content_type = self.parts(openmetrics, compress)
            return iter(parts), sum(len(p) for p in parts), content_type
        live, head, content_type = self._live_and_head(fleet, openmetrics)
        return (itertools.chain(head.plain_pieces(), (live,)), head.size + len(live),
                content_type)

    def _live_and_head(self, fleet: Rendered, openmetrics: bool) -> tuple[bytes, Deflated, str]:
        if openmetrics:
            live = om_format.generate_latest(self._live)  # type: ignore[no-untyped-call]
            return live, fleet.openmetrics, OPENMETRICS_CONTENT_TYPE
        return text_format.generate_latest(self._live), fleet.text, TEXT_CONTENT_TYPE

    def parts(self, openmetrics: bool, compress: bool) -> tuple[list[bytes], str]:
        """The full exposition as the client asked for it, in parts, and its content type."""
        live, head, content_type = self._live_and_head(self.current, openmetrics)
        if compress:
            return head.gzip_parts(live), content_type
        return [head.plain(), live], content_type
