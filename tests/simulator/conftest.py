"""Fixtures: a simulator on 127.0.0.1 (free port), an aiohttp client, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from exporter.simulator import FleetSpec, Simulator

START = 1_790_000_000  # a fixed clock, so runs are comparable

TokenFactory = Callable[..., Awaitable[str]]


def password_body(user: str, password: str, project: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"name": "Default"}, "password": password}
                },
            }
        }
    }
    if project is not None:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return body


def small_spec(**overrides: Any) -> FleetSpec:
    values: dict[str, Any] = {"lbs": 12, "seed": 7, "start_time": START}
    values.update(overrides)
    return FleetSpec(**values)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(small_spec())
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


async def get_json(http: aiohttp.ClientSession, url: str,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)
