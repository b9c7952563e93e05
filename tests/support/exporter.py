"""The exporter built as the command line builds it, against the simulator, in the test's event
loop; the simulator's /_sim control API; the exporter's log lines."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exporter.config import Settings
from exporter.export.exposition import Exposition
from exporter.octavia.client import OctaviaClient
from exporter.runtime.process import build_service
from exporter.runtime.service import Service
from exporter.simulator import Simulator
from exporter.telemetry import Telemetry
from tests.support.exposition import Samples, parse_exposition
from tests.support.simulator import PAGE_CAP, spec

# No rate limit and no lists share: the budget and the share have tests of their own
# (tests/unit/test_limiter.py, tests/system/test_tiers.py, tests/unit/test_scheduler.py); here
# they would only make tests wait, or (lists of 50 ms against a twentieth of a 1-s interval)
# move the interval the exposition reports.
SIMULATOR_SETTINGS: dict[str, Any] = {
    "clouds": ("simulator",), "request_timeout": 2.0, "retries": 1, "interval": 1.0,
    "cycle_timeout": 20.0, "api_max_rate": 0.0, "lists_share": 1.0}


@dataclass
class Exporter:
    service: Service
    exposition: Exposition
    clients: list[OctaviaClient]
    telemetry: Telemetry
    cycles: list[bool] = field(default_factory=list)

    async def cycle(self) -> Samples:
        for state in self.service.clouds:
            self.cycles.append(await self.service.run_cycle(state))
        return self.metrics()

    def text(self) -> str:
        body, _ = self.exposition.body(openmetrics=False, compress=False)
        return body.decode()

    def metrics(self) -> Samples:
        return parse_exposition(self.text())

    def counter(self, name: str, **labels: str) -> float:
        return self.telemetry.registry.get_sample_value(name, labels) or 0.0

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def build_exporter(manage_gc: bool = False, **settings: Any) -> Exporter:
    """An exporter from these settings (the command line's own builder), not started."""
    telemetry = Telemetry()
    service, exposition, clients = build_service(Settings(**settings), telemetry,
                                                 manage_gc=manage_gc)
    return Exporter(service, exposition, clients, telemetry)


async def start_simulator(clouds_yaml: Path) -> Simulator:
    """The exporter tests' simulator (`spec()`, pages of PAGE_CAP), started on loopback, its
    clouds.yaml written to `clouds_yaml`."""
    simulator = Simulator(spec(), page_cap=PAGE_CAP)
    await simulator.start()
    simulator.write_clouds_yaml(str(clouds_yaml))
    return simulator


class Control:
    """The simulator's /_sim control API."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.http = http

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.sim.base_url + path, json=body) as response:
            assert response.status < 300, (method, path, response.status, await response.text())
            return await response.json() if response.content_type == "application/json" else None

    async def fleet(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/_sim/fleet")
        return result

    async def faults(self, *faults: dict[str, Any]) -> None:
        await self.call("PUT", "/_sim/faults", list(faults))

    async def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await self.call("GET", "/_sim/requests"))["requests"]
        return result


def events(buffer: io.StringIO) -> list[dict[str, Any]]:
    """The JSON log lines in `buffer`, parsed."""
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def failed_cycle(buffer: io.StringIO) -> dict[str, Any]:
    """The one poll_cycle_failed line of a cycle whose bulk lists failed: it names whichever
    list failed first, so only that it is one of the four is fixed."""
    failed = [e for e in events(buffer) if e["event"] == "poll_cycle_failed"]
    assert len(failed) == 1, failed
    assert failed[0]["endpoint"] in ("loadbalancers", "listeners", "pools", "healthmonitors"), \
        failed
    return failed[0]


def use_clouds_yaml(monkeypatch: pytest.MonkeyPatch, path: Any) -> None:
    """Point openstacksdk's loader at `path` and at nothing else: no stray OS_* variable of the
    machine running the tests may change which cloud is used."""
    for name in list(os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
