#!/usr/bin/env python3
"""Cost of the availability SLI recording rules at fleet scale, in a real Prometheus.

Serves a synthetic exposition of N load balancers (operating status, provisioning status and
admin state, as the exporter writes them in `--status-series current` mode; a few percent
unavailable, some admin down or PENDING_CREATE) over P projects from a tiny HTTP server on
127.0.0.1, has the installed `prometheus` scrape it and evaluate the shipped
alerts/octavia-recording.rules.yml (SLI groups only) and the SLO alerts, and after a few minutes
averages Prometheus's own timings over the second half (per group:
`prometheus_rule_group_last_duration_seconds`, scraped; per rule: `/api/v1/rules`, polled once an
interval) and counts the series the rules write. For comparison it also evaluates the fleet
status counts (group octavia-fleet-status) that every installation already runs. The
long-window group is evaluated at the global interval here (its `interval:` is dropped) so
that it runs often enough to be measured; it then only has minutes of history, so its figure
is a floor (docs/slo.md counts what 30 days read).

    .venv/bin/python benchmarks/slo_rules.py --lbs 10000 --projects 500 --minutes 6
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "alerts" / "octavia-recording.rules.yml"
ALERTS = REPO / "alerts" / "octavia-alerts.rules.yml"
SLI_GROUPS = ("octavia-availability-sli", "octavia-availability-sli-long")
# For comparison: the fleet status counts every installation already evaluates.
BASELINE_GROUPS = ("octavia-fleet-status",)
ALERT_GROUPS = ("octavia-availability-slo",)


def exposition(lbs: int, projects: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for kind in ("admin_state_up", "provisioning_status", "operating_status"):
        lines.append(f"# TYPE octavia_loadbalancer_{kind} gauge")
    for i in range(lbs):
        labels = (f'cloud="bench",loadbalancer_id="lb-{i:05d}",'
                  f'project_id="project-{i % projects:04d}"')
        roll = rng.random()
        admin, prov, oper = 1, "ACTIVE", "ONLINE"
        if roll < 0.02:
            oper = "ERROR"
        elif roll < 0.03:
            oper = "DEGRADED"
        elif roll < 0.04:
            admin, oper = 0, "OFFLINE"
        elif roll < 0.05:
            prov, oper = "PENDING_CREATE", "OFFLINE"
        lines.append(f"octavia_loadbalancer_admin_state_up{{{labels}}} {admin}")
        lines.append(f'octavia_loadbalancer_provisioning_status{{{labels},status="{prov}"}} 1')
        lines.append(f'octavia_loadbalancer_operating_status{{{labels},status="{oper}"}} 1')
    lines.append("# TYPE octavia_up gauge")
    lines.append('octavia_up{cloud="bench"} 1')
    return ("\n".join(lines) + "\n").encode()


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def only_groups(source: Path, names: tuple[str, ...], target: Path) -> None:
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    groups = [g for g in document["groups"] if g["name"] in names]
    for group in groups:
        group.pop("interval", None)
    target.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")


def query(base: str, expr: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=30) as answer:
        result: list[dict[str, Any]] = json.load(answer)["data"]["result"]
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lbs", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--interval", default="15s",
                        help="scrape and evaluation interval, in seconds (15s)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise SystemExit("prometheus not found on PATH (apt-get install prometheus)")

    interval_seconds = float(args.interval.removesuffix("s"))
    body = exposition(args.lbs, args.projects, args.seed)
    server, target = serve(body)
    with tempfile.TemporaryDirectory(prefix="slo-bench-") as tmp:
        work = Path(tmp)
        only_groups(RULES, SLI_GROUPS + BASELINE_GROUPS, work / "sli.rules.yml")
        only_groups(ALERTS, ALERT_GROUPS, work / "slo.rules.yml")
        config = {
            "global": {"scrape_interval": args.interval, "evaluation_interval": args.interval},
            "rule_files": [str(work / "sli.rules.yml"), str(work / "slo.rules.yml")],
            "scrape_configs": [
                {"job_name": "octavia-exporter", "static_configs": [{"targets": [target]}]},
                {"job_name": "prometheus", "static_configs": [{"targets": ["PROM"]}]},
            ],
        }
        address = f"127.0.0.1:{free_port()}"
        config["scrape_configs"][1]["static_configs"][0]["targets"] = [address]
        (work / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        process = subprocess.Popen(
            [prometheus, f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address={address}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://{address}"
        try:
            # The measurement window itself (not synchronisation): the first half warms up,
            # the second samples every rule's last evaluation time once per interval.
            time.sleep(args.minutes * 30)
            samples: dict[tuple[str, str], list[float]] = {}
            deadline = time.monotonic() + args.minutes * 30
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"{base}/api/v1/rules", timeout=30) as answer:
                    for group in json.load(answer)["data"]["groups"]:
                        for rule in group["rules"]:
                            samples.setdefault((group["name"], rule["name"]), []).append(
                                rule["evaluationTime"])
                time.sleep(interval_seconds)
            window = f"{int(args.minutes * 30)}s"
            groups = query(base, f"avg_over_time(prometheus_rule_group_last_duration_seconds"
                                 f"[{window}])")
            ratios = query(base, "cloud:octavia_loadbalancer_availability:ratio5m")
            written = {
                group: query(base, f'sum(prometheus_rule_group_rules{{rule_group=~".*{group}"}})')
                for group in SLI_GROUPS
            }
            series = query(base, 'count({__name__=~".*:octavia_loadbalancer_'
                                 '(available|counted|availability):.*"})')
            per_lb = query(base, "count(cloud_project_loadbalancer:"
                                 "octavia_loadbalancer_available:bool)")
            rules = [(sum(v) / len(v), group, name) for (group, name), v in samples.items()]
        finally:
            process.terminate()
            process.wait(30)
            server.shutdown()
    print(f"load balancers {args.lbs}, projects {args.projects}, interval {args.interval}, "
          f"{args.minutes} min, exposition {len(body) / 1e6:.1f} MB")
    for sample in sorted(groups, key=lambda s: s["metric"]["rule_group"]):
        name = sample["metric"]["rule_group"].split(";")[-1]
        print(f"  group {name}: {float(sample['value'][1]) * 1000:.1f} ms per evaluation")
    for group, answer in written.items():
        print(f"  group {group}: {answer[0]['value'][1] if answer else '?'} rules")
    print(f"  series written by the SLI rules: {series[0]['value'][1] if series else '?'} "
          f"(per load balancer: {per_lb[0]['value'][1] if per_lb else '?'})")
    print("  slowest rules (mean evaluation time):")
    for seconds, group, name in sorted(rules, reverse=True)[:6]:
        print(f"    {seconds * 1000:7.1f} ms  {group}: {name}")
    if ratios:
        print(f"  5m availability of the synthetic fleet: {float(ratios[0]['value'][1]):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
