"""Two exporters' CPU per unit of work, measured side by side against one simulator.

On a shared machine the CPU seconds of one and the same piece of work drift by a third from one
minute to the next (docs/benchmarks.md, "The machine"), so two exporters measured one after the
other compare the machine's moods as much as the code. Here both run at once, against one
simulated fleet, and each is measured over its own unit of work: the baseline's cycle (the
code before issue 11: lists and all detail, then a render) and the candidate's window from one
detail pass to the next (tier 1, the pass, every publish in between). Each candidate window is
set against the baseline cycles that ran wholly inside it, so the two figures of a pair come from
the same minutes. The first unit of each is a warm-up and is not counted.

The candidate spends its CPU in a busy part of its window (tier 1 and the pass, about a fifth of
it at 10,000 load balancers), three processes then sharing two cores, and is idle for the rest;
the baseline is busy throughout. A CPU second goes less far while the cores are shared, so the
baseline's cycles in the candidate's idle minutes are cheaper than the same cycles beside its
busy part. Each pair therefore also sets the window against the baseline cycles whose midpoint
falls inside the busy part (from the start of the window's last tier 1 to its pass's end):
`busy_ratio`.

    mkdir -p /tmp/old && git archive c77cc32 exporter | tar -x -C /tmp/old
    .venv/bin/python -m benchmarks.side_by_side --baseline-src /tmp/old --seconds 1200
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.run import Process, cpu_seconds, free_port, log_format_flag, start_simulator


@dataclass
class Exporter:
    name: str
    src: str | None
    event: str
    args: list[str]


@dataclass
class Pair:
    """One candidate window and the baseline cycles inside it."""

    candidate_seconds: float
    candidate_cpu: float
    baseline_cycles: int
    baseline_cpu_mean: float
    ratio: float
    # Against the baseline cycles beside the candidate's busy part (None: no cycle's midpoint
    # fell inside it).
    busy_seconds: float | None = None
    busy_baseline_cycles: int = 0
    busy_baseline_cpu_mean: float | None = None
    busy_ratio: float | None = None


def logged(log: Path, event: str) -> list[dict[str, Any]]:
    """The exporter's JSON log lines of `event`."""
    marker = f'"{event}"'
    return [json.loads(line) for line in log.read_text(errors="replace").splitlines()
            if marker in line]


def unit_ends(log: Path, event: str) -> list[float]:
    """When each unit of work ended (wall time), from the exporter's JSON log."""
    return [datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()
            for line in logged(log, event)]


def tier1_starts(log: Path) -> list[float]:
    """When each tier 1 started (wall time): the `started` of the candidate's poll_cycle_done."""
    return [float(line["started"]) for line in logged(log, "poll_cycle_done")
            if isinstance(line.get("started"), int | float)]


class CpuTrace:
    """(wall time, CPU seconds) of some processes, four times a second, in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for name, pid in self.pids.items():
                self.samples[name].append((now, cpu_seconds(pid)))
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


def pairs(trace: CpuTrace, baseline: list[float], candidate: list[float],
          busy_starts: Sequence[float] = ()) -> list[Pair]:
    out = []
    cycles = list(itertools.pairwise(baseline))
    # Each list starts with the end of the warm-up unit, so every window below is a whole unit.
    for start, end in itertools.pairwise(candidate):
        inside = [(a, b) for a, b in cycles if a >= start and b <= end]
        if not inside:
            continue
        base = statistics.fmean(trace.between("baseline", a, b) for a, b in inside)
        cpu = trace.between("candidate", start, end)
        pair = Pair(round(end - start, 1), round(cpu, 2), len(inside), round(base, 2),
                    round(cpu / base, 3))
        busy_from = max((s for s in busy_starts if start <= s < end), default=None)
        if busy_from is not None:
            beside = [(a, b) for a, b in cycles if busy_from <= (a + b) / 2 <= end]
            if beside:
                busy_base = statistics.fmean(trace.between("baseline", a, b) for a, b in beside)
                pair.busy_seconds = round(end - busy_from, 1)
                pair.busy_baseline_cycles = len(beside)
                pair.busy_baseline_cpu_mean = round(busy_base, 2)
                pair.busy_ratio = round(cpu / busy_base, 3)
        out.append(pair)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=1200.0,
                        help="how long both run (the candidate's window is 2 to 4 minutes)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--baseline-src", required=True,
                        help="source tree of the exporter to compare with (before issue 11)")
    parser.add_argument("--baseline-args", default="--interval 1")
    parser.add_argument("--baseline-event", default="poll_cycle_done")
    parser.add_argument("--candidate-src", help="source tree of the candidate (default: this "
                        "checkout)")
    parser.add_argument("--candidate-args", default="--api-max-rate 0 --interval 30")
    parser.add_argument("--candidate-event", default="detail_pass_done")
    parser.add_argument("--json", help="also write the pairs as JSON to this file")
    args = parser.parse_args()
    exporters = [
        Exporter("baseline", args.baseline_src, args.baseline_event, args.baseline_args.split()),
        Exporter("candidate", args.candidate_src, args.candidate_event,
                 args.candidate_args.split()),
    ]
    with tempfile.TemporaryDirectory(prefix="octavia-side-by-side-") as tmp:
        workdir = Path(tmp)
        sim, _, clouds = start_simulator("simulator", args.lbs, args.latency_ms, workdir)
        procs: dict[str, Process] = {}
        try:
            for exp in exporters:
                procs[exp.name] = Process(exp.name, [
                    sys.executable, "-m", "exporter", "--os-cloud", "simulator",
                    "--concurrency", str(args.concurrency),
                    log_format_flag(sys.executable, exp.src), "json",
                    "--request-timeout", "30", "--cycle-timeout", "600",
                    "--web.listen-address", f"127.0.0.1:{free_port()}", *exp.args], workdir,
                    env={"OS_CLIENT_CONFIG_FILE": str(clouds),
                         **({"PYTHONPATH": exp.src} if exp.src else {})},
                    cwd=exp.src or str(Path(__file__).resolve().parent.parent))
            trace = CpuTrace({name: p.popen.pid for name, p in procs.items()})
            trace.start()
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                for name, proc in procs.items():
                    if proc.popen.poll() is not None:
                        raise SystemExit(f"the {name} exporter exited: {proc.log_path}")
                time.sleep(1)
            trace.stop()
        finally:
            for proc in procs.values():
                proc.stop()
            sim.stop()
        ends = {exp.name: unit_ends(procs[exp.name].log_path, exp.event) for exp in exporters}
        found = pairs(trace, ends["baseline"], ends["candidate"],
                      tier1_starts(procs["candidate"].log_path))
    for pair in found:
        print(json.dumps(asdict(pair)))
    if not found:
        print("no candidate window held a whole baseline cycle: run longer", file=sys.stderr)
        return 1
    ratios = [p.ratio for p in found]
    print(f"{len(found)} windows; candidate CPU / baseline CPU per unit: median "
          f"{statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")
    busy = [p.busy_ratio for p in found if p.busy_ratio is not None]
    if busy:
        print(f"{len(busy)} windows against the baseline cycles beside the busy part: median "
              f"{statistics.median(busy):.3f}, range {min(busy):.3f}-{max(busy):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "lbs": args.lbs, "baseline_src": args.baseline_src,
            "candidate_src": args.candidate_src or "this checkout",
            "candidate_args": args.candidate_args, "baseline_args": args.baseline_args,
            "pairs": [asdict(p) for p in found]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
