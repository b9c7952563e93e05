"""The fast exposition writer: fleet families straight to gzipped bytes, both text formats.

prometheus_client builds an object per sample and renders through generic code; at 100,000
members that is seconds of CPU and hundreds of MB. Here each sample line is formatted once and
fed to two streaming compressors (Prometheus text 0.0.4 and OpenMetrics 1.0 share their sample
lines; only the HELP/TYPE lines differ), and only the compressed bytes are kept, so memory
holds megabytes rather than the uncompressed exposition. A scrape appends the self-metrics as
more deflate blocks and closes the gzip member, without recompressing the fleet part.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.families import Family

RAW_DEFLATE = -15  # deflate without zlib/gzip framing; we frame it ourselves
# A gzip member header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
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


def sample_lines(family: Family) -> Iterable[str]:
    name = family.sample_name
    keys = [f'{key}="' for key in family.labels]
    for values, value in family.samples:
        labels = '",'.join([k + escape_label(v) for k, v in zip(keys, values, strict=True)])
        yield f'{name}{{{labels}"}} {format_value(value)}\n' if keys else (
            f"{name} {format_value(value)}\n")


@dataclass(frozen=True, slots=True)
class Deflated:
    """A raw deflate stream ended by a sync flush (byte-aligned, not final), with the CRC-32 and
    length of what it holds, so more deflate blocks can be appended and wrapped into ONE gzip
    member. Many clients (aiohttp, some browsers) read only the first member of a multi-member
    gzip body, so concatenating two gzip files is not an option."""

    data: bytes
    crc: int
    size: int

    def plain(self) -> bytes:
        return zlib.decompressobj(RAW_DEFLATE).decompress(self.data)

    def gzip_with(self, tail: bytes, level: int = 6) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, RAW_DEFLATE)
        body = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
        crc = zlib.crc32(tail, self.crc)
        size = (self.size + len(tail)) & 0xFFFFFFFF
        return GZIP_HEADER + self.data + body + struct.pack("<II", crc, size)


EMPTY = Deflated(zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_SYNC_FLUSH), 0, 0)


@dataclass(frozen=True, slots=True)
class Compressed:
    text: Deflated
    openmetrics: Deflated  # no trailing "# EOF": self-metrics follow, then the EOF
    lines: int


class _Stream:
    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, RAW_DEFLATE)
        self._out: list[bytes] = []
        self._crc = 0
        self._size = 0

    def write(self, data: bytes) -> None:
        self._out.append(self._compressor.compress(data))
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)

    def close(self) -> Deflated:
        self._out.append(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        return Deflated(b"".join(self._out), self._crc, self._size)


def render_families(families: Iterable[Family], level: int = 1) -> Compressed:
    text, om = _Stream(level), _Stream(level)
    lines = 0
    for family in families:
        text.write(header(family, False).encode())
        om.write(header(family, True).encode())
        batch: list[str] = []
        for line in sample_lines(family):
            batch.append(line)
            if len(batch) >= CHUNK_LINES:
                chunk = "".join(batch).encode()
                text.write(chunk)
                om.write(chunk)
                lines += len(batch)
                batch = []
        if batch:
            chunk = "".join(batch).encode()
            text.write(chunk)
            om.write(chunk)
            lines += len(batch)
    return Compressed(text.close(), om.close(), lines)
