"""deploy/prometheus and deploy/grafana: the example configurations in docs/operations.md,
read by the real tools where this machine has them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.podman import REPO
from tests.e2e.harness import Processes, PrometheusAPI, wait_until
from tests.support.ports import free_port

PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana" / "provisioning"
JOB = "octavia-exporter"


def promtool_check(path: Path) -> str:
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize("name", ["static.yml", "file_sd.yml"])
def test_promtool_accepts_the_scrape_configs(name: str) -> None:
    promtool_check(PROMETHEUS / name)
    config = yaml.safe_load((PROMETHEUS / name).read_text())
    # The shipped alerts select up{job=~"octavia-exporter.*"}.
    assert all(job["job_name"].startswith(JOB) for job in config["scrape_configs"])


def start_prometheus(procs: Processes, config: Path, data: Path) -> PrometheusAPI:
    address = f"127.0.0.1:{free_port()}"
    procs.start("prometheus", [
        shutil.which("prometheus") or "prometheus", f"--config.file={config}",
        f"--storage.tsdb.path={data}", f"--web.listen-address={address}"],
        {k: v for k, v in os.environ.items() if not k.startswith("OS_")})
    return PrometheusAPI(f"http://{address}")


def test_prometheus_reads_the_file_sd_targets(tmp_path: Path) -> None:
    """promtool 2.42 does not open file_sd files; Prometheus itself does. The shipped config
    and targets file, unchanged: the example hosts do not resolve, but every target appears
    with its job and labels."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    procs = Processes(tmp_path)
    try:
        prom = start_prometheus(procs, copy / "file_sd.yml", tmp_path / "data")

        def discovered() -> list[dict] | None:
            procs.check_alive()
            return prom.targets() or None

        targets = wait_until(discovered, "file_sd targets", 60, on_timeout=procs.logs)
    finally:
        procs.stop_all()
    assert sorted(t["labels"]["instance"] for t in targets) == [
        f"octavia-exporter-{k}.example:9879" for k in (1, 2, 3)]
    assert {(t["labels"]["job"], t["labels"]["region"]) for t in targets} == {(JOB, "RegionOne")}


def test_the_kubernetes_relabelling_keeps_only_the_exporter(tmp_path: Path) -> None:
    """Debian's Prometheus is built without Kubernetes discovery, so promtool cannot read
    kubernetes_sd_configs here. The relabelling is what decides which endpoints are scraped:
    real Prometheus runs it, unchanged, on target groups carrying the labels Kubernetes
    discovery sets (role endpoints), one of them a real exporter on loopback."""
    config = yaml.safe_load((PROMETHEUS / "kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    (discovery,) = job.pop("kubernetes_sd_configs")
    assert discovery["role"] == "endpoints"
    namespace = discovery["namespaces"]["names"][0]

    def endpoint(address: str, service: str, port_name: str, pod: str) -> dict:
        return {"targets": [address], "labels": {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_service_name": service,
            "__meta_kubernetes_service_label_app_kubernetes_io_name": service,
            "__meta_kubernetes_endpoint_port_name": port_name,
            "__meta_kubernetes_pod_name": pod}}

    exporter_port = free_port()
    groups = [endpoint(f"127.0.0.1:{exporter_port}", JOB, "metrics", f"{JOB}-0"),
              endpoint(f"127.0.0.1:{free_port()}", JOB, "debug", f"{JOB}-0"),
              endpoint(f"127.0.0.1:{free_port()}", "something-else", "metrics", "other-0")]
    (tmp_path / "endpoints.json").write_text(json.dumps(groups))
    job["file_sd_configs"] = [{"files": [str(tmp_path / "endpoints.json")]}]
    job["scrape_interval"] = "1s"
    job["scrape_timeout"] = "1s"
    rewritten = tmp_path / "prometheus.yml"
    rewritten.write_text(yaml.safe_dump(config))
    promtool_check(rewritten)

    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    procs = Processes(tmp_path)
    try:
        procs.start("exporter", [sys.executable, "-m", "exporter", "--demo", "--demo-lbs", "3",
                                 "--web.listen-address", f"127.0.0.1:{exporter_port}"], env)
        prom = start_prometheus(procs, rewritten, tmp_path / "data")

        def scraped() -> list[dict] | None:
            procs.check_alive()
            targets = prom.targets()
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        (target,) = wait_until(scraped, "the exporter scraped through the relabelling", 60,
                               on_timeout=procs.logs)
        assert target["labels"] == {"instance": f"127.0.0.1:{exporter_port}", "job": JOB,
                                    "namespace": namespace, "pod": f"{JOB}-0"}
        dropped = prom.get("/api/v1/targets")["data"]["droppedTargets"]
        assert len(dropped) == 2
    finally:
        procs.stop_all()


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    """No Grafana here (it is not a Debian package): the files are held to Grafana's
    provisioning format and to what the shipped dashboards expect."""
    (datasources,) = [yaml.safe_load(p.read_text()) for p in (GRAFANA / "datasources").iterdir()]
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert source["url"].startswith("http") and source["isDefault"] is True
    (providers,) = [yaml.safe_load(p.read_text()) for p in (GRAFANA / "dashboards").iterdir()]
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")
    for dashboard in (REPO / "dashboards").glob("*.json"):
        variables = json.loads(dashboard.read_text())["templating"]["list"]
        # Every dashboard chooses its data source among those of type prometheus.
        (variable,) = [v for v in variables if v["type"] == "datasource"]
        assert variable["query"] == source["type"]
