"""Project names from Keystone, read at most once per refresh period and cached.

`GET /v3/projects` answers an admin with every project; a project-scoped reader is refused (403)
and gets `GET /v3/auth/projects` instead: the projects its user may scope to, which covers every
load balancer it can see. Which of the two works is remembered, so after the first cycle the
exporter sends one Keystone call per refresh, never one per project. A failed call keeps the
names already known (counted on endpoint `keystone`); when both lists are refused, names are
switched off with one warning in the cloud's capability record, as amphorae are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from exporter.logs import cloud_logger
from exporter.model.capabilities import Capabilities
from exporter.octavia.errors import AuthFailed
from exporter.octavia.failures import MALFORMED, keystone_reason

ALL_PROJECTS = "projects"
MY_PROJECTS = "auth/projects"
REFUSED = (403, 404)


class IdentityReader(Protocol):
    async def identity_get(self, path: str) -> Any: ...


def cycles_between(refresh_seconds: float, interval: float) -> int:
    """How many tier-1 cycles one refresh period spans (at least one)."""
    if interval <= 0:
        return 1
    return max(1, math.ceil(refresh_seconds / interval - 1e-9))


def parse_projects(body: Any) -> dict[str, str]:
    """id -> name from a Keystone project list; raises ValueError naming what is wrong."""
    if not isinstance(body, Mapping) or not isinstance(body.get("projects"), list):
        raise ValueError("response has no 'projects' list")
    names: dict[str, str] = {}
    for item in body["projects"]:
        if not isinstance(item, Mapping):
            raise ValueError("a project is not an object")
        pid, name = item.get("id"), item.get("name")
        if not isinstance(pid, str) or not pid or not isinstance(name, str):
            raise ValueError("a project has no string 'id' and 'name'")
        names[pid] = name
    return names


class ProjectNames:
    """One cloud's project names. `read` is called once per tier-1 cycle and never raises."""

    def __init__(self, cloud: str, identity: IdentityReader, capabilities: Capabilities, *,
                 every: int = 1,
                 on_error: Callable[[str, str, str], None] = lambda reason, url, detail: None,
                 ) -> None:
        self.cloud = cloud
        self._log = cloud_logger("exporter.projects", self.cloud)
        self._identity = identity
        self.capabilities = capabilities
        self._every = max(1, every)
        self._on_error = on_error
        self._names: dict[str, str] = {}
        self._path = ALL_PROJECTS
        self._due = 0  # cycles until the next refresh; 0: this one

    async def read(self) -> Mapping[str, str]:
        if not self.capabilities.project_names:
            return {}
        if self._due > 0:
            self._due -= 1
            return self._names
        # Counted from this attempt whatever its outcome: a Keystone that fails is not retried
        # every cycle.
        self._due = self._every - 1
        fresh = await self._fetch()
        if fresh is not None:
            self._names = fresh
        return self._names if self.capabilities.project_names else {}

    async def _fetch(self) -> dict[str, str] | None:
        try:
            body = await self._identity.identity_get(self._path)
        except AuthFailed as exc:
            if exc.authentication:
                # No token at all: tier 1 fails on the same and counts it, not twice; try again
                # next cycle, which costs Keystone nothing more than tier 1's own attempt.
                self._due = 0
                return None
            if exc.status not in REFUSED:
                self._failed(exc.reason, exc.url, str(exc))
                return None
            if self._path == ALL_PROJECTS:
                # A project-scoped token: its own projects are what it can see anyway.
                self._path = MY_PROJECTS
                return await self._fetch()
            self.capabilities.disable_project_names()
            self._log.warning("project_names_disabled", url=exc.url,
                              reason=f"Keystone answered {exc.status} to both GET /v3/projects and "
                              "GET /v3/auth/projects; octavia_project_info is off until restart")
            return None
        except Exception as exc:  # whatever breaks here must not fail tier 1
            reason = keystone_reason(exc)
            self._failed(reason, "", f"GET /v3/{self._path}: {type(exc).__name__}")
            return None
        try:
            return parse_projects(body)
        except ValueError as exc:
            self._failed(MALFORMED, "", f"GET /v3/{self._path}: {exc}")
            return None

    def _failed(self, reason: str, url: str, detail: str) -> None:
        self._on_error(reason, url, detail)
        self._log.warning("project_names_failed", reason=reason, url=url,
                          detail=detail)
