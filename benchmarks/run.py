"""Fleet-scale benchmark: the real exporter against the simulator, both as processes on 127.0.0.1.

For each fleet size it measures, in one run: API calls per cycle against the documented minimum,
cycle wall time against the ideal `calls x latency / concurrency`, exporter CPU seconds per cycle
and peak RSS, /metrics latency (p50/p99, gzip as Prometheus scrapes) while a cycle runs, the
exposition's size plain and gzipped, and the series count. Prints a Markdown table (and JSON with
--json) for docs/benchmarks.md.

    python benchmarks/run.py --quick                       # 100 and 1,000 LBs, < 2 minutes
    python benchmarks/run.py --sizes 100,1000,10000        # the full table

The exporter under test is `--exporter-python`'s (default: this interpreter's); the simulator is
always this tree's. For an exporter whose per-load-balancer detail is a stream of its own (issue
11's tier 2), `--cycle-event detail_pass_done` measures a full detail pass instead of a poll
cycle, and `--exporter-args "--api-max-rate 0 --interval 30"` lifts its rate budget.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, headers: dict[str, str] | None = None, data: bytes | None = None,
         timeout: float = 60) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read(), dict(response.headers)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Process:
    def __init__(self, name: str, args: list[str], workdir: Path,
                 env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})}, cwd=cwd)

    def lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def wait_for(condition: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


CYCLE_EVENT = "poll_cycle_done"


def cycles_done(exporter: Process) -> list[dict[str, Any]]:
    done = []
    marker = f'"{CYCLE_EVENT}"'
    for line in exporter.lines():
        if marker in line:
            done.append(json.loads(line))
    return done


def log_format_flag(python: str, src: str | None) -> str:
    """`--log.format` (exporter-toolkit style) where the exporter has it, else `--log-format`."""
    shown = subprocess.run([python, "-m", "exporter", "--help"], capture_output=True, text=True,
                           timeout=120, cwd=src or tempfile.gettempdir(),
                           env={**os.environ, **({"PYTHONPATH": src} if src else {})}).stdout
    return "--log.format" if "--log.format" in shown else "--log-format"


@dataclass
class Result:
    lbs: int
    members: int
    calls: int
    minimum_calls: int
    call_ratio: float
    cycle_seconds: float
    ideal_seconds: float
    efficiency: float
    cpu_seconds_per_cycle: float
    simulator_cpu_seconds: float
    peak_rss_mb: float
    scrape_p50_ms: float
    scrape_p99_ms: float
    scrapes: int
    plain_mb: float
    gzip_mb: float
    series: int


def documented_minimum(fleet: dict[str, Any], page_cap: int) -> int:
    """Bulk lists (pages), one status tree per load balancer with members behind a listener, one
    member list per pool with members but no listener, one stats call per listener, and
    Neutron's floating IP list."""
    def pages(count: int) -> int:
        return count // page_cap + 1

    pools = fleet["pools"]
    tree_lbs = {p["loadbalancer_id"] for p in pools if p["listeners"] and p["members"]}
    unattached = [p for p in pools if not p["listeners"] and p["members"]]
    return (pages(len(fleet["loadbalancers"])) + pages(len(fleet["listeners"]))
            + pages(len(pools)) + pages(len(fleet["healthmonitors"]))
            + pages(len(fleet["amphorae"])) + len(tree_lbs)
            + sum(pages(len(p["members"])) for p in unattached) + len(fleet["listeners"])
            + 1  # Neutron's floating IP list: unpaginated unless --page-size is set
            + issue14_minimum(fleet, pages))


def issue14_minimum(fleet: dict[str, Any], pages: Any) -> int:
    """L7 policies (one list, plus one rule list per policy with rules), the quota rows and the
    defaults, flavors, zones and the (unpaginated) providers."""
    policies = fleet.get("l7policies", [])
    return (pages(len(policies)) + sum(pages(len(p["rules"])) for p in policies if p["rules"])
            + pages(len(fleet.get("quotas", {}))) + 1
            + pages(len(fleet.get("flavors", []))) + pages(len(fleet.get("availability_zones", [])))
            + 1)


def run_size(lbs: int, args: argparse.Namespace, workdir: Path) -> Result:
    exp_port = free_port()
    sim, base, clouds = start_simulator(f"simulator-{lbs}", lbs, args.latency_ms, workdir)
    exporter: Process | None = None
    try:
        fleet = json.loads(http(base + "/_sim/fleet?kinds=loadbalancers,listeners,pools,"
                                       "healthmonitors,amphorae,members")[0])
        page_cap = int(json.loads(http(base + "/_sim/config")[0])["page_cap"])
        extra = args.exporter_args.split()
        exporter = Process(f"exporter-{lbs}", [
            args.exporter_python, "-m", "exporter", "--os-cloud", "simulator",
            *([] if "--interval" in extra else ["--interval", "1"]),
            "--concurrency", str(args.concurrency), args.log_format_flag, "json",
            "--request-timeout", "30", "--cycle-timeout", "600",
            "--web.listen-address", f"127.0.0.1:{exp_port}", *extra], workdir,
            env={"OS_CLIENT_CONFIG_FILE": str(clouds),
                 **({"PYTHONPATH": args.exporter_src} if args.exporter_src else {})},
            # `-m exporter` imports from the working directory first: not from this tree
            cwd=args.exporter_src or str(workdir))
        pid = exporter.popen.pid
        metrics_url = f"http://127.0.0.1:{exp_port}/metrics"

        # Cycle 1 is the warm-up (imports, first token). Cycle 2: calls, wall time and CPU, with
        # nobody scraping. Cycle 3: scrape latency while the cycle runs.
        wait_for(lambda: len(cycles_done(exporter)) >= 1, "first cycle", 900)
        http(base + "/_sim/requests/reset", data=b"")
        cpu_before, sim_before = cpu_seconds(pid), cpu_seconds(sim.popen.pid)
        second = wait_for(lambda: cycles_done(exporter)[1:2], "second cycle", 900)[0]
        cpu_per_cycle = cpu_seconds(pid) - cpu_before
        sim_cpu = cpu_seconds(sim.popen.pid) - sim_before
        requests = json.loads(http(base + "/_sim/requests")[0])["requests"]
        calls = sum(r["count"] for r in requests if r["service"] in ("octavia", "neutron"))

        latencies: list[float] = []
        while len(cycles_done(exporter)) < 3 and len(latencies) < args.max_scrapes:
            started = time.perf_counter()
            http(metrics_url, {"Accept-Encoding": "gzip"})
            latencies.append((time.perf_counter() - started) * 1000)
        wait_for(lambda: len(cycles_done(exporter)) >= 3, "third cycle", 900)
        zipped, _ = http(metrics_url, {"Accept-Encoding": "gzip"})
        plain = gzip.decompress(zipped)
        series = sum(1 for line in plain.splitlines() if line and not line.startswith(b"#"))
        rss = peak_rss_mb(pid)

        duration = float(second["duration_seconds"])
        ideal = calls * args.latency_ms / 1000 / args.concurrency
        minimum = documented_minimum(fleet, page_cap)
        quantiles = (statistics.quantiles(latencies, n=100, method="inclusive")
                     if len(latencies) > 1 else latencies * 99)
        return Result(
            lbs=lbs, members=len(fleet["members"]), calls=calls, minimum_calls=minimum,
            call_ratio=round(calls / minimum, 3), cycle_seconds=round(duration, 2),
            ideal_seconds=round(ideal, 2), efficiency=round(duration / ideal, 3),
            cpu_seconds_per_cycle=round(cpu_per_cycle, 2),
            simulator_cpu_seconds=round(sim_cpu, 2), peak_rss_mb=round(rss, 1),
            scrape_p50_ms=round(statistics.median(latencies), 1),
            scrape_p99_ms=round(quantiles[98], 1), scrapes=len(latencies),
            plain_mb=round(len(plain) / 1e6, 2), gzip_mb=round(len(zipped) / 1e6, 2),
            series=series,
        )
    except BaseException:
        for proc in (sim, exporter):
            if proc is not None:
                print(f"--- {proc.log_path} (tail)", file=sys.stderr)
                print("\n".join(proc.lines()[-20:]), file=sys.stderr)
        raise
    finally:
        if exporter is not None:
            exporter.stop()
        sim.stop()


def answers(url: str) -> bool:
    try:
        http(url, timeout=2)
        return True
    except OSError:
        return False


def start_simulator(name: str, lbs: int, latency_ms: float, workdir: Path,
                    start_timeout: float = 120, http_timeout: float = 60,
                    ) -> tuple[Process, str, Path]:
    """The simulator (seed 1) with `lbs` load balancers on a free port of 127.0.0.1, once it
    answers: the process, its base URL and the clouds.yaml it wrote. Stopped if it never does."""
    port = free_port()
    clouds = workdir / f"clouds-{name}.yaml"
    sim = Process(name, [
        sys.executable, "-m", "exporter.simulator", "--lbs", str(lbs), "--seed", "1",
        "--port", str(port), "--latency-ms", str(latency_ms),
        "--write-clouds-yaml", str(clouds)], workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: clouds.exists() and sim.popen.poll() is None, "simulator",
                 start_timeout)
        wait_for(lambda: answers(base + "/_sim/config"), "simulator HTTP", http_timeout)
    except BaseException:
        sim.stop()
        raise
    return sim, base, clouds


def table(results: list[Result], args: argparse.Namespace) -> str:
    head = ("| LBs | members | API calls | documented minimum | ratio | cycle (s) | ideal (s) | "
            "cycle / ideal | CPU s / cycle | simulator CPU s | peak RSS (MB) | "
            "/metrics p50 (ms) | p99 (ms) | scrapes | plain (MB) | gzip (MB) | series |")
    rows = [head, "|" + "---|" * 17]
    for r in results:
        rows.append(
            f"| {r.lbs:,} | {r.members:,} | {r.calls:,} | {r.minimum_calls:,} | {r.call_ratio} | "
            f"{r.cycle_seconds} | {r.ideal_seconds} | {r.efficiency} | "
            f"{r.cpu_seconds_per_cycle} | {r.simulator_cpu_seconds} | {r.peak_rss_mb} | "
            f"{r.scrape_p50_ms} | "
            f"{r.scrape_p99_ms} | {r.scrapes} | {r.plain_mb} | {r.gzip_mb} | {r.series:,} |")
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    return (f"Latency {args.latency_ms} ms per API call, concurrency {args.concurrency}; "
            f"exporter {args.exporter_python} {args.exporter_args}; cycle = {CYCLE_EVENT}; "
            f"{machine}.\n\n" + "\n".join(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="comma-separated load-balancer counts")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 only")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-scrapes", type=int, default=300)
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--exporter-python", default=sys.executable,
                        help="python of the virtualenv holding the exporter under test")
    parser.add_argument("--exporter-src", help="source tree of the exporter under test (first "
                        "on PYTHONPATH)")
    parser.add_argument("--exporter-args", default="",
                        help="extra exporter flags (one string), e.g. \"--api-max-rate 0\"")
    parser.add_argument("--cycle-event", default="poll_cycle_done",
                        help="the log event that ends a measured cycle (detail_pass_done: a "
                             "full tier-2 pass)")
    args = parser.parse_args()
    global CYCLE_EVENT
    CYCLE_EVENT = args.cycle_event
    args.log_format_flag = log_format_flag(args.exporter_python, args.exporter_src)
    sizes = [100, 1000] if args.quick else [int(x) for x in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="octavia-bench-") as tmp:
        for size in sizes:
            result = run_size(size, args, Path(tmp))
            print(json.dumps(asdict(result)), file=sys.stderr, flush=True)
            results.append(result)
    print(table(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
