#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, then lint, types and tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${OCTAVIA_EXPORTER_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

# Real Prometheus, promtool and Alertmanager binaries for the rule and end-to-end tests.
need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
# The container image is built and run by tests/deploy with rootful podman (runc: crun fails on
# hybrid-cgroup hosts), from a Debian base made with mmdebstrap; the systemd unit is checked
# with systemd-analyze.
for tool in podman buildah mmdebstrap runc; do
    command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# Headless Chromium renders the overview page in tests/system/test_overview.py.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian packages: ${need_apt[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
        # The Debian package starts services on install where an init system runs; the tests
        # start their own on free loopback ports, so stop these if they came up.
        (systemctl stop prometheus prometheus-alertmanager prometheus-node-exporter rabbitmq-server) >/dev/null 2>&1 || true
    else
        echo "warning: missing ${need_apt[*]} and cannot apt-get install them (not root)" >&2
    fi
fi

# kubectl (with its built-in kustomize) renders deploy/kubernetes; Debian has no current one.
if ! command -v kubectl >/dev/null 2>&1; then
    echo "error: kubectl (>= 1.27, with kustomize built in) is needed for tests/deploy" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e '.[test]'

echo "== ruff"
"$VENV/bin/ruff" check exporter tests alerts dashboards
echo "== mypy --strict exporter"
"$VENV/bin/mypy" --strict exporter
echo "== pytest"
exec "$VENV/bin/pytest" "$@"
