"""Fixtures for the exporter against the simulator; a conftest.py imports the ones its tests
use (importing a fixture into a conftest registers it there)."""

from __future__ import annotations

import gc
import io
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exporter import logs
from exporter.simulator import Simulator
from tests.support.exporter import (
    SIMULATOR_SETTINGS,
    Control,
    Exporter,
    build_exporter,
    start_simulator,
    use_clouds_yaml,
)


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """Everything the exporter logs during the test, as JSON lines."""
    buffer = io.StringIO()
    logs.configure("debug", "json", stream=buffer)
    yield buffer
    logs.configure("info", "json")


@pytest.fixture
async def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Simulator]:
    """The simulator on loopback; openstacksdk reads its clouds.yaml (tmp_path/clouds.yaml)."""
    path = tmp_path / "clouds.yaml"
    simulator = await start_simulator(path)
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
async def make_exporter(sim: Simulator) -> AsyncIterator[Callable[..., Exporter]]:
    """Builds exporters against `sim` (SIMULATOR_SETTINGS, overridden by keyword); stops and
    closes them at the end of the test."""
    made: list[Exporter] = []

    def factory(manage_gc: bool = False, **overrides: Any) -> Exporter:
        exporter = build_exporter(manage_gc, **{**SIMULATOR_SETTINGS, **overrides})
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
