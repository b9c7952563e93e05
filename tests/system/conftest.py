"""The exporter against the simulated cloud, both on 127.0.0.1, in one event loop."""

from __future__ import annotations

import gc
import io
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import logs
from exporter.cli import build_service
from exporter.config import Settings
from exporter.export.exposition import Exposition
from exporter.octavia.client import OctaviaClient
from exporter.runtime.service import Service
from exporter.simulator import FleetSpec, Simulator
from exporter.telemetry import Telemetry

START = 1_790_000_000
Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_exposition(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def one(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the single sample of `name` whose labels include `labels` (None: absent)."""
    hits = [v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) <= 1, (name, labels, hits)
    return hits[0] if hits else None


def status_of(samples: Samples, name: str, **labels: str) -> str | None:
    hits = [lab["status"] for lab, v in samples.get(name, [])
            if v == 1 and all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) <= 1, (name, labels, hits)
    return hits[0] if hits else None


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


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """Everything the exporter logs during the test, as JSON lines."""
    buffer = io.StringIO()
    logs.configure("debug", "json", stream=buffer)
    yield buffer
    logs.configure("info", "json")


def events(buffer: io.StringIO) -> list[dict[str, Any]]:
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


def spec(**overrides: Any) -> FleetSpec:
    values: dict[str, Any] = {"lbs": 12, "seed": 7, "start_time": START}
    values.update(overrides)
    return FleetSpec(**values)


@pytest.fixture
async def sim(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    simulator = Simulator(spec(), page_cap=5)
    await simulator.start()
    path = tmp_path / "clouds.yaml"
    simulator.write_clouds_yaml(str(path))
    use_clouds_yaml(monkeypatch, path)
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def control(sim: Simulator) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession() as http:
        yield Control(sim, http)


@pytest.fixture
async def make_exporter(sim: Simulator) -> AsyncIterator[Any]:
    made: list[Exporter] = []

    def factory(manage_gc: bool = False, **overrides: Any) -> Exporter:
        # No rate limit and no lists share: the budget and the share have tests of their own
        # (tests/unit/test_limiter.py, tests/system/test_tiers.py, tests/unit/test_scheduler.py);
        # here they would only make tests wait, or (lists of 50 ms against a twentieth of a
        # 1-s interval) move the interval the exposition reports.
        values: dict[str, Any] = {"clouds": ("simulator",), "request_timeout": 2.0,
                                  "retries": 1, "interval": 1.0, "cycle_timeout": 20.0,
                                  "api_max_rate": 0.0, "lists_share": 1.0}
        values.update(overrides)
        telemetry = Telemetry()
        service, exposition, clients = build_service(Settings(**values), telemetry,
                                                     manage_gc=manage_gc)
        exporter = Exporter(service, exposition, clients, telemetry)
        made.append(exporter)
        return exporter

    yield factory
    for exporter in made:
        await exporter.service.stop()
        await exporter.close()
    # A manage_gc exporter froze the heap and raised the GC threshold; the next test gets the
    # interpreter's defaults back.
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
