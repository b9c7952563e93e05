"""L7 policies and rules: what Octavia serves in bulk, and the per-policy rule lists it does not.

Octavia 19 lists every L7 policy in one paginated call (`GET /v2/lbaas/l7policies`), each with
its rules as an id list only (`L7PolicyResponse.rules` is `[IdOnlyType]`; the full form is used
only in the single-call create's answer). The status tree stops at pools
(`ListenerStatusResponse` has no l7policies), and there is no rule collection outside a policy
(`/v2/lbaas/l7policies/{id}/rules`). So rules cost one call per policy that has rules; this
module asks only when something can have changed (see `RuleReader.due`).

A rule's `value` can hold a cookie or header secret: it is left out of the request (`fields=`),
so it never even crosses the wire, and no object here has a place for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter.model.snapshot import L7Policy, L7Rule
from exporter.octavia import parse, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.octavia.failures import MALFORMED

POLICY_FIELDS = (
    "id", "name", "project_id", "listener_id", "provisioning_status", "operating_status",
    "admin_state_up", "action", "position", "redirect_pool_id", "redirect_url",
    "redirect_prefix", "updated_at", "rules",
)
# Never "value".
RULE_FIELDS = (
    "id", "project_id", "type", "compare_type", "key", "invert", "provisioning_status",
    "operating_status", "admin_state_up",
)
HEALTHY = (("ACTIVE", "ONLINE"),)


def policy(obj: Any) -> L7Policy:
    policy_id = parse.object_id(obj)
    return L7Policy(
        id=policy_id,
        name=parse.text(obj, "name"),
        project_id=parse.shared(obj, "project_id") or parse.shared(obj, "tenant_id"),
        listener_id=parse.text(obj, "listener_id"),
        provisioning_status=parse.status(obj, "provisioning_status"),
        operating_status=parse.status(obj, "operating_status"),
        admin_state_up=parse.flag(obj.get("admin_state_up")),
        action=parse.shared(obj, "action"),
        position=parse.integer(obj.get("position")),
        redirect_pool_id=parse.text(obj, "redirect_pool_id"),
        redirect_url=parse.text(obj, "redirect_url"),
        redirect_prefix=parse.text(obj, "redirect_prefix"),
        updated_at=parse.timestamp(obj.get("updated_at")),
        rule_ids=parse.ids(obj.get("rules")),
    )


def rule(obj: Any, owner: L7Policy) -> L7Rule:
    rule_id = parse.object_id(obj)
    return L7Rule(
        id=rule_id,
        l7policy_id=owner.id,
        listener_id=owner.listener_id,
        project_id=parse.shared(obj, "project_id") or owner.project_id,
        provisioning_status=parse.status(obj, "provisioning_status"),
        operating_status=parse.status(obj, "operating_status"),
        admin_state_up=parse.flag(obj.get("admin_state_up")),
        rule_type=parse.shared(obj, "type"),
        compare_type=parse.shared(obj, "compare_type"),
        key=parse.text(obj, "key"),
        invert=parse.flag(obj.get("invert"), False),
    )


async def list_policies(client: OctaviaClient, page_size: int | None,
                        on_malformed: source.Malformed) -> dict[str, L7Policy]:
    """Every L7 policy the credentials may see (raises ApiError when the list fails)."""
    found: dict[str, L7Policy] = {}
    path = "v2/lbaas/l7policies"
    url = await client.url("l7policies", path)

    def on_page(page: list[Any]) -> None:
        found.update((p.id, p) for p in source.each(page, policy, "l7policies", url,
                                                    on_malformed))

    await client.list_all("l7policies", path, "l7policies", POLICY_FIELDS, page_size,
                          on_page=on_page)
    return found


class RuleReader:
    """Reads the rules of the policies that are due, carrying the others over.

    A rule create, update or delete passes its policy through PENDING_UPDATE, which moves the
    policy's `updated_at` and its rule id list is in the bulk list: so an unchanged, ACTIVE
    policy whose rules were all ACTIVE/ONLINE last time is re-read only every
    `healthy_interval` seconds (0: every cycle).
    """

    def __init__(self, client: OctaviaClient, *, page_size: int | None = None,
                 healthy_interval: float = 0.0, concurrency: int = 16,
                 on_error: Callable[[ApiError], None] = lambda exc: None) -> None:
        self._client = client
        self._page_size = page_size
        self._healthy_interval = healthy_interval
        self._concurrency = max(1, concurrency)
        self._on_error = on_error
        self._fetched: dict[str, float] = {}
        # What the last read returned. The published snapshot can lag it (a read's result
        # waits for the next publish while the stream runs), and a policy that is not due is
        # carried over from here: from the snapshot, an unpublished read would be lost.
        self._last: dict[str, L7Rule] | None = None

    def _malformed(self, endpoint: str, problem: str, url: str) -> None:
        # A rule that cannot be parsed is a failed call of its policy's, counted as the others.
        self._on_error(ApiError(endpoint, MALFORMED, problem, url=url))

    def due(self, pol: L7Policy, before: L7Policy | None, old_rules: Iterable[L7Rule],
            now: float) -> bool:
        fetched = self._fetched.get(pol.id)
        if fetched is None or self._healthy_interval <= 0:
            return True
        if now - fetched >= self._healthy_interval:
            return True
        if before is None or before.updated_at != pol.updated_at or (
                set(before.rule_ids) != set(pol.rule_ids)):
            return True
        if pol.provisioning_status != "ACTIVE":
            return True
        return any((r.provisioning_status, r.operating_status) not in HEALTHY for r in old_rules)

    async def read(self, policies: Mapping[str, L7Policy],
                   previous_policies: Mapping[str, L7Policy],
                   previous_rules: Mapping[str, L7Rule], now: float) -> dict[str, L7Rule]:
        """The rules of `policies`: fresh for those due, the last known for the others and for
        those whose call failed (counted through `on_error`)."""
        if self._last is not None:
            previous_rules = {**previous_rules, **self._last}
        old_by_policy: dict[str, list[L7Rule]] = {}
        for r in previous_rules.values():
            old_by_policy.setdefault(r.l7policy_id, []).append(r)
        rules: dict[str, L7Rule] = {}
        queue: list[L7Policy] = []
        for pol in policies.values():
            if not pol.rule_ids:
                continue
            old = old_by_policy.get(pol.id, [])
            if self.due(pol, previous_policies.get(pol.id), old, now):
                queue.append(pol)
            else:
                rules.update((r.id, r) for r in old if r.id in pol.rule_ids)

        async def fetch(pol: L7Policy) -> None:
            path = f"v2/lbaas/l7policies/{pol.id}/rules"
            try:
                raw = await self._client.list_all("l7policies/{id}/rules", path, "rules",
                                                  RULE_FIELDS, self._page_size)
                url = await self._client.url("l7policies/{id}/rules", path)
            except ApiError as exc:
                self._on_error(exc)
                self._fetched.pop(pol.id, None)
                rules.update((r.id, r) for r in old_by_policy.get(pol.id, ())
                             if r.id in pol.rule_ids)
                return
            for fresh in source.each(raw, lambda item: rule(item, pol), "l7policies/{id}/rules",
                                     url, self._malformed):
                before = previous_rules.get(fresh.id)
                rules[fresh.id] = before if before == fresh else fresh
            self._fetched[pol.id] = now

        async def worker() -> None:
            while queue:
                await fetch(queue.pop())

        await asyncio.gather(*(worker() for _ in range(min(self._concurrency, len(queue)))))
        for policy_id in [k for k in self._fetched if k not in policies]:
            del self._fetched[policy_id]
        self._last = rules
        return rules
