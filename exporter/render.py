"""The fast exposition writer: fleet families straight to gzipped bytes, both text formats.

prometheus_client builds an object per sample and renders through generic code; at 100,000
members that is seconds of CPU and hundreds of MB. Here each sample line is formatted once and
compressed once (Prometheus text 0.0.4 and OpenMetrics 1.0 share their sample lines; only the
HELP/TYPE lines differ, and each format gets its own small header segments), and only the
compressed bytes are kept, so memory holds megabytes rather than the uncompressed exposition.
A scrape appends the self-metrics as more deflate blocks and closes the gzip member, without
recompressing the fleet part.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from exporter.families import Family

RAW_DEFLATE = -15  # deflate without zlib/gzip framing; we frame it ourselves
# A gzip member header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
# Largest piece of inflated text a plain scrape holds at once.
PLAIN_PIECE = 1024 * 1024
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
CHUNK_LINES = 4096


def escape_label(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def format_value(value: float) -> str:
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def header(family: Family, openmetrics: bool) -> str:
    if openmetrics:
        name = family.name
        return (f"# HELP {name} {escape_help(family.help, True)}\n"
                f"# TYPE {name} {family.kind}\n")
    name = family.sample_name
    kind = "gauge" if family.kind == "info" else family.kind
    return f"# HELP {name} {escape_help(family.help, False)}\n# TYPE {name} {kind}\n"


COMMON_VALUES = {1.0: "1", 0.0: "0"}


def sample_lines(family: Family) -> Iterable[str]:
    """One line per sample. The hot loop of a large render: a %-template filled in C, and
    escaping only for the rare sample whose values contain a quote, backslash or newline."""
    name = family.sample_name
    if not family.labels:
        for _, value in family.samples:
            yield f"{name} {format_value(value)}\n"
        return
    template = name + "{" + ",".join(f'{key}="%s"' for key in family.labels) + "} %s\n"
    width = len(family.labels)
    common = COMMON_VALUES
    for values, value in family.samples:
        if len(values) != width:
            raise ValueError(f"{name}: {len(values)} label values for {width} labels")
        joined = "".join(values)
        if '"' in joined or "\\" in joined or "\n" in joined:
            values = [escape_label(v) for v in values]
        text = common.get(value)
        yield template % (*values, text if text is not None else format_value(value))


@dataclass(frozen=True, slots=True)
class Deflated:
    """Raw deflate segments, each ended by a sync flush (byte-aligned, not final), with the
    CRC-32 and length of what they hold. Segments can be concatenated, and more blocks appended,
    then wrapped into ONE gzip member: many clients (aiohttp, some browsers) read only the first
    member of a multi-member gzip body, so concatenating two gzip files is not an option. The
    segments are kept unjoined so that a 40 MB exposition is never copied to be served."""

    chunks: tuple[bytes, ...]
    crc: int
    size: int

    @property
    def compressed_size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def plain(self) -> bytes:
        inflater = zlib.decompressobj(RAW_DEFLATE)
        return b"".join(inflater.decompress(chunk) for chunk in self.chunks)

    def plain_pieces(self, max_length: int = PLAIN_PIECE) -> Iterator[bytes]:
        """The inflated text in pieces of at most `max_length` bytes: a scrape without gzip
        holds one piece at a time instead of the whole body (hundreds of MB at fleet scale)."""
        inflater = zlib.decompressobj(RAW_DEFLATE)
        for chunk in self.chunks:
            data = chunk
            while True:
                piece = inflater.decompress(data, max_length)
                if piece:
                    yield piece
                data = inflater.unconsumed_tail
                # A full piece may leave output pending inside the inflater: ask again.
                if not data and len(piece) < max_length:
                    break

    def gzip_parts(self, tail: bytes, level: int = 6) -> list[bytes]:
        """The gzip member as parts to write one after the other: header, fleet, tail, trailer."""
        compressor = zlib.compressobj(level, zlib.DEFLATED, RAW_DEFLATE)
        body = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
        crc = zlib.crc32(tail, self.crc)
        size = (self.size + len(tail)) & 0xFFFFFFFF
        return [GZIP_HEADER, *self.chunks, body, struct.pack("<II", crc, size)]


EMPTY = Deflated((), 0, 0)


@dataclass(frozen=True, slots=True)
class Compressed:
    text: Deflated
    openmetrics: Deflated  # no trailing "# EOF": self-metrics follow, then the EOF
    lines: int


def _segment(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, RAW_DEFLATE)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


class _Format:
    """One text format's running CRC and length over the shared segments."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.crc = 0
        self.size = 0

    def add(self, plain: bytes, compressed: bytes) -> None:
        self.chunks.append(compressed)
        self.crc = zlib.crc32(plain, self.crc)
        self.size += len(plain)

    def done(self) -> Deflated:
        return Deflated(tuple(self.chunks), self.crc, self.size)


def render_families(families: Iterable[Family], level: int = 1) -> Compressed:
    """Both formats; each family's samples are compressed ONCE and shared by both, since only
    the HELP/TYPE lines differ between Prometheus text and OpenMetrics."""
    text, om = _Format(), _Format()
    lines = 0
    for family in families:
        for fmt, openmetrics in ((text, False), (om, True)):
            head = header(family, openmetrics).encode()
            fmt.add(head, _segment(head, level))
        compressor = zlib.compressobj(level, zlib.DEFLATED, RAW_DEFLATE)
        source = sample_lines(family)
        while batch := list(itertools.islice(source, CHUNK_LINES)):
            lines += len(batch)
            _shared(compressor, "".join(batch).encode(), text, om)
        _shared(compressor, b"", text, om, final=True)
    return Compressed(text.done(), om.done(), lines)


def _shared(compressor: Any, plain: bytes, text: _Format, om: _Format,
            final: bool = False) -> None:
    compressed = compressor.compress(plain)
    if final:
        compressed += compressor.flush(zlib.Z_SYNC_FLUSH)
    text.add(plain, compressed)
    om.add(plain, compressed)
