"""The exporter against a real Keystone and a real Octavia API (see docs/real-openstack.md).

One Keystone, one Octavia and one fleet for the whole session; the OpenStack virtualenv is cached
under .cache/openstack-venv between runs. When that virtualenv cannot be built the tests are
skipped, unless CI is set: then they fail.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from exporter.cli import build_service
from exporter.config import Settings
from exporter.telemetry import Telemetry
from tests.integration import fleet as fleet_module
from tests.integration import harness, pipeline
from tests.support.exporter import Exporter, use_clouds_yaml
from tests.support.fixtures import log_buffer

__all__ = ["log_buffer"]

TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        shown = ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items())
        terminalreporter.write_line(f"real OpenStack (octavia 19.0.0, keystone 30.0.0): {shown}")


@pytest.fixture(scope="session")
def openstack_venv() -> harness.VenvInfo:
    try:
        venv = harness.ensure_venv()
    except harness.VenvUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {exc}", pytrace=False)
        pytest.skip(str(exc).splitlines()[0])
    TIMINGS["venv built" if venv.built else "venv reused"] = venv.seconds
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
        telemetry = Telemetry()
        service, exposition, clients = build_service(Settings(**values), telemetry)
        exporter = Exporter(service, exposition, clients, telemetry)
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
    try:
        pipeline.ensure_rabbitmq()
    except pipeline.PipelineUnavailable as exc:
        pytest.skip(str(exc))
    running = pipeline.start_pipeline(cloud, tmp_path_factory.mktemp("pipeline"))
    TIMINGS["pipeline up"] = running.timings["pipeline_up"]
    try:
        yield running
    finally:
        running.stop()
