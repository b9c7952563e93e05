"""Octavia's load-balancer quotas: two calls a cycle, whatever the number of projects.

`GET /v2/lbaas/quotas` lists the quota rows the credentials may see (an admin: every project
that ever created an object, since Octavia's quota check makes a row for it; a project reader:
its own). A row's limit is null where the project uses the configured default, and a project
without a row uses the defaults for everything: that is exactly how Octavia answers
`GET /v2/lbaas/quotas/{project_id}` (`_get_db_quotas` in octavia/api/v2/controllers/base.py), so
one `GET /v2/lbaas/quotas/{project_id}/default` completes every project and no per-project call
is needed. -1 means unlimited and is kept as -1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.octavia import parse, source
from exporter.octavia.client import OctaviaClient

# Our resource label -> the API's key, then its deprecated spelling (both are still served).
RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("loadbalancer", "loadbalancer", "load_balancer"),
    ("listener", "listener", "listener"),
    ("pool", "pool", "pool"),
    ("member", "member", "member"),
    ("healthmonitor", "healthmonitor", "health_monitor"),
    ("l7policy", "l7policy", "l7policy"),
    ("l7rule", "l7rule", "l7rule"),
)
UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class Quotas:
    # project id -> resource -> limit, defaults filled in
    limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    defaults: Mapping[str, int] = field(default_factory=dict)


def limits(obj: Mapping[str, Any], fallback: Mapping[str, int]) -> dict[str, int]:
    """One quota object's limits; a null or missing one is the fallback's (the default)."""
    found: dict[str, int] = {}
    for resource, key, old_key in RESOURCES:
        value = parse.integer(obj.get(key))
        if value is None:
            value = parse.integer(obj.get(old_key))
        if value is None:
            value = fallback.get(resource)
        if value is not None:
            found[resource] = max(value, UNLIMITED)
    return found


def default_limits(body: Any) -> dict[str, int]:
    if not isinstance(body, Mapping) or not isinstance(body.get("quota"), Mapping):
        raise parse.ParseError("response has no 'quota' object")
    return limits(body["quota"], {})


async def read(client: OctaviaClient, page_size: int | None,
               known_projects: Iterable[str]) -> Quotas:
    """The quota rows and the defaults. The defaults call needs a project the credentials may
    read: a row's, else one from the last fleet; with neither there is nothing to complete."""
    rows = await client.list_all("quotas", "v2/lbaas/quotas", "quotas", (), page_size)
    raw: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if isinstance(row, Mapping):
            project = parse.text(row, "project_id")
            if project:
                raw[project] = row
    probe = next(iter(sorted(raw)), None) or next(iter(sorted(set(known_projects))), None)
    defaults: dict[str, int] = {}
    if probe is not None:
        defaults = await source.get_one(client, "quotas/{project_id}/default",
                                        f"v2/lbaas/quotas/{probe}/default", default_limits)
    return Quotas({project: limits(row, defaults) for project, row in raw.items()}, defaults)
