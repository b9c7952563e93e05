"""The OpenStack virtualenv of the real-API tests (Keystone and Octavia from PyPI, pinned by
tests/integration/constraints.txt), cached under .cache/openstack-venv or
$OCTAVIA_EXPORTER_OPENSTACK_CACHE.

It is installed by the test command, never by a test: `python -m tests.support.openstack`
builds it when the cache has none for the current pins (scripts/test.sh runs that); the tests
take it from the cache.
"""

from __future__ import annotations

import sys
import time

from tests.integration import harness


def cached() -> harness.VenvInfo | None:
    """The complete virtualenv for the current pins, if the cache has one."""
    started = time.monotonic()
    target = harness.cache_root() / harness.venv_key()
    if not (target / ".complete").exists():
        return None
    return harness.VenvInfo(target, False, time.monotonic() - started)


def main() -> int:
    try:
        venv = harness.ensure_venv()
    except harness.VenvUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    what = f"built in {venv.seconds:.0f} s" if venv.built else "reused"
    print(f"OpenStack virtualenv {venv.path}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
