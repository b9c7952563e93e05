#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, then lint, types, the import
# contract and tests. Nothing is skipped: a tool still missing fails the tests that need it (the
# strict mode, tests/support/tools.py). The fast subset for day-to-day work: docs/development.md.
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
# openssl makes the amphora CA of Octavia's real pipeline (tests/integration).
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
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
        echo "error: missing ${need_apt[*]} and cannot apt-get install them (not root);" \
             "install them, or run the parts you need with pytest (docs/development.md)" >&2
        exit 1
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -e '.[test]'

# helm and kubectl (with its built-in kustomize) for tests/deploy, installed into
# .cache/kube-tools/bin when PATH lacks them (Debian has no current ones).
bash scripts/install-kube-tools.sh >/dev/null
export PATH="${OCTAVIA_EXPORTER_KUBE_TOOLS_CACHE:-$PWD/.cache/kube-tools}/bin:$PATH"

# Keystone and Octavia for the real-API tests (tests/integration), cached in
# .cache/openstack-venv once per pin set.
"$VENV/bin/python" -m tests.support.openstack

echo "== ruff"
"$VENV/bin/ruff" check exporter tests alerts dashboards
echo "== mypy --strict exporter"
"$VENV/bin/mypy" --strict exporter
echo "== lint-imports (the layer contract in pyproject.toml)"
"$VENV/bin/lint-imports"
echo "== pytest"
# The strict mode: a test that finds a tool missing fails instead of skipping.
export CI=true
exec "$VENV/bin/pytest" "$@"
