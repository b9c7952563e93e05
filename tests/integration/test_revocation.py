"""The exporter's token is revoked in Keystone mid-run: it re-authenticates and carries on."""

from __future__ import annotations

import time

import requests

from tests.integration import checks, harness


def exporters_token(exporter) -> str:
    token: str | None = exporter.clients[0].tokens.current
    assert token
    return token


def wait_until_refused(cloud: harness.Cloud, token: str, timeout: float = 15.0) -> float:
    """Poll Octavia with `token` until keystonemiddleware's cache has let go of it (401)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = requests.get(f"{cloud.octavia_url}/v2/lbaas/loadbalancers?limit=1",
                                headers={"X-Auth-Token": token}, timeout=5)
        if response.status_code == 401:
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        time.sleep(0.2)
    raise AssertionError(f"Octavia still accepts the revoked token after {timeout} s")


async def test_revoked_token_is_replaced(make_exporter, cloud, truth) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    assert exporter.counter("octavia_authentications_total", cloud="os-admin",
                            result="success") == 1

    token = exporters_token(exporter)
    cloud.revoke(token)
    took = wait_until_refused(cloud, token)
    assert took <= harness.TOKEN_CACHE_SECONDS + 5  # the cache, plus slack for a busy machine

    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert exporter.counter("octavia_authentications_total", cloud="os-admin",
                            result="success") == 2
    assert exporter.counter("octavia_authentications_total", cloud="os-admin",
                            result="failure") == 0
    refused = sum(v for lab, v in metrics["octavia_api_requests_total"] if lab["code"] == "401")
    assert refused >= 1
    assert exporters_token(exporter) != token
    assert checks.mismatches(metrics, truth()) == []
