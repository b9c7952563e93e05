"""Two exporters' CPU per unit of work, measured side by side against one simulator.

On a shared machine the CPU seconds of one and the same piece of work drift by a third from one
minute to the next (docs/benchmarks.md, "The machine"), so two exporters measured one after the
other compare the machine's moods as much as the code. Here both run at once, against one
simulated fleet, and each is measured over its own unit of work, from one log line of
`--*-event` to the next: a single-cycle exporter's cycle (lists and all detail, then a render,
`poll_cycle_done`) or a two-tier exporter's window from one detail pass to the next
(`detail_pass_done`: the pass and everything tier 1 did in between: full lists, or rounds of
the changes feed and now and then a reconciliation). The exporter whose units are the longer
(median) frames the comparison: each of its windows is set against the other's units that ran
wholly inside it, so the two figures of a pair come from the same minutes. The first unit of
each is a warm-up and is not counted.

The framing exporter spends its CPU in a busy part of its window (its last full lists and the
pass), three processes then sharing two cores, and may idle for the rest; a CPU second goes
less far while the cores are shared, so the other's units beside that busy part are dearer than
those in its idle minutes. Each pair therefore also sets the window against the other's units
whose midpoint falls inside the busy part (from the start of the window's last full lists to
its end): `busy_ratio`. Over the whole run, `span` sets each exporter's CPU per unit from its
first counted unit to its last inside the minutes both were measured: the figure that does not
depend on how the windows fall.

A changes-feed exporter's passes are shorter than the full-lists one's windows, and a window
holds a reconciliation (its full lists) only every `--reconcile-interval`: each pair says how
many of the candidate's feed rounds, full lists and reconciliations fell inside it.

Both exporters are scraped alternately (gzip, as Prometheus does) every `--scrape-every`
seconds, the same load on each, and the scrapes after each one's first unit give its /metrics
p50 and p99; its peak RSS (VmHWM) and resident set after the warm-up come from /proc. The
simulator runs from `--simulator-src` (default: the candidate's tree), so that nothing of the
working tree changes under a run.

    mkdir -p /tmp/base /tmp/cand
    git archive f52c60d exporter | tar -x -C /tmp/base
    git archive HEAD exporter | tar -x -C /tmp/cand
    .venv/bin/python -m benchmarks.side_by_side --baseline-src /tmp/base --candidate-src /tmp/cand \
        --baseline-args "--api-max-rate 0 --interval 30" --baseline-event detail_pass_done \
        --seconds 1200 --json sbs.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.run import (
    Process,
    answers,
    cpu_seconds,
    free_port,
    http,
    log_format_flag,
    peak_rss_mb,
    wait_for,
)


@dataclass
class Exporter:
    name: str
    src: str | None
    event: str
    args: list[str]


@dataclass
class Pair:
    """One window of the framing exporter and the other's units inside it. With `frame`
    "candidate" the baseline's cycles are averaged (`baseline_cycles` of them); with "baseline"
    the candidate's units are (`candidate_units`), and `candidate_cpu` is their mean."""

    candidate_seconds: float
    candidate_cpu: float
    baseline_cycles: int
    baseline_cpu_mean: float
    ratio: float
    # Against the other's units beside the framing window's busy part (None: no unit's
    # midpoint fell inside it).
    busy_seconds: float | None = None
    busy_baseline_cycles: int = 0
    busy_baseline_cpu_mean: float | None = None
    busy_ratio: float | None = None
    frame: str = "candidate"
    candidate_units: int = 1
    started: float | None = None
    # What the candidate's tier 1 did in the window's minutes (from its log lines).
    candidate_feed_rounds: int = 0
    candidate_lists: int = 0
    candidate_reconciliations: int = 0


def logged(log: Path, event: str) -> list[dict[str, Any]]:
    """The exporter's JSON log lines of `event`."""
    marker = f'"{event}"'
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if marker in line:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut short when the process was stopped
    return out


def wall(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()


def unit_ends(log: Path, event: str, least: float = 0.0) -> list[float]:
    """When each unit of work ended (wall time), from the exporter's JSON log. `least`: a line
    whose `duration_seconds` is under this share of their median ends no unit: the short pass of
    the few load balancers queued while a full pass ran belongs to the window it falls in."""
    lines = logged(log, event)
    took = [float(line["duration_seconds"]) for line in lines if "duration_seconds" in line]
    floor = least * statistics.median(took) if took and least > 0 else 0.0
    return [wall(line) for line in lines if float(line.get("duration_seconds", floor)) >= floor]


def tier1_starts(log: Path) -> list[float]:
    """When each full lists started (wall time): the `started` of poll_cycle_done (a changes
    feed round, "source": "feed", is not one), and each reconciliation's start."""
    starts = [float(line["started"]) for line in logged(log, "poll_cycle_done")
              if isinstance(line.get("started"), int | float)
              and line.get("source", "lists") != "feed"]
    starts += [wall(line) - float(line.get("duration_seconds", 0.0))
               for line in logged(log, "reconciliation_done")]
    return sorted(starts)


def tier1_rounds(log: Path) -> dict[str, list[float]]:
    """When each feed round, full lists and reconciliation ended (wall time)."""
    rounds = logged(log, "poll_cycle_done")
    return {
        "feed": [wall(r) for r in rounds if r.get("source") == "feed"],
        "lists": [wall(r) for r in rounds if r.get("source", "lists") != "feed"],
        "reconciliation": unit_ends(log, "reconciliation_done"),
    }


class CpuTrace:
    """(wall time, CPU seconds) and resident set (MB) of some processes, four times a second,
    in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self.rss: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for name, pid in self.pids.items():
                self.samples[name].append((now, cpu_seconds(pid)))
                self.rss[name].append((now, rss_mb(pid)))
            self._stop.wait(0.25)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, name: str, start: float, end: float) -> float:
        """CPU seconds `name` used from `start` to `end` (the samples nearest those times)."""
        samples = self.samples[name]

        def at(when: float) -> float:
            return min(samples, key=lambda s: abs(s[0] - when))[1]

        return at(end) - at(start)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pairs(trace: CpuTrace, baseline: list[float], candidate: list[float],
          busy_starts: Sequence[float] = (), frame: str = "candidate") -> list[Pair]:
    """Each window of the `frame` exporter against the other's units wholly inside it;
    `busy_starts`: the framing exporter's full-lists starts."""
    out = []
    frames, inner = (candidate, baseline) if frame == "candidate" else (baseline, candidate)
    other = "baseline" if frame == "candidate" else "candidate"
    units = list(itertools.pairwise(inner))
    # Each list starts with the end of the warm-up unit, so every window below is a whole unit.
    for start, end in itertools.pairwise(frames):
        inside = [(a, b) for a, b in units if a >= start and b <= end]
        if not inside:
            continue
        mean = statistics.fmean(trace.between(other, a, b) for a, b in inside)
        cpu = trace.between(frame, start, end)
        if frame == "candidate":
            pair = Pair(round(end - start, 1), round(cpu, 2), len(inside), round(mean, 2),
                        round(cpu / mean, 3), started=round(start, 1))
        else:
            pair = Pair(round(end - start, 1), round(mean, 2), 1, round(cpu, 2),
                        round(mean / cpu, 3), frame="baseline", candidate_units=len(inside),
                        started=round(start, 1))
        busy_from = max((s for s in busy_starts if start <= s < end), default=None)
        if busy_from is not None:
            beside = [(a, b) for a, b in units if busy_from <= (a + b) / 2 <= end]
            if beside:
                busy = statistics.fmean(trace.between(other, a, b) for a, b in beside)
                pair.busy_seconds = round(end - busy_from, 1)
                pair.busy_baseline_cycles = len(beside)
                pair.busy_baseline_cpu_mean = round(busy, 2)
                pair.busy_ratio = round(cpu / busy if frame == "candidate" else busy / cpu, 3)
        out.append(pair)
    return out


def count_rounds(found: list[Pair], rounds: dict[str, list[float]]) -> None:
    """Fill in what the candidate's tier 1 did inside each pair's window."""
    for pair in found:
        if pair.started is None:
            continue
        start, end = pair.started, pair.started + pair.candidate_seconds

        def within(ends: list[float], start: float = start, end: float = end) -> int:
            return sum(1 for t in ends if start < t <= end)

        pair.candidate_feed_rounds = within(rounds["feed"])
        pair.candidate_lists = within(rounds["lists"])
        pair.candidate_reconciliations = within(rounds["reconciliation"])


def span(trace: CpuTrace, ends: dict[str, list[float]]) -> dict[str, Any]:
    """Each exporter's CPU per unit over the minutes both were measured: from its first unit end
    at or after the later warm-up's end to its last one before the earlier last end."""
    start = max(e[0] for e in ends.values())
    end = min(e[-1] for e in ends.values())
    out: dict[str, Any] = {"seconds": round(end - start, 1)}
    for name, times in ends.items():
        inside = [t for t in times if start <= t <= end]
        if len(inside) < 2:
            return {}
        cpu = trace.between(name, inside[0], inside[-1])
        out[name] = {"units": len(inside) - 1, "seconds": round(inside[-1] - inside[0], 1),
                     "cpu_per_unit": round(cpu / (len(inside) - 1), 2),
                     "cpu_per_second": round(cpu / (inside[-1] - inside[0]), 3)}
    out["ratio"] = round(out["candidate"]["cpu_per_unit"] / out["baseline"]["cpu_per_unit"], 3)
    return out


@dataclass
class Scrapes:
    """/metrics latencies (ms), each with its wall time, per exporter."""

    urls: dict[str, str]
    every: float
    done: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.done = {name: [] for name in self.urls}
        self.failed = {name: 0 for name in self.urls}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # Alternate, so that neither is always scraped first after the other's body.
        for name in itertools.cycle(self.urls):
            if self._stop.wait(self.every / len(self.urls)):
                return
            began = time.time()
            try:
                http(self.urls[name], {"Accept-Encoding": "gzip"}, timeout=60)
            except OSError:
                self.failed[name] += 1
                continue
            self.done[name].append((began, (time.time() - began) * 1000))

    def start(self) -> None:
        if self.every > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def figures(self, name: str, after: float) -> dict[str, Any]:
        took = [ms for when, ms in self.done[name] if when >= after]
        if len(took) < 2:
            return {"scrapes": len(took), "failed": self.failed[name]}
        q = statistics.quantiles(took, n=100, method="inclusive")
        return {"scrapes": len(took), "failed": self.failed[name],
                "p50_ms": round(statistics.median(took), 1), "p99_ms": round(q[98], 1),
                "max_ms": round(max(took), 1)}


def memory(trace: CpuTrace, name: str, peak: float, after: float) -> dict[str, float]:
    resident = [mb for when, mb in trace.rss[name] if when >= after and mb > 0]
    out = {"peak_rss_mb": round(peak, 1)}
    if resident:
        out["rss_median_mb"] = round(statistics.median(resident), 1)
        out["rss_max_mb"] = round(max(resident), 1)
    return out


def start_simulator(lbs: int, latency_ms: float, workdir: Path, src: str | None,
                    ) -> tuple[Process, Path]:
    """The simulator (seed 1) with `lbs` load balancers from the tree `src`, once it answers."""
    port = free_port()
    clouds = workdir / "clouds-simulator.yaml"
    sim = Process("simulator", [
        sys.executable, "-m", "exporter.simulator", "--lbs", str(lbs), "--seed", "1",
        "--port", str(port), "--latency-ms", str(latency_ms),
        "--write-clouds-yaml", str(clouds)], workdir,
        env={"PYTHONPATH": src} if src else None, cwd=src)
    try:
        wait_for(lambda: clouds.exists() and sim.popen.poll() is None, "simulator", 300)
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/_sim/config"), "simulator HTTP", 120)
    except BaseException:
        sim.stop()
        raise
    return sim, clouds


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f}, range {min(values):.3f}-{max(values):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=1200.0,
                        help="how long both run (a full-lists window is 2 to 4 minutes)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--baseline-src", required=True,
                        help="source tree of the exporter to compare with")
    parser.add_argument("--baseline-args", default="--interval 1",
                        help="its flags (default: a single-cycle exporter's)")
    parser.add_argument("--baseline-event", default="poll_cycle_done",
                        help="the log line that ends its unit (detail_pass_done: two-tier)")
    parser.add_argument("--candidate-src", help="source tree of the candidate (default: this "
                        "checkout)")
    parser.add_argument("--candidate-args", default="--api-max-rate 0 --interval 30")
    parser.add_argument("--candidate-event", default="detail_pass_done")
    parser.add_argument("--simulator-src", help="source tree of the simulator (default: the "
                        "candidate's)")
    parser.add_argument("--scrape-every", type=float, default=4.0,
                        help="seconds between two scrapes of the same exporter (0: none)")
    parser.add_argument("--least-unit", type=float, default=0.25,
                        help="a unit-ending line whose duration_seconds is under this share of "
                        "the median ends no unit (0: every line ends one)")
    parser.add_argument("--json", help="also write the pairs as JSON to this file, and the "
                        "CPU, RSS and scrape samples beside it (<name>.samples.json)")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent.parent)
    exporters = [
        Exporter("baseline", args.baseline_src, args.baseline_event, args.baseline_args.split()),
        Exporter("candidate", args.candidate_src, args.candidate_event,
                 args.candidate_args.split()),
    ]
    with tempfile.TemporaryDirectory(prefix="octavia-side-by-side-") as tmp:
        workdir = Path(tmp)
        sim, clouds = start_simulator(args.lbs, args.latency_ms, workdir,
                                      args.simulator_src or args.candidate_src)
        procs: dict[str, Process] = {}
        urls: dict[str, str] = {}
        peaks: dict[str, float] = {}
        began = time.time()
        try:
            for exp in exporters:
                port = free_port()
                urls[exp.name] = f"http://127.0.0.1:{port}/metrics"
                procs[exp.name] = Process(exp.name, [
                    sys.executable, "-m", "exporter", "--os-cloud", "simulator",
                    "--concurrency", str(args.concurrency),
                    log_format_flag(sys.executable, exp.src), "json",
                    "--request-timeout", "30", "--cycle-timeout", "600",
                    "--web.listen-address", f"127.0.0.1:{port}", *exp.args], workdir,
                    env={"OS_CLIENT_CONFIG_FILE": str(clouds),
                         **({"PYTHONPATH": exp.src} if exp.src else {})},
                    cwd=exp.src or here)
            trace = CpuTrace({name: p.popen.pid for name, p in procs.items()})
            scrapes = Scrapes(urls, args.scrape_every)
            trace.start()
            scrapes.start()
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                for name, proc in procs.items():
                    if proc.popen.poll() is not None:
                        raise SystemExit(f"the {name} exporter exited: {proc.log_path}")
                time.sleep(1)
            scrapes.stop()
            trace.stop()
            peaks = {name: peak_rss_mb(p.popen.pid) for name, p in procs.items()}
        finally:
            for proc in procs.values():
                proc.stop()
            sim.stop()
            if os.environ.get("SIDE_BY_SIDE_KEEP_LOGS"):
                keep = Path(os.environ["SIDE_BY_SIDE_KEEP_LOGS"])
                keep.mkdir(parents=True, exist_ok=True)
                for log in workdir.glob("*.log"):
                    (keep / log.name).write_bytes(log.read_bytes())
        ends = {exp.name: unit_ends(procs[exp.name].log_path, exp.event, args.least_unit)
                for exp in exporters}
        if min(len(e) for e in ends.values()) < 2:
            print(f"too few units ({ {k: len(v) for k, v in ends.items()} }): run longer",
                  file=sys.stderr)
            return 1
        lengths = {name: statistics.median(b - a for a, b in itertools.pairwise(e))
                   for name, e in ends.items()}
        frame = "candidate" if lengths["candidate"] >= lengths["baseline"] else "baseline"
        found = pairs(trace, ends["baseline"], ends["candidate"],
                      tier1_starts(procs[frame].log_path), frame=frame)
        count_rounds(found, tier1_rounds(procs["candidate"].log_path))
        whole = span(trace, ends)
        served = {name: scrapes.figures(name, ends[name][0]) for name in urls}
        held = {name: memory(trace, name, peaks.get(name, 0.0), ends[name][0]) for name in urls}
        units = {name: len(e) - 1 for name, e in ends.items()}
    for pair in found:
        print(json.dumps(asdict(pair)))
    print(f"units after the warm-up: {units}; median unit "
          f"{ {k: round(v, 1) for k, v in lengths.items()} } s; the {frame}'s windows frame")
    if whole:
        print(f"over {whole['seconds']} s both ran: candidate CPU per unit "
              f"{whole['candidate']['cpu_per_unit']} s ({whole['candidate']['units']} units), "
              f"baseline {whole['baseline']['cpu_per_unit']} s ({whole['baseline']['units']}): "
              f"ratio {whole['ratio']}")
    for name in urls:
        print(f"{name}: {held[name]}; /metrics {served[name]}")
    if not found:
        print("no window held a whole unit of the other: run longer", file=sys.stderr)
        return 1
    print(f"{len(found)} windows; candidate CPU / baseline CPU per unit: "
          f"{summary([p.ratio for p in found])}")
    busy = [p.busy_ratio for p in found if p.busy_ratio is not None]
    if busy:
        print(f"{len(busy)} windows against the units beside the busy part: {summary(busy)}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "lbs": args.lbs, "baseline_src": args.baseline_src,
            "candidate_src": args.candidate_src or "this checkout",
            "simulator_src": args.simulator_src or args.candidate_src or "this checkout",
            "candidate_args": args.candidate_args, "baseline_args": args.baseline_args,
            "baseline_event": args.baseline_event, "candidate_event": args.candidate_event,
            "seconds": args.seconds, "scrape_every": args.scrape_every,
            "started": round(began, 1), "frame": frame,
            "median_unit_seconds": {k: round(v, 1) for k, v in lengths.items()},
            "units": units, "span": whole, "memory": held, "scrapes": served,
            "least_unit": args.least_unit, "unit_ends": {k: [round(t, 3) for t in v]
                                                         for k, v in ends.items()},
            "pairs": [asdict(p) for p in found]}, indent=1))
        # The raw samples beside it, so that the windows can be drawn again another way.
        Path(args.json).with_suffix(".samples.json").write_text(json.dumps({
            "cpu_samples": {k: [[round(t, 2), round(c, 2)] for t, c in v]
                            for k, v in trace.samples.items()},
            "rss_samples": {k: [[round(t, 2), round(m, 1)] for t, m in v[::4]]
                            for k, v in trace.rss.items()},
            "scrape_samples": {k: [[round(t, 2), round(ms, 1)] for t, ms in v]
                               for k, v in scrapes.done.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
