"""Fixtures: a simulator on 127.0.0.1 (free port), an aiohttp client, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from exporter.simulator import Simulator
from tests.support.simulator import TokenFactory, password_body, spec


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(spec())
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def get_token(sim: Simulator, http: aiohttp.ClientSession) -> TokenFactory:
    async def factory(user: str = "admin", password: str | None = None,
                      project: str | None = None) -> str:
        secret = password or f"{user}-secret"
        body = password_body(user, secret, project or user)
        async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
            assert resp.status == 201, await resp.text()
            return resp.headers["X-Subject-Token"]

    return factory


@pytest.fixture
async def admin(get_token: TokenFactory) -> dict[str, str]:
    return {"X-Auth-Token": await get_token("admin")}


@pytest.fixture
async def demo(get_token: TokenFactory) -> dict[str, str]:
    return {"X-Auth-Token": await get_token("demo")}

