"""Planning rules: which load balancers this exporter owns, what detail each needs, and when.

Pure functions of the snapshots and of when each part was last read, so every rule is tested
without I/O. Tier 1 (the bulk lists) is read every interval and says every object's status; the
rules here decide tier 2, the per-load-balancer detail:
  members   the status tree, for pools a listener uses (one call covers the load balancer);
            the pool's member list for pools no listener uses (absent from the tree) and for
            every pool with --member-details (weight, admin state and backup are only there);
  stats     one call per amphora, whose rows are the listeners' statistics (summed the way
            Octavia sums them), when the amphorae listed are provably all it has had (see
            stats_amphorae); else one call per listener (the load balancer's are their sum), or
            one load-balancer stats call with --no-listener-stats;
  amphorae  one stats call per amphora, with --amphora-stats.
Cadence: a part is due once per tier-1 cycle, or, with --healthy-tree-interval and
--stats-interval, when it is that old; a load balancer that needs attention (not ACTIVE/ONLINE,
changed, or with a member not ONLINE) always has its members due.
Order: load balancers needing attention or never read first, then those a notification named,
then the stalest.
Tier 1 itself starts every --interval, or every lists_period() when the lists are too slow for
that to leave the API room for anyone else.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from exporter.model.snapshot import Amphora, FleetSnapshot, Listener, LoadBalancer, Member, Pool

HEALTHY_MEMBER = frozenset({"ONLINE", "NO_MONITOR"})

# The amphorae of a load balancer's own creation are created within a second of it by the
# worker; a failover's replacement needs the old one booted and then a missed heartbeat (60 s
# by default), so it is later than this. A spare taken from the pool is older than the load
# balancer, at creation or at a failover alike, so it proves nothing. The replaced amphora
# leaves the list (DELETED amphorae are not listed) while its rows still count in the listener
# stats call: only amphorae inside this window are known to be all the rows there are.
REPLACED_AFTER = 60.0
# Clock skew between the API host that wrote the load balancer and the worker that wrote its
# amphorae.
CREATED_SKEW = 5.0

# The bulk lists may hold the API for at most this share of the time (--lists-share). On a
# one-worker Octavia with thousands of load balancers they take a large part of a 30-s interval
# (two thirds of it at 2,000, more than all of it at 5,000), and another client's request that
# lands on a list page waits several times its idle latency, whatever the page size; tier 2
# would starve too. About half of the other client's requests that meet a page end up over
# twice their idle p95, so the lists' share of the time, halved, is about their share of its
# slow requests. At 2,000 load balancers a twentieth, with the detail stream at 6 requests/s,
# left another client's p95 4.6 ms over the bound, a third of its slow requests behind
# list pages; 4 % (with 5 requests/s) leaves that room (docs/benchmarks.md, "The real Octavia API").
# Tier 1 then runs less often, and says so.
LISTS_SHARE = 0.04

# Priority classes, lowest first. CHANGED: what the changes feed just showed, in the order it
# showed it, ahead of a backlog of load balancers that need attention anyway.
CHANGED = -1
ATTENTION = 0
APPEARED = 1
NOTIFIED = 2
STALEST = 3


@dataclass(frozen=True, slots=True)
class Rules:
    shard: tuple[int, int] = (1, 1)
    member_details: bool = False
    listener_stats: bool = True
    amphora_stats: bool = False
    healthy_tree_interval: float = 0.0
    stats_interval: float = 0.0
    stats_via_amphorae: bool = True


def lists_period(interval: float, duration: float, share: float = LISTS_SHARE) -> float:
    """Seconds from the start of one tier-1 cycle to the next: --interval, stretched so that
    lists lasting `duration` hold the API at most `share` of the time."""
    return max(interval, duration / share)


def in_shard(loadbalancer_id: str, shard: tuple[int, int]) -> bool:
    """Stable across processes and restarts (unlike hash()), so N exporters split one cloud."""
    index, count = shard
    return count <= 1 or zlib.crc32(loadbalancer_id.encode()) % count == index - 1


def reads_tree(pool: Pool, rules: Rules) -> bool:
    """Whether this pool's members come from its load balancer's status tree. With
    --member-details every pool's member list is read instead (it has weight, admin state and
    backup, which the tree lacks); pools no listener uses are never in the tree."""
    return bool(pool.listener_ids and pool.member_ids) and not rules.member_details


def reads_member_list(pool: Pool, rules: Rules) -> bool:
    return bool(pool.member_ids) and not reads_tree(pool, rules)


@dataclass(frozen=True, slots=True)
class Parts:
    """One load balancer's children, as the last tier-1 lists showed them."""

    loadbalancer: LoadBalancer
    pools: tuple[Pool, ...] = ()
    listeners: tuple[Listener, ...] = ()
    amphorae: tuple[Amphora, ...] = ()
    # When the lists that gave these amphorae started (wall time).
    listed_at: float | None = None


def index(snapshot: FleetSnapshot) -> dict[str, Parts]:
    pools: dict[str, list[Pool]] = defaultdict(list)
    listeners: dict[str, list[Listener]] = defaultdict(list)
    amphorae: dict[str, list[Amphora]] = defaultdict(list)
    for pool in snapshot.pools.values():
        pools[pool.loadbalancer_id].append(pool)
    for lst in snapshot.listeners.values():
        listeners[lst.loadbalancer_id].append(lst)
    for amp in snapshot.amphorae.values():
        if amp.loadbalancer_id:
            amphorae[amp.loadbalancer_id].append(amp)
    return {lb_id: Parts(lb, tuple(pools.get(lb_id, ())), tuple(listeners.get(lb_id, ())),
                         tuple(amphorae.get(lb_id, ())), snapshot.taken_at)
            for lb_id, lb in snapshot.loadbalancers.items()}


def index_one(snapshot: FleetSnapshot, lb_id: str) -> Parts:
    """One load balancer's entry of index(), without indexing the whole fleet."""
    return Parts(snapshot.loadbalancers[lb_id],
                 tuple(p for p in snapshot.pools.values() if p.loadbalancer_id == lb_id),
                 tuple(x for x in snapshot.listeners.values() if x.loadbalancer_id == lb_id),
                 tuple(a for a in snapshot.amphorae.values() if a.loadbalancer_id == lb_id),
                 snapshot.taken_at)


def index_some(snapshot: FleetSnapshot, lb_ids: Iterable[str]) -> dict[str, Parts]:
    """index() for some load balancers only, in one pass over the fleet's children."""
    wanted = {k for k in lb_ids if k in snapshot.loadbalancers}
    pools: dict[str, list[Pool]] = defaultdict(list)
    listeners: dict[str, list[Listener]] = defaultdict(list)
    amphorae: dict[str, list[Amphora]] = defaultdict(list)
    if wanted:
        for pool in snapshot.pools.values():
            if pool.loadbalancer_id in wanted:
                pools[pool.loadbalancer_id].append(pool)
        for lst in snapshot.listeners.values():
            if lst.loadbalancer_id in wanted:
                listeners[lst.loadbalancer_id].append(lst)
        for amp in snapshot.amphorae.values():
            if amp.loadbalancer_id in wanted:
                amphorae[amp.loadbalancer_id].append(amp)
    return {lb_id: Parts(snapshot.loadbalancers[lb_id], tuple(pools.get(lb_id, ())),
                         tuple(listeners.get(lb_id, ())), tuple(amphorae.get(lb_id, ())),
                         snapshot.taken_at)
            for lb_id in wanted}


@dataclass(frozen=True, slots=True)
class Work:
    """The calls to make for one load balancer."""

    loadbalancer_id: str
    tree: bool = False
    member_pools: tuple[str, ...] = ()
    stats: bool = False
    amphorae: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.tree or self.member_pools or self.stats or self.amphorae)

    def union(self, other: Work) -> Work:
        return Work(self.loadbalancer_id, self.tree or other.tree,
                    tuple(dict.fromkeys(self.member_pools + other.member_pools)),
                    self.stats or other.stats,
                    tuple(dict.fromkeys(self.amphorae + other.amphorae)))


@dataclass(slots=True)
class ReadTimes:
    """When each part of one load balancer's detail was last read successfully (wall time)."""

    members: float | None = None
    stats: float | None = None
    amphorae: float | None = None


def stats_amphorae(parts: Parts, rules: Rules) -> tuple[str, ...]:
    """The amphorae whose statistics rows are all of this load balancer's listener statistics,
    decided when the reading starts, from the latest lists: every amphora listed for it, when
    each was created with it (so none replaced another, whose rows the listener call would still
    count) and the load balancer has not changed since those lists (a failover that ended since
    would have moved it), and when that is not more calls than one per listener. () when the
    listeners are asked one by one: no amphorae listed (other providers, no admin role)."""
    lb = parts.loadbalancer
    born = lb.created_at
    if not (rules.stats_via_amphorae and rules.listener_stats and parts.listeners
            and parts.amphorae) or born is None:
        return ()
    if len(parts.amphorae) > len(parts.listeners) or lb.provisioning_status != "ACTIVE":
        return ()
    changed = lb.updated_at if lb.updated_at is not None else born
    if parts.listed_at is None or changed > parts.listed_at:
        return ()
    if any(a.created_at is None or not born - CREATED_SKEW <= a.created_at <= born + REPLACED_AFTER
           for a in parts.amphorae):
        return ()
    return tuple(a.id for a in parts.amphorae)


def applicable(parts: Parts, rules: Rules) -> Work:
    """Everything tier 2 could read for this load balancer."""
    return Work(
        parts.loadbalancer.id,
        tree=any(reads_tree(p, rules) for p in parts.pools),
        member_pools=tuple(p.id for p in parts.pools if reads_member_list(p, rules)),
        stats=bool(parts.listeners),
        amphorae=tuple(a.id for a in parts.amphorae if a.status != "PENDING_DELETE")
        if rules.amphora_stats else (),
    )


def needs_attention(parts: Parts, before: Parts | None,
                    members: Iterable[Member]) -> bool:
    """Not ACTIVE/ONLINE, changed since the last lists, or a member was not healthy."""
    lb = parts.loadbalancer
    if lb.provisioning_status != "ACTIVE" or lb.operating_status != "ONLINE":
        return True
    if before is not None:
        old = before.loadbalancer
        if (old.provisioning_status, old.operating_status, old.updated_at) != (
                lb.provisioning_status, lb.operating_status, lb.updated_at):
            return True
        old_members = {p.id: set(p.member_ids) for p in before.pools}
        if any(old_members.get(p.id) != set(p.member_ids) for p in parts.pools):
            return True
    return any(m.operating_status not in HEALTHY_MEMBER for m in members)


def due(parts: Parts, read: ReadTimes | None, attention: bool, now: float,
        rules: Rules, full: Work | None = None) -> Work:
    """The parts to read now: each once per tier-1 cycle (this is called once per cycle),
    or only when older than its interval when one is set. `full`: applicable(parts, rules),
    when the caller has it already."""
    if full is None:
        full = applicable(parts, rules)
    if read is None:
        return full

    def older(when: float | None, interval: float) -> bool:
        return interval <= 0 or when is None or now - when >= interval

    members_due = attention or older(read.members, rules.healthy_tree_interval)
    return Work(parts.loadbalancer.id,
                tree=full.tree and members_due,
                member_pools=full.member_pools,
                stats=full.stats and older(read.stats, rules.stats_interval),
                amphorae=full.amphorae)


def priority(attention: bool, read: ReadTimes | None, notified: bool,
             last_read: float | None) -> tuple[int, float]:
    """Sort key: class first, then the oldest detail first."""
    if attention:
        return ATTENTION, last_read or 0.0
    if read is None:
        return APPEARED, 0.0
    if notified:
        return NOTIFIED, last_read or 0.0
    return STALEST, last_read or 0.0


def plan(parts: Mapping[str, Parts], before: Mapping[str, Parts],
         members_of: Mapping[str, list[Member]], read: Mapping[str, ReadTimes],
         detail_at: Mapping[str, float], notified: Iterable[str], now: float,
         rules: Rules, wanted: Mapping[str, Work] | None = None,
         ) -> list[tuple[tuple[int, float], Work]]:
    """What tier 2 should read after these lists, highest priority first. `wanted`: each load
    balancer's applicable() work, when the caller has it already."""
    named = set(notified)
    out: list[tuple[tuple[int, float], Work]] = []
    for lb_id, lb_parts in parts.items():
        attention = needs_attention(lb_parts, before.get(lb_id), members_of.get(lb_id, ()))
        times = read.get(lb_id)
        work = due(lb_parts, times, attention, now, rules,
                   wanted.get(lb_id) if wanted is not None else None)
        if work.empty:
            continue
        out.append((priority(attention, times, lb_id in named, detail_at.get(lb_id)), work))
    out.sort(key=lambda item: item[0])
    return out
