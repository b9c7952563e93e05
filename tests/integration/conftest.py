"""The exporter against a real Keystone and a real Octavia API (see docs/real-openstack.md).

One Keystone, one Octavia and one fleet for the whole session. The OpenStack virtualenv and
RabbitMQ are installed by the test command (scripts/test.sh), never here: without them the
tests skip, or fail under the strict mode (tests/support/tools.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.integration import fleet as fleet_module
from tests.integration import harness, pipeline
from tests.support import openstack
from tests.support.exporter import Exporter, build_exporter, use_clouds_yaml
from tests.support.fixtures import log_buffer
from tests.support.tools import require_binary, unavailable
from tests.system.rabbit import require_rabbitmq

__all__ = ["log_buffer"]

TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items())
        terminalreporter.write_line(f"real OpenStack (octavia 19.0.0, keystone 30.0.0): {shown}")


@pytest.fixture(scope="session")
def openstack_venv() -> harness.VenvInfo:
    venv = openstack.cached()
    if venv is None:
        unavailable(f"no OpenStack virtualenv in {harness.cache_root()} for the current pins "
                    "(python -m tests.support.openstack builds it; scripts/test.sh runs that)")
    TIMINGS["venv reused"] = venv.seconds
    return venv


@pytest.fixture(scope="session")
def cloud(openstack_venv: harness.VenvInfo,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cloud]:
    with harness.running_cloud(openstack_venv, tmp_path_factory.mktemp("openstack")) as running:
        TIMINGS["bring-up"] = running.timings["bring_up"]
        yield running


@pytest.fixture(scope="session")
def fleet(cloud: harness.Cloud) -> fleet_module.Fleet:
    created = fleet_module.create(cloud)
    fleet_module.apply_states(cloud, created)
    return created


@pytest.fixture
def clouds_yaml(cloud: harness.Cloud, monkeypatch: pytest.MonkeyPatch) -> harness.Cloud:
    """Point openstacksdk's config loader at our clouds.yaml, and at nothing else."""
    use_clouds_yaml(monkeypatch, cloud.clouds_yaml)
    return cloud


@pytest.fixture
async def make_exporter(clouds_yaml: harness.Cloud,
                        fleet: fleet_module.Fleet) -> AsyncIterator[Any]:
    made: list[Exporter] = []

    def factory(cloud_name: str = "os-admin", **overrides: Any) -> Exporter:
        values: dict[str, Any] = {"clouds": (cloud_name,), "request_timeout": 10.0,
                                  "retries": 1, "interval": 1.0, "cycle_timeout": 60.0}
        values.update(overrides)
        exporter = build_exporter(**values)
        made.append(exporter)
        return exporter

    yield factory
    for exporter in made:
        await exporter.service.stop()
        await exporter.close()


@pytest.fixture
def truth(cloud: harness.Cloud, fleet: fleet_module.Fleet) -> Any:
    """Read the truth from Octavia's database (call it: it changes when a test changes the DB)."""
    return lambda: fleet_module.read_truth(cloud.db_path)


@pytest.fixture(scope="session")
def full_pipeline(cloud: harness.Cloud,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[pipeline.Pipeline]:
    require_rabbitmq()
    require_binary("openssl", install="apt-get install openssl")  # the amphora CA
    running = pipeline.start_pipeline(cloud, tmp_path_factory.mktemp("pipeline"))
    TIMINGS["pipeline up"] = running.timings["pipeline_up"]
    try:
        yield running
    finally:
        running.stop()
