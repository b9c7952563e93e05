"""A notification refresh reads a load balancer exactly as the tier-2 stream does, in every
mode: its subtree by id, its detail through the same readers (fetch.py)."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.model import plan
from exporter.octavia.refresh import read_subtree
from exporter.poll import assemble


@pytest.mark.parametrize("options", [{}, {"member_details": True}, {"listener_stats": False}],
                         ids=["default", "member-details", "no-listener-stats"])
async def test_refreshing_an_unchanged_load_balancer_changes_nothing(control, make_exporter,
                                                                     options) -> None:
    exporter = make_exporter(**options)
    await exporter.cycle()
    state = exporter.service.clouds[0]
    before = state.snapshot
    assert before is not None
    truth = await control.fleet()
    for lb in truth["loadbalancers"]:
        subtree = await read_subtree(state.fetcher.client, lb["id"])
        assert subtree is not None
        after = assemble.with_subtree(before, subtree)
        parts = plan.index_one(after, lb["id"])
        detail = await state.fetcher.read(parts, plan.applicable(parts, state.rules),
                                          lambda: 1.0)
        after = assemble.merge(after, [(detail, 1.0)])
        # Same members with the same fields (weight, admin state, backup with
        # --member-details), same stats source: nothing appears, vanishes or changes but the
        # time the detail was read.
        assert dataclasses.replace(after, detail_read_at=before.detail_read_at) == before, lb["id"]
        assert after.detail_read_at[lb["id"]] == 1.0
