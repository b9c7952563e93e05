"""The fast exposition writer: fleet families straight to gzipped bytes, both text formats.

prometheus_client builds an object per sample and renders through generic code; at 100,000
members that is seconds of CPU and hundreds of MB. Here each sample line is formatted once and
compressed once (Prometheus text 0.0.4 and OpenMetrics 1.0 share their sample lines; only the
HELP/TYPE lines differ, and each format gets its own small header segments), and only the
compressed bytes are kept, so memory holds megabytes rather than the uncompressed exposition.
A scrape appends the self-metrics as more deflate blocks and closes the gzip member, without
recompressing the fleet part.

Most of a fleet is the same from one render to the next (tier 2 publishes several times per
pass, and only the load balancers it read since have new lines), so a render keeps what the
last one made (`RenderCache`): a family whose key holds the same objects is not formatted
again, and the lines of a family that changed are cut into blocks at content-defined points,
each compressed on its own, so a block whose text the last render had is reused as it is.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from exporter.export.families import Family

RAW_DEFLATE = -15  # deflate without zlib/gzip framing; we frame it ourselves
# A gzip member header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
# Largest piece of inflated text a plain scrape holds at once.
PLAIN_PIECE = 1024 * 1024
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# A block ends after a line whose hash has these bits clear: about 1,024 lines on average, and
# the cut points move with the text, so one line more or less early in a family changes one
# block rather than every block after it.
BLOCK_MASK = 1023
MAX_BLOCK_LINES = 8192


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


# The CRC-32 polynomial, bit-reflected, as zlib uses it.
CRC_POLY = 0xEDB88320
CRC_X0 = 1 << 31  # the polynomial "1" in the reflected order


def _multiply(a: int, b: int) -> int:
    """a x b modulo the CRC polynomial (a not 0)."""
    bit, product = CRC_X0, 0
    while True:
        if a & bit:
            product ^= b
            if not a & (bit - 1):
                return product
        bit >>= 1
        b = (b >> 1) ^ CRC_POLY if b & 1 else b >> 1


# x^(2^k) modulo the polynomial, k = 0..31: x^(8n) is a product of these.
_POWERS = [CRC_X0 >> 1]
for _ in range(31):
    _POWERS.append(_multiply(_POWERS[-1], _POWERS[-1]))


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B), without the bytes: appending
    len(B) bytes multiplies A's CRC by x^(8 len(B)) modulo the polynomial (zlib's method; Python
    does not expose zlib's crc32_combine)."""
    shift, bits, k = CRC_X0, length2, 3  # x^(8 n) = x^(n 2^3)
    while bits:
        if bits & 1:
            shift = _multiply(_POWERS[k & 31], shift)
        bits >>= 1
        k += 1
    return _multiply(shift, crc1) ^ crc2


BlockKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Samples:
    """One family's sample lines, compressed, with what they were made of."""

    key: tuple[object, ...]
    blocks: tuple[tuple[BlockKey, bytes], ...]
    crc: int
    size: int
    lines: int


class RenderCache:
    """What the last render compressed: each family's samples by the identity of what they
    were made of (families.Key), and each block by the length and hash of its text. It holds
    the compressed bytes the published exposition holds anyway, and nothing of older renders."""

    def __init__(self) -> None:
        self.families: dict[str, _Samples] = {}
        self.blocks: dict[BlockKey, bytes] = {}
        self.reused_lines = 0  # in the last render, for benchmarks and tests
        self.compressed_lines = 0


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

    def add_samples(self, samples: _Samples) -> None:
        self.chunks.extend(block for _, block in samples.blocks)
        self.crc = crc32_combine(self.crc, samples.crc, samples.size)
        self.size += samples.size

    def done(self) -> Deflated:
        return Deflated(tuple(self.chunks), self.crc, self.size)


def _blocks(lines: Iterable[str]) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        block.append(line)
        if not hash(line) & BLOCK_MASK or len(block) >= MAX_BLOCK_LINES:
            yield block
            block = []
    if block:
        yield block


def _unchanged(before: tuple[object, ...], now: tuple[object, ...]) -> bool:
    return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=True))


def _compress(family: Family, level: int, cache: RenderCache) -> _Samples:
    blocks: list[tuple[BlockKey, bytes]] = []
    crc = size = lines = 0
    for batch in _blocks(sample_lines(family)):
        lines += len(batch)
        plain = "".join(batch).encode()
        # bytes hash with a per-process key (SipHash): two different texts of one length
        # share a key with a chance of 2**-64, and nobody outside can aim for it.
        key = (len(plain), hash(plain))
        block = cache.blocks.get(key)
        if block is None:
            block = _segment(plain, level)
            cache.compressed_lines += len(batch)
        else:
            cache.reused_lines += len(batch)
        blocks.append((key, block))
        crc = zlib.crc32(plain, crc)
        size += len(plain)
    return _Samples(family.key or (), tuple(blocks), crc, size, lines)


def render_families(families: Iterable[Family], level: int = 1,
                    cache: RenderCache | None = None) -> Compressed:
    """Both formats; each family's samples are compressed once and shared by both (only the
    HELP/TYPE lines differ between Prometheus text and OpenMetrics). With `cache`, a family
    whose key holds the same objects as in the last render is not formatted again, and a block
    whose text the last render had is not compressed again; `cache` then holds this render."""
    if cache is None:
        cache = RenderCache()
    text, om = _Format(), _Format()
    families_now: dict[str, _Samples] = {}
    blocks_now: dict[BlockKey, bytes] = {}
    cache.reused_lines = cache.compressed_lines = 0
    lines = 0
    for family in families:
        for fmt, openmetrics in ((text, False), (om, True)):
            head = header(family, openmetrics).encode()
            fmt.add(head, _segment(head, level))
        samples = cache.families.get(family.name)
        if family.key is None or samples is None or not _unchanged(samples.key, family.key):
            samples = _compress(family, level, cache)
        else:
            cache.reused_lines += samples.lines
        if family.key is not None:
            families_now[family.name] = samples
        blocks_now.update(samples.blocks)
        lines += samples.lines
        text.add_samples(samples)
        om.add_samples(samples)
    cache.families, cache.blocks = families_now, blocks_now
    return Compressed(text.done(), om.done(), lines)
