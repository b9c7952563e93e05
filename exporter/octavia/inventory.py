"""The bulk reads of issue 14, side by side: L7 policies, quotas, flavors, zones, providers,
and the project names Keystone lets us read (projects.py, cached across cycles).

`InventoryReader.read` is called once per tier-1 cycle, after the bulk lists are published
(`ListReader.inventory`, from the scheduler), and never raises: a failed list keeps what the
last good cycle knew (counted through `on_error`), and a list the credentials may not read
(403, or 404 where an older Octavia lacks the endpoint) is switched off with one warning in
the cloud's capability record, as amphorae are. The per-policy rule lists live in `l7` and
are read once the policies are in, at tier-2 priority.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from exporter.logs import cloud_logger
from exporter.model.capabilities import Capabilities
from exporter.model.parts import Inventory
from exporter.model.snapshot import FleetSnapshot, L7Policy
from exporter.octavia import l7, offerings, quotas, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.octavia.projects import ProjectNames

T = TypeVar("T")


REFUSED = (403, 404)
WHY = {
    "quotas": "reading quotas needs a load-balancer reader role (or quota admin)",
    "flavors": "listing flavors needs a load-balancer reader role",
    "availability_zones": "listing availability zones needs a load-balancer reader role",
    "providers": "listing providers needs a load-balancer reader role",
}


class InventoryReader:
    def __init__(self, client: OctaviaClient, capabilities: Capabilities, *,
                 page_size: int | None = None,
                 on_error: Callable[[ApiError], None] = lambda exc: None,
                 on_malformed: source.Malformed = lambda endpoint, problem, url: None,
                 names: ProjectNames | None = None) -> None:
        self.cloud = client.cloud
        self._log = cloud_logger("exporter.inventory", self.cloud)
        self._names = names
        self._client = client
        self._page_size = page_size
        self._on_error = on_error
        self._on_malformed = on_malformed
        self.capabilities = capabilities

    async def _guarded(self, name: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """The call's answer; None when it failed or is switched off (the caller then keeps
        the previous cycle's)."""
        if not getattr(self.capabilities, name):
            return None
        try:
            return await call()
        except ApiError as exc:
            if exc.status in REFUSED:
                self.capabilities.disable(name)
                self._log.warning(f"{name}_disabled",
                                  reason=f"the API answered {exc.status}: {WHY[name]}; "
                                  f"{name} metrics are off until restart")
            else:
                self._on_error(exc)
            return None

    async def _parsed(self, endpoint: str, path: str, raw: list[Any] | None,
                      build: Callable[[Any], T], key: Callable[[T], str]) -> dict[str, T] | None:
        if raw is None:
            return None
        url = await source.url_of(self._client, endpoint, path)
        return {key(obj): obj for obj in source.each(raw, build, endpoint, url,
                                                     self._on_malformed)}

    async def read(self, previous: FleetSnapshot | None) -> Inventory:
        known_projects = sorted({lb.project_id for lb in previous.loadbalancers.values()}
                                if previous else set())

        async def policies() -> dict[str, L7Policy] | None:
            try:
                return await l7.list_policies(self._client, self._page_size, self._on_malformed)
            except ApiError as exc:
                self._on_error(exc)
                return None

        async def names() -> Mapping[str, str]:
            return await self._names.read() if self._names is not None else {}

        page = self._page_size
        pols, quota, flavor_raw, zone_raw, provider_raw, project_names = await asyncio.gather(
            policies(),
            self._guarded("quotas", lambda: quotas.read(self._client, page, known_projects)),
            self._guarded("flavors", lambda: offerings.flavors(self._client, page)),
            self._guarded("availability_zones", lambda: offerings.zones(self._client, page)),
            self._guarded("providers", lambda: offerings.providers(self._client)),
            names(),
        )

        def kept(fresh: dict[str, Any] | None, before: Mapping[str, Any], on: bool
                 ) -> Mapping[str, Any]:
            if not on:
                return {}
            return fresh if fresh is not None else before

        prev = previous
        flavors = await self._parsed("flavors", "v2/lbaas/flavors", flavor_raw,
                                     offerings.flavor, lambda f: f.id)
        zones = await self._parsed("availabilityzones", "v2/lbaas/availabilityzones", zone_raw,
                                   offerings.zone, lambda z: z.name)
        providers = await self._parsed("providers", "v2/lbaas/providers", provider_raw,
                                       offerings.provider, lambda p: p.name)
        quotas_on = self.capabilities.quotas
        return Inventory(
            l7policies=pols if pols is not None else (prev.l7policies if prev else {}),
            flavors=kept(flavors, prev.flavors if prev else {}, self.capabilities.flavors),
            availability_zones=kept(zones, prev.availability_zones if prev else {},
                                    self.capabilities.availability_zones),
            providers=kept(providers, prev.providers if prev else {},
                           self.capabilities.providers),
            quota_limits=(quota.limits if quota is not None else
                          prev.quota_limits if prev and quotas_on else {}),
            quota_defaults=(quota.defaults if quota is not None else
                            prev.quota_defaults if prev and quotas_on else {}),
            project_names=project_names,
        )
