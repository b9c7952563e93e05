"""Exporter memory under concurrent scrapes WITHOUT gzip (curl, some probes), at fleet scale.

Starts the simulator and the exporter as processes on 127.0.0.1, waits for one complete cycle
(--interval is long, so no second cycle runs during the measurement), resets the exporter's
peak-RSS mark (/proc/PID/clear_refs), then runs N concurrent plain scrapes, each reading the
body in 1 MiB pieces and discarding them. Reports RSS before, the peak during the scrapes, and
the difference. `--source DIR` runs the exporter from another checkout (e.g. an older commit
unpacked with `git archive <commit> | tar -x -C DIR`) for a before/after comparison.

    python -m benchmarks.plain_scrapes --lbs 10000 --scrapes 4
    python -m benchmarks.plain_scrapes --lbs 10000 --scrapes 4 --source /tmp/before
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.run import (
    Process,
    cycles_done,
    free_port,
    http,
    peak_rss_mb,
    start_simulator,
    wait_for,
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def plain_scrape(url: str, sizes: list[int]) -> None:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    size = 0
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.headers.get("Content-Encoding") is None
        while piece := response.read(1024 * 1024):
            size += len(piece)
    sizes.append(size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=4, help="concurrent plain scrapes")
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--source", help="run the exporter from this checkout instead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="octavia-plain-") as tmp:
        workdir = Path(tmp)
        exp_port = free_port()
        sim, _, clouds = start_simulator("simulator", args.lbs, args.latency_ms, workdir,
                                         start_timeout=300, http_timeout=120)
        exporter: Process | None = None
        try:
            env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "OCTAVIA_EXPORTER_LOG_FORMAT": "json"}
            # `python -m` would put the current directory ahead of PYTHONPATH, so the other
            # checkout goes first on sys.path explicitly.
            entry = ["-m", "exporter"] if not args.source else ["-c", (
                f"import sys; sys.path.insert(0, {args.source!r}); import exporter; "
                f"assert exporter.__file__.startswith({args.source!r}); "
                "from exporter.cli import main; sys.exit(main(sys.argv[1:]))")]
            exporter = Process("exporter", [
                sys.executable, *entry, "--os-cloud", "simulator",
                "--interval", "3600", "--concurrency", str(args.concurrency),
                "--request-timeout", "60", "--cycle-timeout", "1200",
                "--web.listen-address", f"127.0.0.1:{exp_port}"], workdir, env=env)
            pid = exporter.popen.pid
            url = f"http://127.0.0.1:{exp_port}/metrics"
            first = wait_for(lambda: cycles_done(exporter), "first cycle", 1800)[0]
            if not first.get("ok"):
                raise RuntimeError(f"the first cycle failed: {exporter.lines()[-5:]}")
            # The cycle is logged before its exposition is rendered and published: wait until
            # /metrics serves the fleet (this is also the first scrape's one-time cost).
            wait_for(lambda: b"octavia_loadbalancer_provisioning_status{" in gzip.decompress(
                http(url, {"Accept-Encoding": "gzip"})[0]), "the fleet exposition", 600)
            before, peak_cycle = rss_mb(pid), peak_rss_mb(pid)
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            sizes: list[int] = []
            started = time.monotonic()
            threads = [threading.Thread(target=plain_scrape, args=(url, sizes))
                       for _ in range(args.scrapes)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.monotonic() - started
            peak = peak_rss_mb(pid)
            result = {
                "lbs": args.lbs, "scrapes": args.scrapes, "body_mb": round(sizes[0] / 1e6, 1),
                "source": args.source or "this checkout",
                "rss_before_mb": round(before, 1), "peak_during_scrapes_mb": round(peak, 1),
                "increase_mb": round(peak - before, 1),
                "peak_of_the_cycle_mb": round(peak_cycle, 1), "seconds": round(seconds, 1),
            }
            # Equal but for the self-metrics, which change between scrapes.
            assert len(sizes) == args.scrapes and max(sizes) - min(sizes) < 10_000, sizes
            print(json.dumps(result))
        finally:
            if exporter is not None:
                exporter.stop()
            sim.stop()
    return 0


# SIGTERM (e.g. a timeout) still stops both child processes through the finally blocks.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
