"""One round of the changes feed over every list tier 1 follows, parsed into a Delta.

Load balancers, listeners, pools, health monitors and (where allowed) amphorae, each read with
feed.read from where the last round left it; load balancers also by `created_at`, since a
creation that nothing has updated yet leaves `updated_at` NULL. The pages go one at a time
(`pace`), so another client waits behind one small page at most. Floating IPs (Neutron) and the
inventory are left to the reconciliation lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from exporter.model.capabilities import Capabilities
from exporter.model.parts import Delta
from exporter.model.plan import in_shard
from exporter.model.snapshot import FleetSnapshot
from exporter.octavia import feed, parse, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.lists import (
    AMPHORA_FIELDS,
    HM_FIELDS,
    LB_FIELDS,
    LISTENER_FIELDS,
    POOL_FIELDS,
)
from exporter.octavia.pacing import Pacer

SOURCES = {
    "loadbalancers": feed.Source("loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers",
                                 LB_FIELDS),
    "listeners": feed.Source("listeners", "v2/lbaas/listeners", "listeners", LISTENER_FIELDS),
    "pools": feed.Source("pools", "v2/lbaas/pools", "pools", POOL_FIELDS),
    "healthmonitors": feed.Source("healthmonitors", "v2/lbaas/healthmonitors", "healthmonitors",
                                  HM_FIELDS),
    "amphorae": feed.Source("amphorae", "v2/octavia/amphorae", "amphorae", AMPHORA_FIELDS),
}
CREATED = "created"
# A round usually finds a few rows: small pages keep its first (often only) request short.
FEED_PAGE_SIZE = 50
# Load balancers whose amphorae one round lists again at most (about 30 ms each).
RELISTS_PER_ROUND = 10


class ChangeReader:
    def __init__(self, client: OctaviaClient, capabilities: Capabilities, *,
                 shard: tuple[int, int] = (1, 1), page_size: int = FEED_PAGE_SIZE,
                 on_malformed: source.Malformed = lambda endpoint, problem, url: None,
                 overlap: float = feed.OVERLAP,
                 clock: Callable[[], float] = time.time) -> None:
        self.cloud = client.cloud
        self._client = client
        self._capabilities = capabilities
        self._shard = shard
        self._page_size = page_size
        self._overlap = overlap
        self._clock = clock
        self._on_malformed = on_malformed
        self._pacer = Pacer(1.0)
        # Load balancers whose amphorae are to be listed again (_gone_amphorae).
        self._relist: set[str] = set()
        # The list being read, endpoint -> URL: what a round's timeout abandoned.
        self.unanswered: dict[str, str] = {}

    async def read(self, since: Mapping[str, float], snapshot: FleetSnapshot) -> Delta:
        """The rows written since `since` (per list, API time; a list absent from it is read
        one page deep). Raises feed.FeedUnusable, or ApiError for anything else."""
        found: dict[str, feed.Changes] = {}
        names = [*SOURCES, CREATED]
        if not self._capabilities.amphorae:
            names.remove("amphorae")
        for name in names:
            source = SOURCES["loadbalancers" if name == CREATED else name]
            self.unanswered = {source.endpoint: await self._client.url(source.endpoint,
                                                                        source.path)}
            found[name] = await feed.read(
                self._client, source, since.get(name), page_size=self._page_size,
                key="created_at" if name == CREATED else "updated_at",
                overlap=self._overlap, pace=self._pacer.page, now=self._clock())
        self.unanswered = {}
        url = {name: await self._client.url(SOURCES[name].endpoint, SOURCES[name].path)
               for name in SOURCES}
        lbs = self._parse("loadbalancers", url, [*found[CREATED].rows,
                                                 *found["loadbalancers"].rows],
                          parse.loadbalancer)
        lbs = {k: v for k, v in lbs.items() if in_shard(k, self._shard)}
        listeners = self._owned(self._parse("listeners", url, found["listeners"].rows,
                                            parse.listener))
        pools = self._owned(self._parse("pools", url, found["pools"].rows, parse.pool))
        known_pools = {**snapshot.pools, **pools}
        hms = self._owned(self._parse("healthmonitors", url, found["healthmonitors"].rows,
                                      lambda raw: parse.healthmonitor(raw, known_pools)))
        known_lbs = {**snapshot.loadbalancers, **lbs}
        amphorae = self._parse("amphorae", url, found["amphorae"].rows if "amphorae" in found
                               else [], lambda raw: parse.amphora(raw, known_lbs))
        amphorae = {k: a for k, a in amphorae.items()
                    if (in_shard(a.loadbalancer_id, self._shard) if a.loadbalancer_id
                        else self._shard[0] == 1)}
        # Octavia's lists hide DELETED amphorae (show_deleted=False); an API that shows one
        # (a policy, a proxy) says its load balancer may be gone.
        suspect = frozenset(a.loadbalancer_id for a in amphorae.values()
                            if a.status == "DELETED" and a.loadbalancer_id)
        deleted = {k for k, a in amphorae.items() if a.status == "DELETED"}
        amphorae = {k: a for k, a in amphorae.items() if k not in deleted}
        if "amphorae" in found:
            deleted |= await self._gone_amphorae(snapshot, lbs, amphorae)
        newest = {name: c.newest for name, c in found.items() if c.newest is not None}
        return Delta(loadbalancers=lbs, listeners=listeners, pools=pools, healthmonitors=hms,
                     amphorae=amphorae, newest=newest, suspect=suspect,
                     deleted_amphorae=frozenset(deleted),
                     complete=all(c.complete for c in found.values()),
                     requests=sum(max(1, c.pages) for c in found.values()))

    async def _gone_amphorae(self, snapshot: FleetSnapshot, lbs: Mapping[str, Any],
                             amphorae: Mapping[str, Any]) -> set[str]:
        """The snapshot's amphorae that are gone from load balancers where this round saw
        their amphorae change: a failover's new amphora, or the load balancer leaving
        PENDING_UPDATE (the failover's end, after the old amphora was marked DELETED). A
        DELETED amphora leaves the list without a trace, so the feed alone would keep it
        until a reconciliation; each such load balancer's amphorae are listed again by
        `loadbalancer_id` (one small request) instead."""
        owners = {a.loadbalancer_id for k, a in amphorae.items()
                  if a.loadbalancer_id and snapshot.amphorae.get(k) != a}
        owners.update(k for k, lb in lbs.items()
                      if (old := snapshot.loadbalancers.get(k)) is not None
                      and old.provisioning_status == "PENDING_UPDATE"
                      and lb.provisioning_status != "PENDING_UPDATE")
        # A round lists at most RELISTS_PER_ROUND load balancers' amphorae (a fleet-wide
        # update would otherwise hold the round past its timeout); the rest wait for the next.
        self._relist.update(owners)
        if not self._relist:
            return set()
        due = sorted(self._relist)[:RELISTS_PER_ROUND]
        self._relist.difference_update(due)
        held: dict[str, set[str]] = {lb_id: set() for lb_id in due}
        for k, a in snapshot.amphorae.items():
            if a.loadbalancer_id in held:
                held[a.loadbalancer_id].add(k)
        gone: set[str] = set()
        amps = SOURCES["amphorae"]
        self.unanswered = {amps.endpoint: await self._client.url(amps.endpoint, amps.path)}
        for lb_id in due:
            if not held[lb_id]:
                continue
            rows = await self._client.list_all(
                amps.endpoint, amps.path, amps.collection, ("id", "status"),
                self._page_size, query=(("loadbalancer_id", lb_id),), pace=self._pacer.page)
            listed = {row.get("id") for row in rows if parse.is_mapping(row)
                      and row.get("status") != "DELETED"}
            gone |= held[lb_id] - listed
        self.unanswered = {}
        return gone

    def _owned(self, objects: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in objects.items()
                if v.loadbalancer_id and in_shard(v.loadbalancer_id, self._shard)}

    def _parse(self, endpoint: str, url: Mapping[str, str], rows: list[Any],
               build: Callable[[Any], Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for obj in source.each(rows, build, endpoint, url[endpoint], self._on_malformed):
            out.setdefault(obj.id, obj)  # newest first: the first row of an id is its latest
        return out


