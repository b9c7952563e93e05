"""The load-balancer dashboard's "Members" table end to end.

Target A lists the members (from the status series every exporter exports); targets B, C and D
add weight, admin state and backup, which only exporter B (`--member-details`, see conftest.py)
exports for members of pools a listener uses. Grafana merges B-D onto A's rows by cloud, pool and
member, so A alone must list every member, and B-D must agree with the simulator.
"""

from __future__ import annotations

import pytest

from tests.e2e.harness import wait_until
from tests.support.e2e import LB_BOARD, Stack
from tests.support.e2e import expression as _expression

TITLE = "Members"
DETAILS = {"B": "weight", "C": "admin_state_up", "D": "backup"}  # target -> simulator field


def _by_member(stack: Stack, role: str, ref: str, expected: int) -> dict[str, dict[str, str]]:
    """Target `ref` of the Members table for the role's load balancer: member_id -> series,
    polled until it has `expected` members."""
    tree = stack.scenario.trees[role]
    expr = _expression(f"{LB_BOARD}: panel {TITLE!r} target {ref}",
                       loadbalancer=tree.loadbalancer, cloud="simulator")

    def probe() -> dict[str, dict[str, str]] | None:
        found = {s["metric"]["member_id"]: s for s in stack.prom.query(expr)}
        return found if len(found) >= expected else None

    return wait_until(probe, f"{expected} members in {expr}", 15.0,
                      on_timeout=stack.diagnostics)


@pytest.mark.parametrize("role", ["member_error", "pool_down", "traffic"])
def test_members_table_lists_every_member(stack: Stack, role: str) -> None:
    tree = stack.scenario.trees[role]
    rows = _by_member(stack, role, "A", len(tree.members))
    assert sorted(rows) == sorted(tree.members)
    for member_id, series in rows.items():
        member = stack.scenario.call("GET", f"members/{member_id}")
        labels = series["metric"]
        assert labels["pool_id"] == tree.pools[0], labels
        assert labels["address"] == member["address"], (labels, member)
        assert labels["protocol_port"] == str(member["protocol_port"]), (labels, member)
        assert labels["status"] == member["operating_status"], (labels, member)


@pytest.mark.parametrize("role", ["member_error", "pool_down", "traffic"])
@pytest.mark.parametrize(("ref", "field"), DETAILS.items())
def test_members_table_details_match_the_simulator(
        stack: Stack, role: str, ref: str, field: str) -> None:
    tree = stack.scenario.trees[role]
    details = _by_member(stack, role, ref, len(tree.members))
    assert sorted(details) == sorted(tree.members)
    # The columns are keyed like target A's rows, so Grafana's merge finds them.
    rows = _by_member(stack, role, "A", len(tree.members))
    for member_id, series in details.items():
        assert set(series["metric"]) == {"cloud", "pool_id", "member_id"}, series
        assert series["metric"]["pool_id"] == rows[member_id]["metric"]["pool_id"]
        member = stack.scenario.call("GET", f"members/{member_id}")
        assert float(series["value"][1]) == float(member[field]), (field, series, member)


def test_weights_differ_between_members(stack: Stack) -> None:
    # So that the weight check above cannot pass by every member having the same default.
    tree = stack.scenario.trees["member_error"]
    weights = {stack.scenario.call("GET", f"members/{m}")["weight"] for m in tree.members}
    assert len(weights) > 1, weights
