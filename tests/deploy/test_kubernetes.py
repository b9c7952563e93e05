"""deploy/kubernetes: every overlay renders with kubectl's kustomize, every object validates
against the Kubernetes schemas, the prometheus-operator objects are field-checked, and the
arguments each pod would run with parse with the exporter's own configuration loader."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from exporter import __version__, config
from tests.deploy.podman import REPO
from tests.support.kubernetes import pod_argv

KUSTOMIZE = REPO / "deploy" / "kubernetes"
OVERLAYS = {"base": KUSTOMIZE / "base", "shards": KUSTOMIZE / "overlays" / "shards"}
# The oldest Kubernetes still commonly run, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
NAME = "octavia-exporter"
# The duration syntax the PrometheusRule CRD accepts for `for` and `keep_firing_for`.
PROMETHEUS_DURATION = re.compile(r"0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")


def render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(OVERLAYS[request.param])


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    return found


def test_every_overlay_directory_is_rendered_here() -> None:
    overlays = {p.parent for p in KUSTOMIZE.rglob("kustomization.yaml")}
    assert overlays == set(OVERLAYS.values())


def test_objects_validate_strictly_against_the_kubernetes_schemas(rendered) -> None:
    _, objects = rendered
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: checked field by field below
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']} against "
                                     f"Kubernetes {version}: {exc.message} at "
                                     f"{list(exc.path)}") from exc


def test_the_pod_is_locked_down(rendered) -> None:
    _, objects = rendered
    pod = workload(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["image"] == f"ghcr.io/octavia-exporter/octavia-exporter:{__version__}"
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert probes == {"livenessProbe": {"path": "/healthz", "port": "metrics"},
                      "readinessProbe": {"path": "/readyz", "port": "metrics"}}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9879}
    requests = container["resources"]["requests"]
    assert requests["cpu"] and requests["memory"] and container["resources"]["limits"]["memory"]

    # clouds.yaml comes from the Secret, read-only, where openstacksdk looks for it.
    (secret,) = of_kind(objects, "Secret")
    assert "clouds.yaml" in secret["data"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["clouds"] == {"name": "clouds", "mountPath": "/etc/openstack", "readOnly": True}
    assert volumes["clouds"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert {e["name"]: e.get("value") for e in container["env"]}["OS_CLOUD"] in yaml.safe_load(
        base64.b64decode(secret["data"]["clouds.yaml"]))["clouds"]


def test_service_monitor_scrapes_the_service_as_the_alerts_expect(rendered) -> None:
    _, objects = rendered
    (service,) = of_kind(objects, "Service")
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    spec = monitor["spec"]
    assert set(spec) <= {"jobLabel", "selector", "endpoints", "namespaceSelector",
                         "targetLabels", "podTargetLabels", "sampleLimit"}
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items())
    # The job label's value: the alerts select up{job=~"octavia-exporter.*"}.
    assert labels[spec["jobLabel"]].startswith(NAME)
    ports = {p["name"] for p in service["spec"]["ports"]}
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme",
                             "tlsConfig", "basicAuth", "relabelings", "metricRelabelings"}
    assert endpoint["port"] in ports and endpoint["path"] == "/metrics"

    def seconds(text: str) -> int:
        match = re.fullmatch(r"(\d+)s", text)
        assert match, text
        return int(match.group(1))

    assert seconds(endpoint["scrapeTimeout"]) < seconds(endpoint["interval"])
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in service["spec"]["selector"].items())


def test_prometheus_rule_is_the_generated_one(rendered) -> None:
    _, objects = rendered
    (rule,) = of_kind(objects, "PrometheusRule")
    generated = yaml.safe_load((REPO / "alerts" / "prometheusrule.yaml").read_text())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == generated["spec"]
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"]
        for item in group["rules"]:
            assert set(item) <= {"alert", "record", "expr", "for", "keep_firing_for",
                                 "labels", "annotations"}
            assert ("alert" in item) != ("record" in item) and item["expr"]
            for key in ("for", "keep_firing_for"):
                if key in item:
                    assert PROMETHEUS_DURATION.fullmatch(item[key]), (item.get("alert"), key)


def test_only_prometheus_may_connect(rendered) -> None:
    _, objects = rendered
    (policy,) = of_kind(objects, "NetworkPolicy")
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    spec = policy["spec"]
    assert all(pod_labels.get(k) == v for k, v in spec["podSelector"]["matchLabels"].items())
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["from"] == [{"namespaceSelector": {},
                             "podSelector": {"matchLabels": {
                                 "app.kubernetes.io/name": "prometheus"}}}]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_dashboards_are_config_maps_for_the_grafana_sidecar(rendered) -> None:
    _, objects = rendered
    shipped: dict[str, str] = {}
    for config_map in of_kind(objects, "ConfigMap"):
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        shipped.update(config_map["data"])
    files = {p.name: p.read_text() for p in (REPO / "dashboards").glob("*.json")}
    assert shipped == files
    for text in shipped.values():
        assert json.loads(text)["uid"]


def test_every_pod_runs_settings_the_exporter_accepts(rendered, tmp_path) -> None:
    overlay, objects = rendered
    work = workload(objects)
    (container,) = work["spec"]["template"]["spec"]["containers"]
    replicas = work["spec"]["replicas"]
    shards = []
    for ordinal in range(replicas):
        # A Deployment's pods have random names; a StatefulSet's end in their ordinal.
        pod_name = f"{work['metadata']['name']}-{ordinal}"
        argv, env = pod_argv(container, pod_name, tmp_path)
        settings = config.load(argv, environ=env)
        assert settings.listen_port == 9879
        shards.append(settings.shard)
    if overlay == "shards":
        assert work["kind"] == "StatefulSet"
        assert shards == [(k, replicas) for k in range(1, replicas + 1)]
    else:
        assert work["kind"] == "Deployment" and shards == [(1, 1)]


def test_the_statefulset_pod_is_the_deployments_but_for_the_shard() -> None:
    deployment = workload(render(OVERLAYS["base"]))
    statefulset = workload(render(OVERLAYS["shards"]))
    sharded = copy.deepcopy(statefulset["spec"]["template"])
    (container,) = sharded["spec"]["containers"]
    del container["command"]
    container["env"] = [e for e in container["env"] if e["name"] != "SHARDS"]
    assert sharded == deployment["spec"]["template"]
    shards = {e["name"]: e["value"] for e in statefulset["spec"]["template"]["spec"][
        "containers"][0]["env"]}["SHARDS"]
    assert int(shards) == statefulset["spec"]["replicas"]


def test_the_overlay_shown_in_operations_md_works(tmp_path) -> None:
    """The kustomization an operator copies from docs/operations.md: namespace, the label
    prometheus-operator selects on, and their own clouds.yaml replacing the placeholder."""
    docs = (REPO / "docs" / "operations.md").read_text()
    match = re.search(r"```yaml\n(# kustomization.yaml\n.*?)```", docs, re.S)
    assert match, "docs/operations.md lost its example kustomization"
    overlay = yaml.safe_load(match.group(1))
    base = os.path.relpath(OVERLAYS["base"], tmp_path)  # kustomize takes no absolute roots
    overlay["resources"] = [base if "deploy/kubernetes/base" in r else r
                            for r in overlay["resources"]]
    assert overlay["resources"] == [base]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  openstack:\n    auth:\n      auth_url: https://keystone.test:5000/v3\n")
    objects = render(tmp_path)
    assert {o["metadata"].get("namespace") for o in objects} == {overlay["namespace"]}
    (label,) = overlay["labels"][0]["pairs"].items()
    for kind in ("ServiceMonitor", "PrometheusRule"):
        (obj,) = of_kind(objects, kind)
        assert obj["metadata"]["labels"][label[0]] == label[1]
    (secret,) = of_kind(objects, "Secret")
    clouds = yaml.safe_load(base64.b64decode(secret["data"]["clouds.yaml"]))
    assert clouds["clouds"]["openstack"]["auth"]["auth_url"] == "https://keystone.test:5000/v3"
    pod = workload(objects)["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "clouds"]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    # The added label reaches no selector: Prometheus is still the only one let in.
    (policy,) = of_kind(objects, "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "prometheus"}
    for obj in objects:
        if not obj["apiVersion"].startswith("monitoring.coreos.com/"):
            kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)
