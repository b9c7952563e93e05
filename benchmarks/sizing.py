"""Sizing: fleet size x API workers x interval -> how fresh the exporter's data stays.

Runs the exporter under test against the simulator with its capacity model calibrated to the
real Octavia API (`real_api.py --phases curve` prints the calibration; pass it as JSON with
--capacity, or the model's defaults are used) and, per cell (load balancers, workers, interval):

- waits for tier 1 (every load balancer's, listener's, pool's, monitor's and amphora's status)
  on /metrics: `tier1_seconds`, from the exporter's start;
- then, over --window seconds, counts the load balancers whose detail was read
  (`octavia_loadbalancer_detail_timestamp_seconds` newer than the window's start) and the
  requests the simulator served: the steady detail rate;
- reports `pass_seconds = load balancers / detail rate`: how long a full detail pass takes at
  that rate, which is the age the oldest member data reaches in steady state, and what
  `octavia_detail_oldest_age_seconds` said at the end of the window.

A cell is a few minutes at most; a full pass at 10,000 load balancers would be an hour, hence the
rate. Real-API points for the same table come from real_api.py's `pass` phase.

    python benchmarks/sizing.py --exporter-src /tmp/i11-under-test \\
        --cells 1000:1:30,5000:1:30,10000:1:30,10000:2:30,10000:4:30,10000:1:60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from benchmarks.real_api import (  # noqa: E402
    Expected,
    ExporterBuild,
    ExporterRun,
    SimulatorProcess,
    log,
)
from exporter.simulator.capacity import ServiceTimes  # noqa: E402

DETAIL_SERIES = b"\noctavia_loadbalancer_detail_timestamp_seconds{"


def detail_times(body: bytes) -> dict[bytes, float]:
    """Each load balancer's detail timestamp, keyed by its series' labels."""
    times = {}
    at = body.find(DETAIL_SERIES)
    while at >= 0:
        end = body.find(b"\n", at + 1)
        labels, _, value = body[at + 1:end if end > 0 else None].rpartition(b" ")
        times[labels] = float(value)
        at = body.find(DETAIL_SERIES, end) if end > 0 else -1
    return times


def sim_requests(base: str) -> int:
    body = requests.get(f"{base}/_sim/requests", timeout=60).json()
    return sum(r["count"] for r in body["requests"] if r["service"] == "octavia")


def cell(lbs: int, workers: int, interval: float, capacity: dict[str, Any],
         build: ExporterBuild, window: float, workdir: Path,
         extra: list[str]) -> dict[str, Any]:
    simulator = SimulatorProcess(lbs, {**capacity, "workers": workers}, workdir)
    with simulator:
        run = ExporterRun(build, workdir / "sim-clouds.yaml", workdir,
                          f"sizing-{lbs}-{workers}-{interval:g}",
                          ["--interval", f"{interval:g}", *extra], cloud="simulator")
        try:
            expected = Expected(lbs)
            tier1 = None
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                if not run.alive():
                    raise RuntimeError(f"exporter exited:\n{run.tail()}")
                sample = run.scrape()
                if sample is not None and expected.tier1(sample.counts):
                    tier1 = sample.t
                    break
                time.sleep(0.5)
            # Detail is published in batches, so count the timestamps that changed between two
            # scrapes: the publishing lag is the same at both ends and cancels out.
            run.scrape()
            before = detail_times(run.last_body)
            start_epoch = time.time()
            base = simulator.base
            served_before = sim_requests(base)
            time.sleep(window)
            sample = run.scrape()
            served = sim_requests(base) - served_before
            elapsed = time.time() - start_epoch
            after = detail_times(run.last_body)
            fresh = [k for k, t in after.items() if t != before.get(k)]
            rate = len(fresh) / elapsed
            gauges = sample.gauges if sample else {}
            return {"lbs": lbs, "workers": workers, "interval": interval,
                    "tier1_seconds": tier1, "window_seconds": round(elapsed, 1),
                    "detailed_in_window": len(fresh), "detail_rate_lbs_per_s": round(rate, 2),
                    "requests_per_s": round(served / elapsed, 2),
                    "pass_seconds": round(lbs / rate, 0) if rate else None,
                    "oldest_age_s": gauges.get("octavia_detail_oldest_age_seconds"),
                    "concurrency_limit": gauges.get("octavia_api_concurrency_limit"),
                    "up": gauges.get("octavia_up")}
        finally:
            run.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="1000:1:30,5000:1:30,10000:1:30",
                        help="comma-separated LBS:WORKERS:INTERVAL")
    parser.add_argument("--capacity", help="calibration JSON (real_api.py's curve phase)")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--exporter-python", default=sys.executable)
    parser.add_argument("--exporter-label", help="what to call the exporter under test in "
                        "the results (default: its path and git commit)")
    parser.add_argument("--exporter-src")
    parser.add_argument("--exporter-args", default="")
    parser.add_argument("--json", help="append each cell as a JSON line to this file")
    args = parser.parse_args()
    defaults = ServiceTimes()
    capacity: dict[str, Any] = {"status_ms": defaults.status_ms, "stats_ms": defaults.stats_ms,
                                "list_base_ms": defaults.list_base_ms,
                                "list_item_ms": defaults.list_item_ms, "latency_ms": 0.0,
                                "jitter": 0.0}
    if args.capacity:
        capacity.update(json.loads(args.capacity))
    build = ExporterBuild(args.exporter_python, args.exporter_src)
    build.probe()
    if args.exporter_label:
        build.describe = args.exporter_label
    log(f"exporter under test: {build.describe}; capacity {capacity}")
    rows = []
    for text in args.cells.split(","):
        lbs, workers, interval = text.split(":")
        with tempfile.TemporaryDirectory(prefix="octavia-sizing-") as tmp:
            log(f"cell {text}")
            row = cell(int(lbs), int(workers), float(interval), capacity, build,
                           args.window, Path(tmp), args.exporter_args.split())
        row["exporter"] = build.describe
        log(json.dumps(row))
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps(row) + "\n")
        rows.append(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
