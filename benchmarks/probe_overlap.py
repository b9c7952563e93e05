"""Which of the exporter's requests another client's slow requests met, from the server's log.

`real_api.py --keep-logs DIR` keeps Octavia's request log (`octavia-requests-done.log`: start,
end, path and user agent of every request, written by gunicorn hooks). This reads it and, for
the other client's status-tree GETs made while the exporter was calling, says what the exporter
had in flight at the same time (list pages, status trees, stats, amphora stats, nothing) and how
many of each group took longer than a threshold (by default twice the idle p95 of the run):
where another client's slow requests come from.

    python benchmarks/probe_overlap.py DIR/1000/octavia-requests-done.log --slow-ms 65
"""

from __future__ import annotations

import argparse
import bisect
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

OURS = "octavia-exporter"
PROBE = "python-requests"


@dataclass(frozen=True)
class Request:
    start: float
    end: float
    path: str
    agent: str

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000.0


def kind(path: str) -> str:
    path = path.split("?", 1)[0]
    if path.endswith("/status"):
        return "status tree"
    if "/amphorae/" in path and path.endswith("/stats"):
        return "amphora stats"
    if path.endswith("/stats"):
        return "listener or LB stats"
    if path.endswith("/rules"):
        return "L7 rules"
    return "list page"


def read(lines: Iterable[str]) -> list[Request]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 4:
            out.append(Request(float(parts[0]), float(parts[1]), parts[2], " ".join(parts[3:])))
    return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def breakdown(requests: list[Request], slow_ms: float) -> dict[str, tuple[int, int]]:
    """{what the exporter had in flight: (probes, slow probes)} over the exporter's span."""
    ours = sorted((r for r in requests if OURS in r.agent), key=lambda r: r.start)
    if not ours:
        return {}
    first, last = ours[0].start, max(r.end for r in ours)
    starts = [r.start for r in ours]
    longest = max(r.end - r.start for r in ours)
    seen: Counter[str] = Counter()
    slow: Counter[str] = Counter()
    for probe in requests:
        if not (probe.agent.startswith(PROBE) and probe.path.endswith("/status")):
            continue
        if not first <= probe.start <= last:
            continue
        lo = bisect.bisect_left(starts, probe.start - longest)
        hi = bisect.bisect_right(starts, probe.end)
        met = sorted({kind(r.path) for r in ours[lo:hi]
                      if r.start < probe.end and r.end > probe.start})
        group = " + ".join(met) or "nothing"
        seen[group] += 1
        slow[group] += probe.ms > slow_ms
    return {group: (seen[group], slow[group]) for group in seen}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path, help="octavia-requests-done.log of a kept run")
    parser.add_argument("--slow-ms", type=float, required=True,
                        help="a probe slower than this counts as slow (2 x the run's idle p95)")
    args = parser.parse_args(argv)
    requests = read(args.log.read_text().splitlines())
    table = breakdown(requests, args.slow_ms)
    total = sum(n for n, _ in table.values())
    slow = sum(s for _, s in table.values())
    print(f"probes while the exporter called: {total}, slower than {args.slow_ms:g} ms: {slow} "
          f"({100.0 * slow / max(total, 1):.1f} %)")
    print("| the exporter had in flight | probes | slow | share of all probes that were slow |")
    print("|---|---|---|---|")
    for group, (n, s) in sorted(table.items(), key=lambda item: -item[1][1]):
        print(f"| {group} | {n} | {s} | {100.0 * s / max(total, 1):.1f} % |")
    ours = [r for r in requests if OURS in r.agent]
    print("\n| our requests | count | server ms p50 / p95 | server seconds in all |")
    print("|---|---|---|---|")
    for name in sorted({kind(r.path) for r in ours}):
        times = [r.ms for r in ours if kind(r.path) == name]
        print(f"| {name} | {len(times)} | {quantile(times, 0.5):.1f} / "
              f"{quantile(times, 0.95):.1f} | {sum(times) / 1000.0:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
