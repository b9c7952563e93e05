"""l7.RuleReader: a policy that is not due keeps the rules the reader last returned, even when
that result has not reached the published snapshot yet (it waits for the next publish while
the detail stream runs)."""

from __future__ import annotations

from typing import Any, cast

from exporter.model.snapshot import L7Policy, L7Rule
from exporter.octavia.client import OctaviaClient
from exporter.octavia.l7 import RuleReader


class FakeRules:
    """Answers each policy's rule list; records which policies were asked."""

    def __init__(self, rules: dict[str, list[str]]) -> None:
        self.rules = rules
        self.asked: list[str] = []

    async def list_all(self, endpoint: str, path: str, key: str, fields: Any,
                       page_size: int | None) -> list[dict[str, Any]]:
        policy_id = path.split("/")[3]
        self.asked.append(policy_id)
        return [{"id": r, "project_id": "p", "type": "PATH", "compare_type": "STARTS_WITH",
                 "provisioning_status": "ACTIVE", "operating_status": "ONLINE",
                 "admin_state_up": True} for r in self.rules[policy_id]]

    async def url(self, endpoint: str, path: str) -> str:
        return f"http://127.0.0.1:1/{path}"


def policy(policy_id: str, rule_ids: tuple[str, ...], updated_at: float = 1.0) -> L7Policy:
    return L7Policy(id=policy_id, name="", project_id="p", listener_id="l",
                    provisioning_status="ACTIVE", operating_status="ONLINE",
                    admin_state_up=True, updated_at=updated_at, rule_ids=rule_ids)


async def test_a_policy_not_due_keeps_the_last_read_even_if_it_was_never_published() -> None:
    api = FakeRules({"a": ["a1"], "b": ["b1", "b2"]})
    reader = RuleReader(cast(OctaviaClient, api), healthy_interval=600.0)
    policies = {"a": policy("a", ("a1",)), "b": policy("b", ("b1", "b2"))}
    first = await reader.read(policies, {}, {}, now=0.0)
    assert set(first) == {"a1", "b1", "b2"}
    # Policy a changed; b did not. The snapshot still has no rules (nothing published yet).
    changed = {**policies, "a": policy("a", ("a1",), updated_at=2.0)}
    second = await reader.read(changed, policies, {}, now=10.0)
    assert sorted(api.asked) == ["a", "a", "b"]
    assert set(second) == {"a1", "b1", "b2"}
    assert second["b1"] is first["b1"]


async def test_a_rule_its_policy_dropped_is_not_carried_over() -> None:
    api = FakeRules({"a": ["a1", "a2"]})
    reader = RuleReader(cast(OctaviaClient, api), healthy_interval=600.0)
    before = {"a": policy("a", ("a1", "a2"))}
    await reader.read(before, {}, {}, now=0.0)
    api.rules["a"] = ["a1"]
    after = {"a": policy("a", ("a1",), updated_at=2.0)}
    rules = await reader.read(after, before, {}, now=1.0)
    assert set(rules) == {"a1"}
    assert all(isinstance(r, L7Rule) for r in rules.values())
