"""One session-wide stack: simulator → exporters → real Prometheus → real Alertmanager → webhook.

All on 127.0.0.1, each process started here and stopped here by PID:

- `octavia-simulator --lbs 30 --seed 7` with two regions. RegionTwo answers every Octavia call
  with 503 (a simulator fault), so the cloud `simulator-broken` (the admin account, RegionTwo)
  is a cloud whose API is down: OctaviaApiDown, OctaviaDataStale and the API-error panels get
  real data.
- exporter A: clouds `simulator` + `simulator-broken`, `--interval 2`;
  exporter B: cloud `simulator` again, a second replica, so every expression is evaluated the
  way it must work in production (two replicas, series differing only by `instance`; a join
  that is not one-to-one fails the query); B runs with `--member-details`, so the member weight,
  admin state and backup series (and the dashboard columns reading them) have data, while A
  shows what an exporter without the option exports;
  B also listens to Octavia's notifications on a real RabbitMQ (Debian's rabbitmq-server, on
  loopback), into which the fixture publishes one load-balancer update and one unrelated
  message once B is connected, so the notification series have data;
  exporter C: cloud `simulator-member` (project-scoped account). It is stopped once Prometheus
  has scraped it, so its cloud stops being reported (OctaviaCloudNotReported) and its target is
  down (OctaviaExporterTargetDown).
- Prometheus: scrape and evaluation interval 1 s, job `octavia-exporter` (A, B, C), job
  `octavia-amphora` fed by exporter A's `/discovery/prometheus-listeners?address=floating_ip`
  (the scenario's PROMETHEUS listener, served by the simulator on 127.0.0.1), a copy of
  the shipped recording rules in which only group `interval:`s are removed (the SLO's long
  windows run every 2m30s, and a group's first evaluation can come that late: without its own
  interval a group runs at the 1 s global one; see
  test_promql.py::test_the_recording_rule_copy_only_drops_group_intervals), and a copy of
  the shipped alerting rules in which only `for:` and
  `keep_firing_for:` are shortened to SHORT_FOR, so alerts reach Alertmanager within seconds
  (the expressions, labels and annotations are byte-for-byte the shipped ones; see
  test_alertmanager.py::test_the_rule_copy_only_shortens_durations).
- Alertmanager: clustering off (`--cluster.listen-address=`), group_wait/group_interval 1 s,
  one webhook receiver with send_resolved, grouping by every label so each alert is its own
  notification.
- The webhook receiver: aiohttp in a thread of this process.

The scenario (tests/e2e/scenario.py) is applied through the simulator's control API once every
exporter has completed its first cycle; the fixture then waits until Prometheus shows every
seeded state from both replicas and rates have samples. A missing binary skips these tests, or
fails them under the strict mode (tests/support/tools.py).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import (
    HOST,
    Processes,
    PrometheusAPI,
    Webhook,
    http,
    wait_until,
)
from tests.e2e.notifications import publish
from tests.e2e.scenario import ACTIVE_CONNECTIONS, CONNECTION_LIMIT, Scenario
from tests.support.e2e import ALERTING_RULES, RECORDING_RULES, SHORT_FOR, Binaries, Stack
from tests.support.ports import free_port
from tests.support.tools import require_binary
from tests.system.rabbit import Rabbit, require_rabbitmq

JOB = "octavia-exporter"
# Octavia's own PROMETHEUS listeners, found through exporter A's service discovery (a job
# name that does not start with JOB: OctaviaExporterTargetDown must not see them).
AMPHORA_JOB = "octavia-amphora"
STARTUP_TIMEOUT = 30.0
BROKEN_REGION = "RegionTwo"


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    install = ("Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager; or put the "
               "release binaries on PATH")
    prometheus = require_binary("prometheus", install=install)
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager", install=install)
    require_rabbitmq()
    return Binaries(prometheus, alertmanager)


def _console_script(name: str, module: str) -> list[str]:
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def _child_env(**extra: str) -> dict[str, str]:
    """The test's environment without OS_* (an operator's OS_CLOUD must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(extra)
    return env


def short_for_copy(source: Path, target: Path) -> None:
    """Copy a rule file with every `for:` and `keep_firing_for:` set to SHORT_FOR."""
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = SHORT_FOR
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")


def no_interval_copy(source: Path, target: Path) -> None:
    """Copy a rule file without its groups' `interval:` (they then run at the global one)."""
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    for group in document["groups"]:
        group.pop("interval", None)
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                      encoding="utf-8")


def _write_clouds(work: Path) -> Path:
    """The simulator's clouds.yaml plus `simulator-broken`: the admin account in RegionTwo."""
    document = yaml.safe_load((work / "c.yaml").read_text(encoding="utf-8"))
    broken = dict(document["clouds"]["simulator"])
    broken["region_name"] = BROKEN_REGION
    document["clouds"]["simulator-broken"] = broken
    path = work / "clouds-e2e.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def _amphora_job(discovery: str) -> dict[str, object]:
    """The data-plane scrape job as docs/operations.md ships it, with exporter A's URL and a
    refresh of 1 s instead of 1 min."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(
        encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)
              if f"job_name: {AMPHORA_JOB}" in b]
    assert len(blocks) == 1, "docs/operations.md lost its data-plane scrape job"
    job: dict[str, object] = blocks[0]["scrape_configs"][0]
    (sd,) = job["http_sd_configs"]  # type: ignore[misc]
    sd.update(url=discovery, refresh_interval="1s")
    return job


def _prometheus_config(work: Path, targets: list[str], alertmanager: str,
                       rule_files: list[Path], discovery: str) -> Path:
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [{"targets": targets}]},
            _amphora_job(discovery),
        ],
    }
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _alertmanager_config(work: Path, webhook_url: str) -> Path:
    config = {
        "route": {
            "receiver": "e2e-webhook",
            "group_by": ["..."],  # every alert its own group, so its own notification
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{
            "name": "e2e-webhook",
            "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
        }],
    }
    path = work / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _ok(url: str) -> bool:
    status, _ = http("GET", url, timeout=2.0)
    return status == 200


def _probes(scenario: Scenario) -> list[tuple[str, int]]:
    """(PromQL, minimum number of series) that must hold before any test runs. Two series
    where both replicas (A and B) must show the seeded state."""
    t = scenario.trees
    lb = {role: tree.loadbalancer for role, tree in t.items()}
    return [
        (f'octavia_loadbalancer_provisioning_status{{loadbalancer_id="{lb["provisioning_error"]}",status="ERROR"}} == 1', 2),
        (f'octavia_loadbalancer_provisioning_status{{loadbalancer_id="{lb["pending_update"]}",status="PENDING_UPDATE"}} == 1', 2),
        (f'octavia_loadbalancer_operating_status{{loadbalancer_id="{lb["operating_error"]}",status="ERROR"}} == 1', 2),
        (f'octavia_loadbalancer_operating_status{{loadbalancer_id="{lb["member_error"]}",status="DEGRADED"}} == 1', 2),
        (f'octavia_member_operating_status{{member_id="{t["member_error"].members[0]}",status="ERROR"}} == 1', 2),
        (f'octavia_pool_operating_status{{pool_id="{t["pool_down"].pools[0]}",status="ERROR"}} == 1', 2),
        (f'octavia_healthmonitor_provisioning_status{{healthmonitor_id="{t["healthmonitor_error"].healthmonitors[0]}",status="ERROR"}} == 1', 2),
        (f'octavia_listener_connection_limit{{listener_id="{t["connection_limit"].listeners[0]}"}} == {CONNECTION_LIMIT}', 2),
        (f'octavia_listener_stats_active_connections{{listener_id="{t["connection_limit"].listeners[0]}"}} == {ACTIVE_CONNECTIONS}', 2),
        (f'octavia_amphora_status{{amphora_id="{t["amphora_error"].amphorae[0]}",status="ERROR"}} == 1', 2),
        (f'octavia_amphora_status{{amphora_id="{t["amphora_failover_stopped"].amphorae[0]}",status="FAILOVER_STOPPED"}} == 1', 2),
        (f'octavia_amphora_cert_expiration_timestamp_seconds{{amphora_id="{t["cert_expiring"].amphorae[0]}"}} - time() < 2 * 86400', 2),
        ('octavia_status_transitions_total{cloud="simulator"}', 2),
        # Rates over the short windows the tests use have samples to work with.
        (f'rate(octavia_listener_stats_request_errors_total{{listener_id="{t["traffic"].listeners[0]}"}}[30s]) > 0', 2),
        (f'rate(octavia_listener_stats_connections_total{{listener_id="{t["traffic"].listeners[0]}"}}[30s]) > 0', 2),
        ('rate(octavia_api_requests_total{cloud="simulator-broken",code="503"}[30s]) > 0', 1),
        ('octavia_up{cloud="simulator-broken"} == 0', 1),
        ('count_over_time(octavia_up{cloud="simulator"}[1m]) >= 5', 2),
        # Recording rules have been evaluated on the seeded data.
        ('cloud_project_status:octavia_loadbalancer_provisioning_status:sum{status="PENDING_UPDATE"}', 1),
        ('cloud_project_loadbalancer:octavia_loadbalancer_stats_request_errors:rate5m > 0', 1),
        ('cloud:octavia_loadbalancer_availability:burnrate3d > 0', 1),
        # Notifications reached exporter B: one counted, one dropped.
        ('octavia_notifications_received_total{cloud="simulator"} >= 1', 1),
        ('octavia_notifications_dropped_total{cloud="simulator"} >= 1', 1),
        # Floating IPs: collected, where the scenario put them (after apply() moved one), and
        # each kind of change counted.
        ('octavia_collector_enabled{cloud="simulator",collector="floating_ips"} == 1', 2),
        *[(f'octavia_loadbalancer_floating_ip_info{{cloud="simulator",loadbalancer_id="{tree.loadbalancer}",floating_ip_address="{address}",status="ACTIVE"}}', 2)
          for tree in t.values() for address in tree.floating_ips],
        *[(f'octavia_floating_ip_changes_total{{cloud="simulator",change="{change}"}} >= 1', 2)
          for change in ("attached", "moved", "detached")],
        # The data plane: one target, found through discovery, with our labels; the failed
        # member's checks and downtime counted, the pumped 5xx answered.
        (f'up{{job="{AMPHORA_JOB}",cloud="simulator",loadbalancer_id="{lb["data_plane"]}",'
         f'project_id="{t["data_plane"].project_id}"}} == 1', 1),
        (f'increase(octavia_member_check_failures_total{{member="{t["data_plane"].members[0]}"}}[1m]) > 0', 1),
        (f'rate(octavia_member_downtime_seconds_total{{member="{t["data_plane"].members[0]}"}}[30s]) > 0', 1),
        (f'rate(octavia_listener_http_responses_total{{listener="{t["data_plane"].listeners[0]}",code="5xx"}}[30s]) > 0', 1),
    ]


def _start(binaries: Binaries, work: Path, procs: Processes, webhook: Webhook,
           timings: dict[str, float], cleanups: list[Callable[[], None]]) -> Stack:
    t0 = time.monotonic()

    def alive() -> None:
        procs.check_alive()

    def ready(url: str) -> bool:
        alive()
        return _ok(url)

    # 1. The simulated cloud, and the load balancer trees the scenario needs.
    sim_port = free_port()
    sim_url = f"http://{HOST}:{sim_port}"
    procs.start("simulator", [
        *_console_script("octavia-simulator", "exporter.simulator"),
        "--lbs", "30", "--seed", "7", "--port", str(sim_port),
        # Spare amphorae (READY, no load balancer): "Amphorae without a load balancer".
        "--spare-amphorae", "2",
        "--region", "RegionOne", "--region", BROKEN_REGION,
        "--write-clouds-yaml", str(work / "c.yaml"),
    ], _child_env())
    wait_until(lambda: ready(f"{sim_url}/_sim/") and (work / "c.yaml").exists(),
               "the simulator", STARTUP_TIMEOUT)
    timings["simulator"] = time.monotonic() - t0
    scenario = Scenario(sim_url)
    cleanups.append(scenario.stop)
    scenario.create()
    status, answer = http("PUT", f"{sim_url}/_sim/faults",
                          [{"kind": "error", "status": 503, "region": BROKEN_REGION}])
    assert status == 200, answer
    clouds = _write_clouds(work)

    # 2. Exporters, Alertmanager, the webhook and Prometheus, started together.
    exporter_clouds = {"a": ["simulator", "simulator-broken"], "b": ["simulator"],
                       "c": ["simulator-member"]}
    rabbit = Rabbit(work / "rabbit")
    cleanups.append(rabbit.stop)
    rabbit.start()
    timings["rabbitmq"] = time.monotonic() - t0
    # B's detail target (1 s) is below what any pass can deliver: OctaviaDetailStale fires
    # for "simulator" from B's series alone, while A (default target) stays within its own.
    exporter_options = {"b": ["--member-details", "--notifications-url", rabbit.url,
                              "--detail-target", "1"]}
    exporters: dict[str, str] = {}
    for name, cloud_names in exporter_clouds.items():
        address = f"{HOST}:{free_port()}"
        args = [*_console_script("octavia-exporter", "exporter")]
        for cloud in cloud_names:
            args += ["--os-cloud", cloud]
        # The default budget (5 requests/s, lists at most 4 % of the time) is sized for a real
        # single-worker Octavia; the simulator takes more, and the stack must show a change
        # within STARTUP_TIMEOUT (a list slower than 4 % of a 2-s interval would stretch it).
        args += ["--interval", "2", "--web.listen-address", address, "--log-format", "json",
                 "--api-max-rate", "50", "--lists-share", "1",
                 *exporter_options.get(name, [])]
        procs.start(f"exporter-{name}", args, _child_env(OS_CLIENT_CONFIG_FILE=str(clouds)))
        exporters[name] = address

    webhook.start()
    am_address = f"{HOST}:{free_port()}"
    (work / "alertmanager-data").mkdir()
    procs.start("alertmanager", [
        binaries.alertmanager,
        f"--config.file={_alertmanager_config(work, webhook.url)}",
        f"--storage.path={work / 'alertmanager-data'}",
        f"--web.listen-address={am_address}",
        "--cluster.listen-address=",
        f"--web.external-url=http://{am_address}/",
    ], _child_env())

    alert_rules_copy = work / "octavia-alerts.short-for.rules.yml"
    short_for_copy(ALERTING_RULES, alert_rules_copy)
    recording_rules_copy = work / "octavia-recording.no-interval.rules.yml"
    no_interval_copy(RECORDING_RULES, recording_rules_copy)
    prom_address = f"{HOST}:{free_port()}"
    discovery = (f"http://{exporters['a']}/discovery/prometheus-listeners"
                 "?address=floating_ip")
    prom_config = _prometheus_config(work, list(exporters.values()), am_address,
                                     [recording_rules_copy, alert_rules_copy], discovery)
    before_any_data = time.time() - 1.0
    procs.start("prometheus", [
        binaries.prometheus,
        f"--config.file={prom_config}",
        f"--storage.tsdb.path={work / 'prometheus-data'}",
        f"--web.listen-address={prom_address}",
        f"--web.external-url=http://{prom_address}/",
    ], _child_env())
    prom = PrometheusAPI(f"http://{prom_address}")

    for name, address in exporters.items():
        wait_until(lambda a=address: ready(f"http://{a}/readyz"), f"exporter {name} /readyz",
                   STARTUP_TIMEOUT)
    timings["exporters ready"] = time.monotonic() - t0
    wait_until(lambda: ready(f"http://{am_address}/-/ready"), "Alertmanager", STARTUP_TIMEOUT)
    wait_until(lambda: ready(f"http://{prom_address}/-/ready"), "Prometheus", STARTUP_TIMEOUT)

    # 3. Every exporter has completed a cycle: now change the fleet.
    scenario.apply()
    stack = Stack(work, procs, sim_url, scenario, prom, f"http://{am_address}", webhook,
                  exporters, alert_rules_copy, recording_rules_copy, before_any_data, timings)

    # 4. Exporter C's cloud must have been seen before C goes away.
    def member_cloud_seen() -> bool:
        alive()
        return bool(prom.query('count_over_time(octavia_up{cloud="simulator-member"}[1m]) >= 2'))

    wait_until(member_cloud_seen, "two scrapes of exporter C", STARTUP_TIMEOUT)
    next(p for p in procs.started if p.name == "exporter-c").stop()
    wait_until(lambda: prom.query(f'up{{instance="{exporters["c"]}"}} == 0'),
               "Prometheus to see exporter C down", STARTUP_TIMEOUT)
    timings["exporter C gone"] = time.monotonic() - t0

    # 5. Notifications, once B's listener has its queue (published earlier, they would be lost).
    wait_until(lambda: prom.query('octavia_notifications_connected{cloud="simulator"} == 1'),
               "exporter B connected to RabbitMQ", STARTUP_TIMEOUT)
    publish(rabbit.url, scenario.trees["traffic"].loadbalancer)

    # 5b. The data plane: Prometheus found the PROMETHEUS listener through exporter A and
    # scraped its members UP; now one fails.
    data_plane = scenario.trees["data_plane"]

    def data_plane_scraped() -> bool:
        alive()
        return len(prom.query(f'octavia_member_status{{job="{AMPHORA_JOB}",'
                              f'loadbalancer_id="{data_plane.loadbalancer}"}} == 1')) >= len(
            data_plane.members)

    wait_until(data_plane_scraped, "the PROMETHEUS listener scraped through discovery",
               STARTUP_TIMEOUT)
    scenario.fail_data_plane_member()
    timings["data plane scraped"] = time.monotonic() - t0

    # 6. Prometheus shows the seeded scenario, from both replicas.
    for expr, minimum in _probes(scenario):
        def probe(expr: str = expr, minimum: int = minimum) -> bool:
            alive()
            return len(prom.query(expr)) >= minimum

        wait_until(probe, f"{expr} (at least {minimum} series)", STARTUP_TIMEOUT)
    timings["scenario visible"] = time.monotonic() - t0
    return stack


@pytest.fixture(scope="session")
def stack(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e")
    procs = Processes(work)
    webhook = Webhook()
    timings: dict[str, float] = {}
    cleanups: list[Callable[[], None]] = [webhook.stop, procs.stop_all]
    try:
        try:
            started = _start(binaries, work, procs, webhook, timings, cleanups)
        except Exception as exc:
            logs = procs.logs()
            pytest.fail(f"end-to-end stack did not start: {exc}\n{logs}", pytrace=False)
        print(f"\ne2e stack up: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}",
              file=sys.stderr)
        yield started
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
