"""A notification refresh reads a load balancer exactly as the poll cycle does, in every mode."""

from __future__ import annotations

import pytest

from exporter.refresh import refresh_loadbalancer


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
        after = await refresh_loadbalancer(state.poller, before, lb["id"])
        # Same members with the same fields (weight, admin state, backup with
        # --member-details), same stats source: nothing appears, vanishes or changes.
        assert after == before, lb["id"]
