"""How soon a status change is on /metrics, against the real Octavia API and the simulator.

Per fleet size, one run of the exporter at default settings from process start, beside a plain
client and another client probing status trees (benchmarks/real_api.py's machinery):
- start-up: every load balancer's state and all of tier 1 on /metrics, against a plain client
  reading the same lists (ours, and the peer's three);
- changes written as Octavia's health manager writes them (an UPDATE of the row's status that
  moves updated_at), at random moments in steady state: load balancers to ERROR, and members
  to ERROR with their pool, listeners and load balancer rolled up to DEGRADED; each timed from
  the write to the first scrape that shows it;
- another client's status-tree latency over the whole run and in steady state alone, against
  its idle latency;
- the exporter's requests per interval in steady state, by kind of call (at the server);
- optionally (`--outage`) the API stopped (SIGSTOP: every request times out) until octavia_up
  says 0, then resumed;
- optionally (`--churn N`) N random changes over `--churn-seconds`: status writes, renames,
  admin-state flips, creates (a tree through the API, then made ACTIVE as the worker does) and
  deletions, each checked on /metrics, with the reconciliation's corrections
  (octavia_changes_feed_missed_total) read at the end.
The simulator run (`--simulator`) does the same through the simulator's control API.

    python benchmarks/freshness.py --sizes 2000,5000,10000 --json out.jsonl
    python benchmarks/freshness.py --sizes 5000 --outage --churn 200 --churn-seconds 1200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import real_api, real_fleet  # noqa: E402
from benchmarks import run as sim_run  # noqa: E402

STAMP = real_fleet.STAMP


def now_stamp() -> str:
    return datetime.now(UTC).strftime(STAMP)


def has_series(body: bytes, name: str, key: str, value: str, status: str) -> bool:
    """Whether `body` has `name{…key="value"…status="status"} 1`."""
    pattern = (rb"\n" + re.escape(name.encode()) + rb"\{[^}]*" + re.escape(
        f'{key}="{value}"'.encode()) + rb"[^}]*status=\"" + re.escape(status.encode())
               + rb"\"[^}]*\} 1")
    return re.search(pattern, body) is not None


def gauge(body: bytes, name: str) -> float | None:
    match = re.search(rb"\n" + re.escape(name.encode()) + rb"(\{[^}]*\})? ([0-9.e+-]+)", body)
    return float(match.group(2)) if match else None


def counter_sum(body: bytes, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(
        rb"\n" + re.escape(name.encode()) + rb"\{[^}]*\} ([0-9.e+-]+)", body))


class RealWriter:
    """Writes to Octavia's database as its health manager does."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def _conn(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.isolation_level = None
        return conn

    def healthy_lbs(self) -> list[str]:
        with contextlib.closing(self._conn()) as conn:
            return [r[0] for r in conn.execute(
                "SELECT id FROM load_balancer WHERE operating_status = 'ONLINE' "
                "AND provisioning_status = 'ACTIVE'")]

    def lb_error(self, lb_id: str) -> None:
        with contextlib.closing(self._conn()) as conn:
            conn.execute("UPDATE load_balancer SET operating_status = 'ERROR', updated_at = ? "
                         "WHERE id = ?", (now_stamp(), lb_id))

    def member_error(self, lb_id: str) -> str:
        """One member of the load balancer to ERROR, rolled up as the health manager does:
        its pool, the listeners using the pool and the load balancer to DEGRADED."""
        with contextlib.closing(self._conn()) as conn:
            member_id, pool_id = conn.execute(
                "SELECT m.id, m.pool_id FROM member m JOIN pool p ON p.id = m.pool_id "
                "WHERE p.load_balancer_id = ? AND EXISTS (SELECT 1 FROM listener l WHERE "
                "l.default_pool_id = p.id) ORDER BY m.id LIMIT 1", (lb_id,)).fetchone()
            stamp = now_stamp()
            conn.execute("BEGIN")
            conn.execute("UPDATE member SET operating_status = 'ERROR', updated_at = ? "
                         "WHERE id = ?", (stamp, member_id))
            conn.execute("UPDATE pool SET operating_status = 'DEGRADED', updated_at = ? "
                         "WHERE id = ?", (stamp, pool_id))
            conn.execute("UPDATE listener SET operating_status = 'DEGRADED', updated_at = ? "
                         "WHERE default_pool_id = ?", (stamp, pool_id))
            conn.execute("UPDATE load_balancer SET operating_status = 'DEGRADED', "
                         "updated_at = ? WHERE id = ?", (stamp, lb_id))
            conn.execute("COMMIT")
            return str(member_id)

    def rename(self, lb_id: str, name: str) -> None:
        """As a rename through the API does: the API writes the name with PENDING_UPDATE, the
        worker then ACTIVE (the noop provider of the harness has no worker to do it)."""
        with contextlib.closing(self._conn()) as conn:
            conn.execute("UPDATE load_balancer SET name = ?, provisioning_status = "
                         "'PENDING_UPDATE', updated_at = ? WHERE id = ?",
                         (name, now_stamp(), lb_id))
        time.sleep(1.0)  # the worker's update flow
        with contextlib.closing(self._conn()) as conn:
            conn.execute("UPDATE load_balancer SET provisioning_status = 'ACTIVE', "
                         "updated_at = ? WHERE id = ?", (now_stamp(), lb_id))

    def create(self, octavia_url: str, token: str, project_id: str, name: str) -> str:
        """A whole tree created through the API (PENDING_CREATE), then made ACTIVE/ONLINE with
        an amphora as the worker and the health manager would."""
        body = real_fleet.tree_body(project_id)
        body["loadbalancer"]["name"] = name
        request = urllib.request.Request(
            f"{octavia_url}/v2/lbaas/loadbalancers", data=json.dumps(body).encode(),
            method="POST", headers={"X-Auth-Token": token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            lb_id = str(json.load(response)["loadbalancer"]["id"])
        time.sleep(1.5)  # the worker's create flow
        with contextlib.closing(self._conn()) as conn, conn:
            real_fleet.settle(conn, lb_id, datetime.now(UTC).replace(tzinfo=None))
        return lb_id

    def admin_down(self, lb_id: str) -> None:
        with contextlib.closing(self._conn()) as conn:
            conn.execute("UPDATE load_balancer SET enabled = 0, operating_status = "
                         "'OFFLINE', updated_at = ? WHERE id = ?", (now_stamp(), lb_id))

    def delete(self, lb_id: str) -> None:
        """As Octavia's API and worker delete a load balancer: PENDING_DELETE (a write the
        feed sees), then the rows marked DELETED, which the lists no longer show."""
        with contextlib.closing(self._conn()) as conn:
            conn.execute("UPDATE load_balancer SET provisioning_status = 'PENDING_DELETE', "
                         "updated_at = ? WHERE id = ?", (now_stamp(), lb_id))
        time.sleep(2.0)  # the worker's delete flow
        with contextlib.closing(self._conn()) as conn:
            stamp = now_stamp()
            conn.execute("BEGIN")
            # The worker marks the load balancer's amphorae DELETED (they stay listed).
            conn.execute("UPDATE amphora SET status = 'DELETED', updated_at = ? "
                         "WHERE load_balancer_id = ?", (stamp, lb_id))
            for table in ("listener", "pool"):
                conn.execute(f"UPDATE {table} SET provisioning_status = 'DELETED', "
                             "updated_at = ? WHERE load_balancer_id = ?", (stamp, lb_id))
            conn.execute("UPDATE load_balancer SET provisioning_status = 'DELETED', "
                         "updated_at = ? WHERE id = ?", (stamp, lb_id))
            conn.execute("COMMIT")


class Watcher:
    """Scrapes /metrics and times each awaited change from its write to the first scrape that
    shows it."""

    def __init__(self, run: real_api.ExporterRun) -> None:
        self.run = run
        self.pending: list[tuple[str, str, str, str, float]] = []  # kind, key, id, status, t
        self.done: list[dict[str, Any]] = []

    def expect(self, kind: str, name: str, key: str, obj_id: str, status: str) -> None:
        self.pending.append((kind, name, key + "=" + obj_id, status, time.monotonic()))

    def until(self, moment: float) -> None:
        """Scrape once a second until monotonic `moment`."""
        while time.monotonic() < moment:
            self.poll()
            time.sleep(1.0)

    def settle(self, seconds: float) -> None:
        """Scrape once a second until every awaited change shows, for `seconds` at most."""
        deadline = time.monotonic() + seconds
        while self.pending and time.monotonic() < deadline:
            self.poll()
            time.sleep(1.0)

    def poll(self) -> bytes:
        self.run.scrape()
        body = self.run.last_body
        seen = time.monotonic()
        left = []
        for item in self.pending:
            kind, name, ref, status, written = item
            key, _, obj_id = ref.partition("=")
            if status == "ABSENT":
                shown = f'{key}="{obj_id}"'.encode() not in body
            elif not status:
                shown = re.search(rb"\n" + re.escape(name.encode()) + rb"\{[^}]*" + re.escape(
                    f'{key}="{obj_id}"'.encode()), body) is not None
            else:
                shown = has_series(body, name, key, obj_id, status)
            if shown:
                self.done.append({"kind": kind, "id": obj_id,
                                  "seconds": round(seen - written, 2)})
            else:
                left.append(item)
        self.pending = left
        return body


def by_kind(request_log: Path, since: float, until: float) -> Counter[str]:
    """The exporter's requests at the server in [since, until], by path template."""
    calls: Counter[str] = Counter()
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}")
    with open(request_log) as lines:
        for line in lines:
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3].startswith("octavia-exporter"):
                continue
            if since <= float(parts[0]) <= until:
                calls[uuid.sub("{id}", parts[2])] += 1
    return calls


def stats(values: list[float]) -> dict[str, Any]:
    values = sorted(values)
    return {"n": len(values), "max": values[-1] if values else None,
            "median": values[len(values) // 2] if values else None}


def real_run(lbs: int, args: argparse.Namespace, build: real_api.ExporterBuild,
             out: list[dict[str, Any]]) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix=f"octavia-fresh-{lbs}-") as tmp:
        workdir = Path(tmp)
        real_api.log(f"{lbs}: bringing up Keystone + Octavia and building the fleet")
        with real_fleet.running(workdir, lbs) as real:
            api = real_api.Api(real.octavia_url, real.token("admin"))
            writer = RealWriter(real.cloud.db_path)
            plain = real_api.time_lists(api)
            idle = real_api.idle_probe(api, real.lb_ids, args.idle_seconds)
            real_api.log(f"{lbs}: plain lists {plain['ours_seconds']} s (peer's "
                         f"{plain['peer_seconds']} s); idle p95 {idle['p95_ms']} ms")
            prober = real_api.Probe(api, real.lb_ids).start()
            run = real_api.ExporterRun(build, real.cloud.clouds_yaml, workdir, f"{lbs}-fresh",
                                       args.exporter_args)
            result: dict[str, Any] = {"phase": "freshness", "lbs": lbs,
                                      "exporter": build.describe, "plain_lists": plain,
                                      "idle_probe": idle}
            try:
                found = real_api.watch(run, real_api.Expected(lbs), "tier1", args.timeout)
                result["startup"] = {k: found[k] for k in ("lbs_seconds", "tier1_seconds")}
                steady_from = time.monotonic()
                steady_epoch = time.time()
                result["changes"] = timed_changes(run, writer, rng, args)
                steady_end, steady_end_epoch = time.monotonic(), time.time()
                intervals = max(1.0, (steady_end_epoch - steady_epoch) / args.interval)
                result["steady_requests_per_interval"] = {
                    k: round(v / intervals, 2) for k, v in sorted(by_kind(
                        real.request_log, steady_epoch, steady_end_epoch).items())}
                result["probe_whole_run"] = real_api.ms(prober.between(run.started, steady_end))
                result["probe_steady"] = real_api.ms(prober.between(steady_from, steady_end))
                if args.churn:
                    result["churn"] = churn(run, writer, rng, args, writer.healthy_lbs(), real)
                if args.outage:
                    result["outage"] = outage(run, real)
                body = run.last_body
                result["missed_total"] = counter_sum(body, "octavia_changes_feed_missed_total")
                result["feed_enabled"] = gauge(body, "octavia_changes_feed_enabled")
            finally:
                prober.stop()
                run.stop()
                if args.keep_logs:
                    keep = Path(args.keep_logs) / f"{lbs}"
                    keep.mkdir(parents=True, exist_ok=True)
                    for path in workdir.glob("*.log"):
                        (keep / path.name).write_bytes(path.read_bytes())
            out.append(result)
            print(json.dumps(result), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(result) + "\n")


def churn(run: real_api.ExporterRun, writer: RealWriter, rng: random.Random,
          args: argparse.Namespace, lbs: list[str],
          real: real_fleet.RealCloud) -> dict[str, Any]:
    """`args.churn` random changes over `args.churn_seconds`, each awaited on /metrics."""
    real_api.log(f"churn: {args.churn} changes over {args.churn_seconds:g} s")
    watcher = Watcher(run)
    start = time.monotonic()
    moments = sorted(rng.uniform(0, args.churn_seconds) for _ in range(args.churn))
    kinds = Counter[str]()
    project_id = real.cloud.project_id("admin")
    rng.shuffle(lbs)
    for n, (at, lb_id) in enumerate(zip(moments, lbs, strict=False)):
        watcher.until(start + at)
        kind = rng.choice(("error", "member", "rename", "admin", "create", "delete"))
        kinds[kind] += 1
        if kind == "error":
            writer.lb_error(lb_id)
            watcher.expect(kind, "octavia_loadbalancer_operating_status", "loadbalancer_id",
                           lb_id, "ERROR")
        elif kind == "member":
            member = writer.member_error(lb_id)
            watcher.expect(kind, "octavia_member_operating_status", "member_id", member,
                           "ERROR")
        elif kind == "rename":
            writer.rename(lb_id, f"renamed-{lb_id[:8]}")
            watcher.expect(kind, "octavia_loadbalancer_info", "name", f"renamed-{lb_id[:8]}",
                           "")
        elif kind == "admin":
            writer.admin_down(lb_id)
            watcher.expect(kind, "octavia_loadbalancer_operating_status", "loadbalancer_id",
                           lb_id, "OFFLINE")
        elif kind == "create":
            name = f"churn-{n:04d}"
            writer.create(real.octavia_url, real.token("admin"), project_id, name)
            watcher.expect(kind, "octavia_loadbalancer_info", "name", name, "")
        else:
            writer.delete(lb_id)
            watcher.expect(kind, "", "loadbalancer_id", lb_id, "ABSENT")
    watcher.settle(args.churn_settle)
    return {"changes": dict(kinds), "seen": len(watcher.done),
            "unseen": [f"{p[0]} {p[2]}" for p in watcher.pending],
            "seconds": stats([d["seconds"] for d in watcher.done]),
            "seconds_by_kind": {kind: stats([d["seconds"] for d in watcher.done
                                             if d["kind"] == kind]) for kind in sorted(kinds)}}


def outage(run: real_api.ExporterRun, real: real_fleet.RealCloud) -> dict[str, Any]:
    """Octavia stopped (every request times out) until octavia_up is 0; then resumed."""
    pid = real.cloud.octavia.process.pid
    os.killpg(pid, signal.SIGSTOP)
    started = time.monotonic()
    seen: float | None = None
    try:
        while time.monotonic() < started + 180:
            run.scrape()
            if gauge(run.last_body, "octavia_up") == 0:
                seen = time.monotonic() - started
                break
            time.sleep(0.5)
    finally:
        os.killpg(pid, signal.SIGCONT)
    back: float | None = None
    resumed = time.monotonic()
    while time.monotonic() < resumed + 180:
        run.scrape()
        if gauge(run.last_body, "octavia_up") == 1:
            back = time.monotonic() - resumed
            break
        time.sleep(0.5)
    return {"down_seen_seconds": None if seen is None else round(seen, 2),
            "up_again_seconds": None if back is None else round(back, 2)}


class SimWriter:
    """The same writes through the simulator's control API (its roll-up is the health
    manager's)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def healthy_lbs(self) -> list[str]:
        fleet = self._call("GET", "/_sim/fleet?kinds=loadbalancers")
        return [lb["id"] for lb in fleet["loadbalancers"]
                if (lb["operating_status"], lb["provisioning_status"]) == ("ONLINE", "ACTIVE")]

    def lb_error(self, lb_id: str) -> None:
        self._call("PATCH", f"/_sim/loadbalancers/{lb_id}", {"operating_status": "ERROR"})

    def member_error(self, lb_id: str) -> str:
        fleet = self._call("GET", "/_sim/fleet?kinds=members,pools")
        used = {p["id"] for p in fleet["pools"] if p["listeners"]}
        member = next(m for m in fleet["members"] if m["loadbalancer_id"] == lb_id
                      and m["pool_id"] in used)
        self._call("PATCH", f"/_sim/members/{member['id']}", {"operating_status": "ERROR"})
        return str(member["id"])


def sim_run_size(lbs: int, args: argparse.Namespace, build: real_api.ExporterBuild,
                 out: list[dict[str, Any]]) -> None:
    """The changes of `real_run`, on the simulator (no other client, no outage)."""
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix=f"octavia-fresh-sim-{lbs}-") as tmp:
        workdir = Path(tmp)
        sim, base, clouds = sim_run.start_simulator(f"fresh-{lbs}", lbs, 0.0, workdir)
        run = real_api.ExporterRun(build, clouds, workdir, f"sim-{lbs}", args.exporter_args,
                                   cloud="simulator")
        writer = SimWriter(base)
        result: dict[str, Any] = {"phase": "freshness", "api": "simulator", "lbs": lbs,
                                  "exporter": build.describe}
        try:
            started = time.monotonic()
            while time.monotonic() < started + args.timeout:
                if not run.alive():
                    raise RuntimeError(f"the exporter exited:\n{run.tail()}")
                run.scrape()
                if gauge(run.last_body, "octavia_up") == 1:
                    break
                time.sleep(0.5)
            result["startup_up_seconds"] = round(time.monotonic() - run.started, 2)
            result["changes"] = timed_changes(run, writer, rng, args)
        finally:
            run.stop()
            sim.stop()
        out.append(result)
        print(json.dumps(result), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(result) + "\n")


def timed_changes(run: real_api.ExporterRun, writer: Any, rng: random.Random,
                  args: argparse.Namespace) -> dict[str, Any]:
    """`args.changes` load balancers to ERROR and as many member failures, at random moments
    over `args.window` seconds, each timed to /metrics."""
    watcher = Watcher(run)
    steady_from = time.monotonic()
    healthy = writer.healthy_lbs()
    rng.shuffle(healthy)
    plan = ([("loadbalancer", lb) for lb in healthy[:args.changes]]
            + [("member", lb) for lb in healthy[args.changes:2 * args.changes]])
    moments = sorted(rng.uniform(0, args.window) for _ in plan)
    rng.shuffle(plan)
    for (kind, lb_id), at in zip(plan, moments, strict=True):
        watcher.until(steady_from + at)
        if kind == "loadbalancer":
            writer.lb_error(lb_id)
            watcher.expect(kind, "octavia_loadbalancer_operating_status", "loadbalancer_id",
                           lb_id, "ERROR")
        else:
            member = writer.member_error(lb_id)
            watcher.expect(kind, "octavia_member_operating_status", "member_id", member,
                           "ERROR")
    watcher.settle(args.settle)
    changes: dict[str, Any] = {
        kind: stats([d["seconds"] for d in watcher.done if d["kind"] == kind])
        for kind in ("loadbalancer", "member")}
    changes["unseen"] = [p[2] for p in watcher.pending]
    changes["each"] = watcher.done
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000")
    parser.add_argument("--changes", type=int, default=5, help="of each kind, per size")
    parser.add_argument("--window", type=float, default=240.0,
                        help="seconds of steady state over which the changes are spread")
    parser.add_argument("--settle", type=float, default=180.0,
                        help="seconds to wait for the last change to show")
    parser.add_argument("--timeout", type=float, default=900.0, help="for start-up")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--churn", type=int, default=0)
    parser.add_argument("--churn-seconds", type=float, default=1200.0)
    parser.add_argument("--churn-settle", type=float, default=180.0,
                        help="seconds to wait for the churn's last change to show")
    parser.add_argument("--outage", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--simulator", action="store_true",
                        help="also run the changes against the simulator, per size")
    parser.add_argument("--no-real", action="store_true",
                        help="the simulator only (with --simulator)")
    parser.add_argument("--exporter-python", default=sys.executable)
    parser.add_argument("--exporter-src", help="source tree of the exporter under test (first "
                        "on PYTHONPATH), e.g. `git archive <commit> exporter | tar -x -C DIR`")
    parser.add_argument("--exporter-label", help="what to call it in the results")
    parser.add_argument("--exporter-args", default="")
    parser.add_argument("--json")
    parser.add_argument("--keep-logs", help="copy the servers' and the exporter's logs here "
                        "(benchmarks/probe_overlap.py reads Octavia's request log)")
    args = parser.parse_args(argv)
    args.exporter_args = args.exporter_args.split()
    build = real_api.ExporterBuild(args.exporter_python, args.exporter_src)
    build.probe()
    if args.exporter_label:
        build.describe = args.exporter_label
    out: list[dict[str, Any]] = []
    for size in (int(x) for x in args.sizes.split(",")):
        if args.simulator:
            sim_run_size(size, args, build, out)
        if not args.no_real:
            real_run(size, args, build, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
