"""The simulated cloud as the tests use it: the fleet they start, and raw calls to its APIs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from exporter.simulator import FleetSpec

START = 1_790_000_000  # a fixed clock, so runs are comparable
PAGE_CAP = 5  # the pagination_max_limit of the exporter tests' simulator: 12 LBs are 3 pages

TokenFactory = Callable[..., Awaitable[str]]


def spec(**overrides: Any) -> FleetSpec:
    """Twelve load balancers from seed 7 at START, unless overridden."""
    values: dict[str, Any] = {"lbs": 12, "seed": 7, "start_time": START}
    values.update(overrides)
    return FleetSpec(**values)


def password_body(user: str, password: str, project: str | None) -> dict[str, Any]:
    """A Keystone v3 password authentication request, project-scoped unless `project` is None."""
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


async def get_json(http: aiohttp.ClientSession, url: str,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)
