"""The exporter against the REAL Octavia API of tests/integration, at fleet scale (issue 11).

For each fleet size (load balancers of 2 listeners, 2 pools with health monitors, 10 members and
1 amphora; see real_fleet.py) it brings up Keystone + Octavia, builds the fleet, and runs the
phases asked for, one after another on the same API:

  lists      a plain client times the bulk lists alone: ours (load balancers, listeners, pools,
             health monitors, amphorae) and the peer's (load balancers, pools, amphorae)
  idle       another client's status-tree GET latency (p50/p95) with nobody else calling
  pass       the exporter at default settings, from process start: tier-1 state of all N load
             balancers on /metrics, all members on /metrics, the other client's latency while
             that first full pass runs, octavia_up throughout; then steady state for a few
             intervals: requests per interval (counted at the server) and member-data age
  tier1      as `pass`, but stops once tier 1 is on /metrics (for sizes whose full detail would
             take too long to wait for)
  tier1_alone  as `tier1` with no other client probing: compare with the lists alone
  rate       the exporter with --api-max-rate R: requests in every 10-second window, counted
             at the server, against 1.05 x 10 R
  sweep      time to all members on /metrics at fixed --concurrency 1, 2, 4, 8, 16
             (--no-adaptive-concurrency) and at the adaptive default; with the default rate
             budget and/or --api-max-rate 0 (--sweep-budgets)
  curve      latency vs concurrency of the real API and of the simulator's capacity model,
             calibrated from the real API in the same run (same levels, same request mix)

Requests are counted at the server: Octavia's gunicorn logs every request it starts serving, with
its time and user agent. The exporter under test is a subprocess: `--exporter-python` (a
virtualenv's python with the exporter installed) or `--exporter-src` (a source tree, put first on
PYTHONPATH), so the same script measures old and new code. Flags the exporter does not have
(old code: no --api-max-rate, no --no-adaptive-concurrency) are left out and the result says so.

    export OCTAVIA_EXPORTER_OPENSTACK_CACHE=/work/main/.cache/openstack-venv
    python benchmarks/real_api.py --sizes 1000 --phases lists,idle,pass,rate,curve
    python benchmarks/real_api.py --sizes 1000 --phases sweep --sweep-budgets default,0 \\
        --exporter-python /tmp/i11-under-test/.venv/bin/python
    python benchmarks/real_api.py --sizes 5000 --phases lists,idle,tier1

Results: one JSON object per phase on stdout's log (and in --json, a JSON-lines file), and a
Markdown summary at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import real_fleet  # noqa: E402
from tests.integration import harness  # noqa: E402

CLOUD = "os-admin"
LEVELS = (1, 2, 4, 8, 16)
TIER1_SERIES = {
    "loadbalancers": b"octavia_loadbalancer_provisioning_status{",
    "listeners": b"octavia_listener_provisioning_status{",
    "pools": b"octavia_pool_provisioning_status{",
    "healthmonitors": b"octavia_healthmonitor_provisioning_status{",
    "amphorae": b"octavia_amphora_status{",
}
MEMBER_SERIES = b"octavia_member_operating_status{"
GAUGES = ("octavia_up", "octavia_poll_duration_seconds",
          "octavia_last_poll_success_timestamp_seconds", "octavia_detail_oldest_age_seconds",
          "octavia_detail_backlog", "octavia_detail_pass_duration_seconds",
          "octavia_api_concurrency_limit",
          "octavia_api_in_flight_requests", "octavia_api_rate_limit_requests_per_second",
          "octavia_detail_age_seconds_gsum", "octavia_detail_age_seconds_gcount")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def ms(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(1000 * quantile(values, 0.5), 1),
            "p95_ms": round(1000 * quantile(values, 0.95), 1),
            "mean_ms": round(1000 * statistics.fmean(values), 1) if values else float("nan")}


# --- plain clients -------------------------------------------------------------------------------

class Api:
    """A plain synchronous client of one Octavia endpoint (requests, one connection per thread)."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"X-Auth-Token": self.token, "Accept": "application/json"})
            self._local.session = session
        return session

    def get(self, path: str) -> tuple[float, Any]:
        started = time.perf_counter()
        response = self.session.get(self.base + path, timeout=120)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, response.json()

    def list_all(self, path: str) -> dict[str, Any]:
        """Every page of a collection, following next links: objects, pages, seconds."""
        key = path.rsplit("/", 1)[1]
        url: str | None = f"{path}?limit=1000"
        started = time.perf_counter()
        objects = pages = 0
        while url:
            _, body = self.get(url)
            pages += 1
            objects += len(body[key])
            url = next((link["href"] for link in body.get(f"{key}_links", [])
                        if link.get("rel") == "next"), None)
            if url is not None:
                url = url[url.index("/v2"):]
        return {"objects": objects, "pages": pages,
                "seconds": round(time.perf_counter() - started, 3)}


OURS = ("/v2/lbaas/loadbalancers", "/v2/lbaas/listeners", "/v2/lbaas/pools",
        "/v2/lbaas/healthmonitors", "/v2/octavia/amphorae")
PEER = ("/v2/lbaas/loadbalancers", "/v2/lbaas/pools", "/v2/octavia/amphorae")


def time_lists(api: Api) -> dict[str, Any]:
    api.list_all("/v2/lbaas/loadbalancers")  # warm-up: token validation, sqlite page cache
    ours = {p.rsplit("/", 1)[1]: api.list_all(p) for p in OURS}
    peer = {p.rsplit("/", 1)[1]: api.list_all(p) for p in PEER}
    return {"ours": ours, "ours_seconds": round(sum(x["seconds"] for x in ours.values()), 2),
            "peer": peer, "peer_seconds": round(sum(x["seconds"] for x in peer.values()), 2)}


def _probe_main(base: str, token: str, lb_ids: list[str], gap: float, seed: int,
                out_path: str, stop: Any) -> None:
    """The other client's loop, in a process of its own (see Probe)."""
    api = Api(base, token)
    rng = random.Random(seed)
    with open(out_path, "a", buffering=1) as out:
        while not stop.is_set():
            lb_id = rng.choice(lb_ids)
            try:
                elapsed, _ = api.get(f"/v2/lbaas/loadbalancers/{lb_id}/status")
                out.write(f"{time.monotonic():.6f} {elapsed:.6f}\n")
            except requests.RequestException:
                out.write(f"{time.monotonic():.6f} error\n")
            stop.wait(gap)


class Probe:
    """Another client: one status-tree GET of a random load balancer every `gap` seconds.

    It runs in a process of its own: in this one, the thread scraping and parsing the
    exporter's /metrics (megabytes a second at 2,000 load balancers) would hold the interpreter
    lock while a probe's response waits to be read, and add our own pauses to the latency it
    reports (35 ms at the p95 in one run: 179 ms here against 143 ms at the server). Times are
    CLOCK_MONOTONIC, which both processes share."""

    def __init__(self, api: Api, lb_ids: list[str], gap: float = 0.2, seed: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        handle, path = tempfile.mkstemp(prefix="probe-", suffix=".txt")
        os.close(handle)
        self._path = Path(path)
        self._stop = context.Event()
        self._process = context.Process(
            target=_probe_main, args=(api.base, api.token, lb_ids, gap, seed, path, self._stop),
            daemon=True)
        self.errors = 0

    @property
    def samples(self) -> list[tuple[float, float]]:
        """(monotonic time, seconds) of every answered probe so far."""
        out: list[tuple[float, float]] = []
        errors = 0
        for line in self._path.read_text().splitlines():
            at, _, value = line.partition(" ")
            if value == "error":
                errors += 1
            elif value:
                out.append((float(at), float(value)))
        self.errors = errors
        return out

    def start(self) -> Probe:
        self._process.start()
        return self

    def stop(self) -> list[float]:
        if self._process.is_alive() or self._process.exitcode is None:
            self._stop.set()
            self._process.join(120)
        samples = [s for _, s in self.samples]
        self._path.unlink(missing_ok=True)
        return samples

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.samples if start <= t <= end]


def idle_probe(api: Api, lb_ids: list[str], seconds: float) -> dict[str, Any]:
    probe = Probe(api, lb_ids).start()
    time.sleep(seconds)
    return {**ms(probe.stop()), "errors": probe.errors}


# --- the exporter under test ---------------------------------------------------------------------

@dataclass
class ExporterBuild:
    """Which exporter runs: an interpreter (and optionally a source tree first on its path)."""

    python: str
    src: str | None
    flags: set[str] = field(default_factory=set)
    describe: str = ""

    @property
    def cwd(self) -> str:
        # `python -m exporter` imports from the working directory first: never run it from a
        # tree holding another exporter (this one's).
        return self.src or tempfile.gettempdir()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.src:
            env["PYTHONPATH"] = self.src + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def probe(self) -> None:
        help_text = subprocess.run([self.python, "-m", "exporter", "--help"], env=self.env(),
                                   capture_output=True, text=True, timeout=120,
                                   cwd=self.cwd).stdout
        self.flags = {word.rstrip(",=") for word in help_text.split() if word.startswith("--")}
        where = subprocess.run(
            [self.python, "-c", "import exporter, os; print(os.path.dirname(exporter.__file__))"],
            env=self.env(), capture_output=True, text=True, timeout=60,
            cwd=self.cwd).stdout.strip()
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        self.describe = f"{where} ({commit or 'no git'})"

    def has(self, flag: str) -> bool:
        return flag in self.flags


def free_port() -> int:
    return harness.free_port()


def stop_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process started in a session of its own and everything it started; SIGKILL
    after 20 s."""
    os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()


@dataclass
class Sample:
    t: float              # seconds since the exporter started
    counts: dict[str, int]
    members: int
    gauges: dict[str, float]


def parse_metrics(body: bytes) -> tuple[dict[str, int], int, dict[str, float]]:
    counts = {kind: body.count(b"\n" + name) for kind, name in TIER1_SERIES.items()}
    members = body.count(b"\n" + MEMBER_SERIES)
    gauges: dict[str, float] = {}
    for name in GAUGES:
        at = body.find(b"\n" + name.encode() + b"{")
        if at < 0:
            continue
        end = body.find(b"\n", at + 1)
        line = body[at + 1:end if end > 0 else None]
        with contextlib.suppress(IndexError, ValueError):
            gauges[name] = float(line.rsplit(b" ", 1)[1])
    return counts, members, gauges


class ExporterRun:
    def __init__(self, build: ExporterBuild, clouds_yaml: Path, workdir: Path, name: str,
                 args: list[str], cloud: str = CLOUD) -> None:
        self.build = build
        self.port = free_port()
        self.log_path = workdir / f"exporter-{name}.log"
        log_flag = "--log.format" if build.has("--log.format") else "--log-format"
        self.argv = [build.python, "-m", "exporter", "--os-cloud", cloud,
                     "--web.listen-address", f"127.0.0.1:{self.port}", log_flag, "json", *args]
        env = {**build.env(), "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
        env = {k: v for k, v in env.items()
               if not k.startswith("OS_") or k == "OS_CLIENT_CONFIG_FILE"}
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.started_epoch = time.time()
        self.popen = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      env=env, cwd=build.cwd, start_new_session=True)
        self.samples: list[Sample] = []
        self.last_body = b""

    def scrape(self) -> Sample | None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics",
                                         headers={"Accept-Encoding": "gzip"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                if response.headers.get("Content-Encoding") == "gzip":
                    raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        except OSError:
            return None
        self.last_body = b"\n" + raw
        counts, members, gauges = parse_metrics(self.last_body)
        sample = Sample(round(time.monotonic() - self.started, 2), counts, members, gauges)
        self.samples.append(sample)
        return sample

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            stop_group(self.popen)
        self._log.close()


@dataclass
class Expected:
    lbs: int

    def tier1(self, counts: dict[str, int]) -> bool:
        want = {"loadbalancers": self.lbs, "listeners": 2 * self.lbs, "pools": 2 * self.lbs,
                "healthmonitors": 2 * self.lbs, "amphorae": self.lbs}
        return all(counts.get(k, 0) >= v for k, v in want.items())

    @property
    def members(self) -> int:
        return 10 * self.lbs


def watch(run: ExporterRun, expected: Expected, until: str, timeout: float,
          fast: float = 0.25, slow: float = 1.0) -> dict[str, Any]:
    """Scrape until tier 1 (and, with until='members', all members) is on /metrics."""
    found: dict[str, Any] = {"lbs_seconds": None, "tier1_seconds": None, "members_seconds": None,
                             "up_min": None, "up_samples": 0, "up_first_1_seconds": None,
                             "timed_out": False}
    deadline = run.started + timeout
    while time.monotonic() < deadline:
        if not run.alive():
            raise RuntimeError(f"the exporter exited ({run.popen.returncode}):\n{run.tail()}")
        sample = run.scrape()
        if sample is not None:
            up = sample.gauges.get("octavia_up")
            if up is not None:
                found["up_samples"] += 1
                if up >= 1 and found["up_first_1_seconds"] is None:
                    found["up_first_1_seconds"] = sample.t
                if found["up_first_1_seconds"] is not None:
                    # octavia_up before the first answer is not the API being down; after it is
                    found["up_min"] = up if found["up_min"] is None else min(found["up_min"], up)
            if found["lbs_seconds"] is None and sample.counts["loadbalancers"] >= expected.lbs:
                found["lbs_seconds"] = sample.t
            if found["tier1_seconds"] is None and expected.tier1(sample.counts):
                found["tier1_seconds"] = sample.t
                if until == "tier1":
                    break
            if sample.members >= expected.members:
                found["members_seconds"] = sample.t
                break
        time.sleep(fast if found["tier1_seconds"] is None else slow)
    else:
        found["timed_out"] = True
    last = run.samples[-1] if run.samples else None
    found["last"] = {"counts": last.counts, "members": last.members,
                     "gauges": last.gauges} if last else None
    return found


def exporter_requests(request_log: Path, since: float, until: float | None = None) -> list[float]:
    """Epoch times of the exporter's requests at Octavia's gunicorn in [since, until]."""
    times = []
    with open(request_log) as lines:
        for line in lines:
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3].startswith("octavia-exporter"):
                continue
            t = float(parts[0])
            if t >= since and (until is None or t <= until):
                times.append(t)
    return times


def max_window(times: list[float], width: float = 10.0) -> tuple[int, float]:
    """The most requests any window of `width` seconds holds (sliding), and where it starts."""
    times = sorted(times)
    best, at, j = 0, 0.0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + width:
            j += 1
        if j - i > best:
            best, at = j - i, start
    return best, at


def drain(seconds: float = 5.0) -> None:
    """Let the API finish what a stopped exporter left queued, so the next run's requests
    counted at the server are its own."""
    time.sleep(seconds)


# --- phases --------------------------------------------------------------------------------------

@dataclass
class Context:
    args: argparse.Namespace
    build: ExporterBuild
    real: real_fleet.RealCloud
    api: Api
    workdir: Path
    lbs: int
    results: list[dict[str, Any]]
    json_out: Path | None

    def record(self, phase: str, **result: Any) -> dict[str, Any]:
        entry = {"phase": phase, "lbs": self.lbs, "exporter": self.build.describe,
                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **result}
        self.results.append(entry)
        line = json.dumps(entry)
        print(line, flush=True)
        if self.json_out is not None:
            with open(self.json_out, "a") as out:
                out.write(line + "\n")
        return entry

    def exporter(self, name: str, args: list[str]) -> ExporterRun:
        usable, dropped = [], []
        i = 0
        while i < len(args):
            flag = args[i]
            takes_value = i + 1 < len(args) and not args[i + 1].startswith("--")
            if self.build.has(flag):
                usable.append(flag)
                if takes_value:
                    usable.append(args[i + 1])
            else:
                dropped.append(flag)
            i += 2 if takes_value else 1
        if dropped:
            log(f"{name}: this exporter has no {', '.join(dropped)}; left out")
        return ExporterRun(self.build, self.real.cloud.clouds_yaml, self.workdir,
                           f"{self.lbs}-{name}", usable)


def phase_lists(ctx: Context) -> None:
    """The plain client's lists twice: alone, and with the other client probing as it does
    while the exporter's tier 1 runs (the probe's requests share the API's one interpreter
    with every list page, so only the second is the same conditions as the exporter's)."""
    log(f"{ctx.lbs}: plain-client bulk lists")
    alone = time_lists(ctx.api)
    probe = Probe(ctx.api.__class__(ctx.api.base, ctx.api.token), ctx.real.lb_ids).start()
    try:
        probed = time_lists(ctx.api)
    finally:
        probe.stop()
    ctx.record("lists", **alone, with_probe={k: probed[k] for k in ("ours", "ours_seconds",
                                                                    "peer", "peer_seconds")})


def phase_idle(ctx: Context) -> None:
    log(f"{ctx.lbs}: idle probe for {ctx.args.idle_seconds} s")
    ctx.record("idle", probe=idle_probe(ctx.api, ctx.real.lb_ids, ctx.args.idle_seconds))


def first_pass(ctx: Context, name: str, args: list[str], until: str, timeout: float,
               probe: bool = True, steady: int = 0) -> dict[str, Any]:
    prober = Probe(ctx.api, ctx.real.lb_ids).start() if probe else None
    run = ctx.exporter(name, args)
    try:
        found = watch(run, Expected(ctx.lbs), until, timeout)
        end = time.monotonic()
        result: dict[str, Any] = {"args": run.argv[3:], **found}
        first = exporter_requests(ctx.real.request_log, run.started_epoch)
        if first:
            # from the exporter's first request at the server: start-up and Keystone excluded
            offset = first[0] - run.started_epoch
            result["first_request_seconds"] = round(offset, 2)
            for key in ("tier1_seconds", "lbs_seconds", "members_seconds"):
                if found.get(key) is not None:
                    result[key.replace("_seconds", "_from_first_request")] = round(
                        found[key] - offset, 2)
        result["requests_in_pass"] = len(exporter_requests(
            ctx.real.request_log, run.started_epoch, run.started_epoch + (end - run.started)))
        if prober is not None:
            during = prober.between(run.started, end)
            result["probe_during_pass"] = ms(during)
            if found["tier1_seconds"] is not None:
                # the bulk lists (big pages) and the per-LB stream load the API differently
                split = run.started + found["tier1_seconds"]
                result["probe_until_tier1"] = ms(prober.between(run.started, split))
                result["probe_after_tier1"] = ms(prober.between(split, end))
            result["probe_errors"] = prober.errors
            prober.stop()
            prober = None
        if steady and found["members_seconds"] is not None:
            result["steady"] = steady_state(ctx, run, steady)
        return result
    finally:
        if prober is not None:
            prober.stop()
        run.stop()
        drain()


def steady_state(ctx: Context, run: ExporterRun, intervals: int) -> dict[str, Any]:
    interval = ctx.args.interval
    log(f"{ctx.lbs}: steady state for {intervals} x {interval:g} s")
    start_epoch = time.time()
    ages: list[float] = []
    old_style: list[float] = []
    ups: list[float] = []
    end = time.monotonic() + intervals * interval
    while time.monotonic() < end:
        sample = run.scrape()
        if sample is not None:
            g = sample.gauges
            if "octavia_up" in g:
                ups.append(g["octavia_up"])
            if "octavia_detail_oldest_age_seconds" in g:
                ages.append(g["octavia_detail_oldest_age_seconds"])
            elif "octavia_last_poll_success_timestamp_seconds" in g:
                # old code: member data is as old as the start of the last successful cycle
                old_style.append(time.time() - g["octavia_last_poll_success_timestamp_seconds"]
                                 + g.get("octavia_poll_duration_seconds", 0.0))
        time.sleep(2.0)
    times = exporter_requests(ctx.real.request_log, start_epoch, start_epoch + intervals * interval)
    per_interval = [sum(1 for t in times if start_epoch + k * interval <= t
                        < start_epoch + (k + 1) * interval) for k in range(intervals)]
    last = run.samples[-1].gauges if run.samples else {}
    return {"interval": interval, "requests_per_interval": per_interval,
            "oldest_age_max_s": round(max(ages), 1) if ages else None,
            "oldest_age_last_s": round(ages[-1], 1) if ages else None,
            "mean_age_last_s": round(last["octavia_detail_age_seconds_gsum"]
                                     / last["octavia_detail_age_seconds_gcount"], 1)
            if last.get("octavia_detail_age_seconds_gcount") else None,
            "old_code_member_age_max_s": round(max(old_style), 1) if old_style else None,
            "up_min": min(ups) if ups else None, "last_gauges": last}


def phase_pass(ctx: Context) -> None:
    log(f"{ctx.lbs}: exporter at defaults, first full pass")
    result = first_pass(ctx, "pass", ctx.args.exporter_args, "members",
                        ctx.args.pass_timeout, steady=ctx.args.steady_intervals)
    ctx.record("pass", **result)


def phase_tier1(ctx: Context) -> None:
    log(f"{ctx.lbs}: exporter at defaults, tier 1 only")
    ctx.record("tier1", **first_pass(ctx, "tier1", ctx.args.exporter_args, "tier1",
                                     ctx.args.pass_timeout))


def phase_tier1_alone(ctx: Context) -> None:
    """As `tier1`, with nobody else calling: the same conditions as the plain client's lists
    alone (the `lists` phase times them both ways)."""
    log(f"{ctx.lbs}: exporter at defaults, tier 1 only, no other client")
    ctx.record("tier1_alone", **first_pass(ctx, "tier1-alone", ctx.args.exporter_args, "tier1",
                                           ctx.args.pass_timeout, probe=False))


def phase_pages(ctx: Context) -> None:
    """Tier 1 with the other client probing, per --page-size: do smaller pages let it in?"""
    for size in ctx.args.page_sizes:
        log(f"{ctx.lbs}: tier 1 with --page-size {size}")
        result = first_pass(ctx, f"pages-{size}", ["--page-size", str(size),
                                                    *ctx.args.exporter_args], "tier1",
                            ctx.args.pass_timeout)
        ctx.record("pages", page_size=size, **result)


def phase_rate(ctx: Context) -> None:
    rate = ctx.args.rate
    log(f"{ctx.lbs}: exporter with --api-max-rate {rate:g} for {ctx.args.rate_seconds} s")
    if not ctx.build.has("--api-max-rate"):
        ctx.record("rate", skipped="this exporter has no --api-max-rate")
        return
    run = ctx.exporter("rate", ["--api-max-rate", f"{rate:g}", *ctx.args.exporter_args])
    try:
        end = time.monotonic() + ctx.args.rate_seconds
        while time.monotonic() < end:
            if not run.alive():
                raise RuntimeError(f"the exporter exited:\n{run.tail()}")
            run.scrape()
            time.sleep(2.0)
    finally:
        run.stop()
        drain()
    times = exporter_requests(ctx.real.request_log, run.started_epoch,
                              run.started_epoch + ctx.args.rate_seconds)
    worst, at = max_window(times)
    ups = [s.gauges["octavia_up"] for s in run.samples if "octavia_up" in s.gauges]
    # before its first lists are in, octavia_up says nothing about the API: count from the first 1
    ups = ups[ups.index(1.0):] if 1.0 in ups else ups
    ctx.record("rate", rate=rate, seconds=ctx.args.rate_seconds, requests=len(times),
               max_10s_window=worst, window_start_s=round(at - run.started_epoch, 1),
               limit=round(1.05 * 10 * rate, 1), met=worst <= 1.05 * 10 * rate,
               mean_rate=round(len(times) / ctx.args.rate_seconds, 2),
               up_min=min(ups) if ups else None)


def phase_sweep(ctx: Context) -> None:
    for budget in ctx.args.sweep_budgets:
        budget_args = [] if budget == "default" else ["--api-max-rate", budget]
        configs = [(f"fixed-{c}", ["--concurrency", str(c), "--no-adaptive-concurrency"])
                   for c in LEVELS] + [("adaptive", [])]
        if not ctx.build.has("--no-adaptive-concurrency"):
            # old code: fixed concurrency and no budget; one sweep is all there is to measure
            if budget != ctx.args.sweep_budgets[0]:
                continue
            configs = configs[:-1]
        for name, args in configs:
            log(f"{ctx.lbs}: sweep {name}, budget {budget}")
            result = first_pass(ctx, f"sweep-{name}-{budget}",
                                [*args, *budget_args, *ctx.args.exporter_args], "members",
                                ctx.args.pass_timeout, probe=ctx.args.sweep_probe)
            ctx.record("sweep", config=name, budget=budget, **result)


def phase_curve(ctx: Context) -> None:
    """Latency vs concurrency: the real API, then the simulator calibrated from it."""
    lb_ids, listener_ids = ctx.real.lb_ids, ctx.real.listener_ids
    log(f"{ctx.lbs}: one request at a time on the real API")
    single = single_requests(ctx.api, lb_ids, listener_ids, ctx.real.amphora_ids)
    log(f"{ctx.lbs}: latency vs concurrency, real API")
    real_curve = curve(ctx.api, lb_ids, listener_ids, ctx.args.curve_seconds)
    calibration = calibrate(single, real_curve)
    log(f"{ctx.lbs}: latency vs concurrency, simulator with {calibration}")
    with SimulatorProcess(ctx.lbs, calibration, ctx.workdir) as (sim_api, sim_lbs, sim_listeners):
        sim_curve = curve(sim_api, sim_lbs, sim_listeners, ctx.args.curve_seconds)
    ctx.record("curve", single=single, calibration=calibration, real=real_curve,
               simulator=sim_curve)


def single_requests(api: Api, lb_ids: list[str], listener_ids: list[str],
                    amphora_ids: list[str]) -> dict[str, Any]:
    """Latency one request at a time: status trees, listener stats, amphora stats (the
    exporter's default source of listener counters), the bulk lists."""
    rng = random.Random(2)
    trees = [api.get(f"/v2/lbaas/loadbalancers/{rng.choice(lb_ids)}/status")[0]
             for _ in range(60)]
    stats = [api.get(f"/v2/lbaas/listeners/{rng.choice(listener_ids)}/stats")[0]
             for _ in range(60)]
    amphorae = [api.get(f"/v2/octavia/amphorae/{rng.choice(amphora_ids)}/stats")[0]
                 for _ in range(60)]
    lists = time_lists(api)["ours"]
    return {"status": ms(trees), "stats": ms(stats), "amphora_stats": ms(amphorae),
            "lists": lists,
            "status_spread": round((quantile(trees, 0.9) - quantile(trees, 0.1))
                                   / statistics.median(trees), 3)}


def calibrate(single: dict[str, Any], real_curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The capacity model that reproduces the real API's curve at its two ends.

    With one caller the per-LB mix (1 status tree, 2 listener stats) takes L on average; with
    many, the API completes X requests a second. A worker slot is held S = 1/X per request on
    average (the saturated rate); the rest of L, L - S, passes outside the slot (the HTTP round
    trip, keystonemiddleware, I/O without the interpreter lock): the simulator's `latency_ms`.
    Status trees and stats split S in the ratio of their one-at-a-time medians. Lists: the same
    outside part per page, the rest of their one-at-a-time time spread over their objects.
    Amphora stats: their one-at-a-time median, scaled as the others are.
    """
    one = next(p for p in real_curve if p["concurrency"] == 1)
    mix_l = one["load"]["mean_ms"]
    saturated = max(p["throughput_rps"] for p in real_curve if p["concurrency"] >= 4)
    mix_s = min(mix_l, 1000.0 / saturated)
    outside = round(mix_l - mix_s, 2)
    status_l, stats_l = single["status"]["p50_ms"], single["stats"]["p50_ms"]
    unit = 3 * mix_s / (status_l + 2 * stats_l)
    lists = single["lists"]
    items = sum(x["objects"] for x in lists.values())
    pages = sum(x["pages"] for x in lists.values())
    list_ms = 1000 * sum(x["seconds"] for x in lists.values())
    base = 5.0
    item = max(0.0, (list_ms - pages * (outside + base)) / max(1, items))
    return {"workers": 1, "status_ms": round(status_l * unit, 2),
            "stats_ms": round(stats_l * unit, 2),
            "amphora_stats_ms": round(single["amphora_stats"]["p50_ms"] * unit, 2),
            "list_base_ms": base,
            "list_item_ms": round(item, 4), "latency_ms": outside,
            "jitter": round(min(0.5, single["status_spread"] / 1.6), 2),
            "saturated_rps": saturated, "one_caller_mean_ms": mix_l}


def curve(api: Api, lb_ids: list[str], listener_ids: list[str],
          seconds: float) -> list[dict[str, Any]]:
    """At each level, `level` callers keep the per-LB mix (1 status tree, 2 listener stats) in
    flight while a probe times another client's status-tree GETs."""
    paths: list[str] = []
    for i, lb_id in enumerate(lb_ids):
        paths.append(f"/v2/lbaas/loadbalancers/{lb_id}/status")
        paths += [f"/v2/lbaas/listeners/{listener_ids[(2 * i + k) % len(listener_ids)]}/stats"
                  for k in range(2)]
    points = []
    for level in (0, *LEVELS):
        stop = threading.Event()
        lock = threading.Lock()
        cursor = [0]
        latencies: list[float] = []
        caller = _caller(api, paths, stop, lock, cursor, latencies)
        threads = [threading.Thread(target=caller, daemon=True) for _ in range(level)]
        for thread in threads:
            thread.start()
        time.sleep(min(2.0, seconds / 5))  # let the queue form before probing
        with lock:
            latencies.clear()
        probe = Probe(api, lb_ids, seed=level + 10).start()
        started = time.monotonic()
        time.sleep(seconds)
        probed = probe.stop()
        with lock:
            done = list(latencies)
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(60)
        points.append({"concurrency": level,
                       "throughput_rps": round((len(done) + len(probed)) / elapsed, 1),
                       "load": ms(done) if done else None, "probe": ms(probed)})
        log(f"  concurrency {level}: {points[-1]}")
    return points


def _caller(api: Api, paths: list[str], stop: threading.Event, lock: threading.Lock,
            cursor: list[int], latencies: list[float]) -> Callable[[], None]:
    """A caller that keeps one request in flight, walking `paths` shared with the others."""
    def run() -> None:
        while not stop.is_set():
            with lock:
                path = paths[cursor[0] % len(paths)]
                cursor[0] += 1
            try:
                elapsed, _ = api.get(path)
            except requests.RequestException:
                continue
            with lock:
                latencies.append(elapsed)
    return run


class SimulatorProcess:
    """The project's simulator with the benchmark's fleet shape and a calibrated capacity."""

    def __init__(self, lbs: int, capacity: dict[str, Any], workdir: Path) -> None:
        self.lbs, self.capacity, self.workdir = lbs, capacity, workdir
        self.clouds = workdir / "sim-clouds.yaml"

    def __enter__(self) -> tuple[Api, list[str], list[str]]:
        clouds = self.clouds
        clouds.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "exporter.simulator", "--lbs", str(self.lbs), "--seed", "1",
                "--write-clouds-yaml", str(clouds), "--listeners-per-lb", "2",
                "--pools-per-lb", "2", "--members-per-pool", "5", "--healthmonitor-share", "1",
                "--amphorae-per-lb", "1", "--no-neutron",
                "--capacity-workers", str(self.capacity["workers"]),
                "--latency-ms", str(self.capacity["latency_ms"]),
                "--capacity-jitter", str(self.capacity["jitter"])]
        for key in ("error_share", "degraded_share", "pending_share", "no_listener_share",
                    "unattached_pool_share", "l7policy_share", "admin_down_share"):
            argv += [f"--{key.replace('_', '-')}", "0"]
        for key in ("status_ms", "stats_ms", "amphora_stats_ms", "list_base_ms",
                    "list_item_ms"):
            argv += ["--service-ms", f"{key}={self.capacity[key]}"]
        self.log = open(self.workdir / "simulator.log", "wb")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                      cwd=REPO, start_new_session=True)
        deadline = time.monotonic() + 300
        while not clouds.exists():
            if time.monotonic() > deadline or self.popen.poll() is not None:
                raise RuntimeError("the simulator did not start; see simulator.log")
            time.sleep(0.1)
        import yaml
        auth = yaml.safe_load(clouds.read_text())["clouds"]["simulator"]["auth"]
        base = auth["auth_url"].rsplit("/identity", 1)[0]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "domain": {"name": "Default"},
            "password": auth["password"]}}},
            "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}}}}
        token = requests.post(auth["auth_url"] + "/auth/tokens", json=body,
                              timeout=30).headers["X-Subject-Token"]
        fleet = requests.get(f"{base}/_sim/fleet?kinds=loadbalancers,listeners",
                             timeout=120).json()
        lbs = [lb["id"] for lb in fleet["loadbalancers"]]
        listeners = [x["id"] for x in fleet["listeners"]]
        self.base = base
        return Api(base + "/load-balancer", token), lbs, listeners

    def __exit__(self, *exc: object) -> None:
        stop_group(self.popen)
        self.log.close()


PHASES: dict[str, Callable[[Context], None]] = {
    "lists": phase_lists, "idle": phase_idle, "pass": phase_pass, "tier1": phase_tier1,
    "tier1_alone": phase_tier1_alone,
    "rate": phase_rate, "sweep": phase_sweep, "curve": phase_curve, "pages": phase_pages,
}


def run_size(lbs: int, args: argparse.Namespace, build: ExporterBuild,
             results: list[dict[str, Any]], json_out: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix=f"octavia-real-{lbs}-") as tmp:
        workdir = Path(tmp)
        log(f"{lbs}: bringing up Keystone + Octavia and building the fleet")
        with real_fleet.running(workdir, lbs) as real:
            counts = real.counts()
            log(f"{lbs}: fleet {counts}; timings {real.cloud.timings}")
            ctx = Context(args, build, real, Api(real.octavia_url, real.token("admin")),
                          workdir, lbs, results, json_out)
            ctx.record("fleet", counts=counts, timings={k: round(v, 2) for k, v in
                                                        real.cloud.timings.items()})
            for phase in args.phases:
                try:
                    PHASES[phase](ctx)
                except Exception as exc:  # one phase failing must not lose the others
                    log(f"{lbs}: phase {phase} failed: {exc!r}")
                    ctx.record(phase, error=repr(exc))
            if args.keep_logs:
                keep = Path(args.keep_logs) / f"{lbs}"
                keep.mkdir(parents=True, exist_ok=True)
                for path in workdir.glob("*.log"):
                    (keep / path.name).write_bytes(path.read_bytes())


def summary(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        phase = r["phase"]
        if phase == "lists":
            probed = r.get("with_probe") or {}
            lines.append(f"- {r['lbs']:,} LBs: bulk lists, plain client: ours "
                         f"{r['ours_seconds']} s, peer's three {r['peer_seconds']} s; "
                         f"with the other client probing: ours {probed.get('ours_seconds')} s, "
                         f"peer's {probed.get('peer_seconds')} s")
        elif phase == "idle":
            p = r["probe"]
            lines.append(f"- {r['lbs']:,} LBs: idle status-tree GET p50 {p['p50_ms']} / p95 "
                         f"{p['p95_ms']} ms (n={p['n']})")
        elif phase in ("pass", "tier1", "tier1_alone", "sweep", "pages"):
            label = {"sweep": f"sweep {r.get('config')} budget {r.get('budget')}",
                     "pages": f"tier 1 with --page-size {r.get('page_size')}"}.get(phase, phase)
            probe = r.get("probe_during_pass") or {}
            lines.append(
                f"- {r['lbs']:,} LBs: {label}: tier 1 {r.get('tier1_seconds')} s "
                f"(LBs {r.get('lbs_seconds')} s; from first request "
                f"{r.get('tier1_from_first_request')} s), "
                f"all members {r.get('members_seconds')} s, octavia_up min {r.get('up_min')}, "
                f"{r.get('requests_in_pass')} requests; probe during pass p50 "
                f"{probe.get('p50_ms')} / p95 {probe.get('p95_ms')} ms"
                + (f"; steady {r['steady']}" if r.get("steady") else ""))
        elif phase == "rate" and "max_10s_window" in r:
            lines.append(f"- {r['lbs']:,} LBs: --api-max-rate {r['rate']:g}: max "
                         f"{r['max_10s_window']} requests in 10 s (limit {r['limit']}), "
                         f"mean {r['mean_rate']} req/s")
        elif phase == "curve":
            lines.append(f"- {r['lbs']:,} LBs: calibration {r['calibration']}")
            lines.append("  | concurrency | real req/s | real probe p50/p95 (ms) | "
                         "sim req/s | sim probe p50/p95 (ms) |")
            lines.append("  |---|---|---|---|---|")
            for real_point, sim_point in zip(r["real"], r["simulator"], strict=False):
                lines.append(
                    f"  | {real_point['concurrency']} | {real_point['throughput_rps']} | "
                    f"{real_point['probe']['p50_ms']} / {real_point['probe']['p95_ms']} | "
                    f"{sim_point['throughput_rps']} | {sim_point['probe']['p50_ms']} / "
                    f"{sim_point['probe']['p95_ms']} |")
        elif "error" in r:
            lines.append(f"- {r['lbs']:,} LBs: {phase} FAILED: {r['error']}")
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000", help="comma-separated load-balancer counts")
    parser.add_argument("--phases", default="lists,idle,pass",
                        help=f"comma-separated, run in order: {', '.join(PHASES)}")
    parser.add_argument("--exporter-python", default=sys.executable,
                        help="python of the virtualenv holding the exporter under test")
    parser.add_argument("--exporter-label", help="what to call the exporter under test in "
                        "the results (default: its path and git commit)")
    parser.add_argument("--exporter-src", help="source tree of the exporter under test (put "
                        "first on PYTHONPATH)")
    parser.add_argument("--exporter-args", default="",
                        help="extra exporter flags for every run (one string)")
    parser.add_argument("--interval", type=float, default=30.0,
                        help="the exporter's --interval (default: its own default, 30)")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--pass-timeout", type=float, default=1200.0)
    parser.add_argument("--steady-intervals", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--rate-seconds", type=float, default=60.0)
    parser.add_argument("--sweep-budgets", default="0",
                        help="comma-separated: 'default' (the exporter's own --api-max-rate) "
                             "and/or numbers for --api-max-rate")
    parser.add_argument("--sweep-probe", action="store_true",
                        help="also probe another client's latency during sweep runs")
    parser.add_argument("--curve-seconds", type=float, default=12.0)
    parser.add_argument("--page-sizes", default="1000,200",
                        help="the pages phase: --page-size values to run tier 1 with")
    parser.add_argument("--json", help="append each result as a JSON line to this file")
    parser.add_argument("--keep-logs", help="copy the servers' and exporters' logs here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase(s) {unknown}; known: {', '.join(PHASES)}")
    args.sweep_budgets = [b for b in args.sweep_budgets.split(",") if b]
    args.page_sizes = [int(x) for x in args.page_sizes.split(",") if x]
    args.exporter_args = args.exporter_args.split()
    if args.interval != 30.0:
        args.exporter_args += ["--interval", f"{args.interval:g}"]
    build = ExporterBuild(args.exporter_python, args.exporter_src)
    build.probe()
    if args.exporter_label:
        build.describe = args.exporter_label
    log(f"exporter under test: {build.describe}")
    results: list[dict[str, Any]] = []
    json_out = Path(args.json) if args.json else None
    for size in (int(x) for x in args.sizes.split(",")):
        run_size(size, args, build, results, json_out)
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
