"""Faults: latency, errors, hangs, resets, malformed and truncated bodies, token revocation."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from exporter.simulator import Simulator
from tests.support.simulator import get_json


async def _set_faults(sim: Simulator, http: aiohttp.ClientSession,
                      faults: list[dict[str, Any]]) -> None:
    async with http.put(f"{sim.base_url}/_sim/faults", json=faults) as resp:
        assert resp.status == 200, await resp.text()


def _lbs(sim: Simulator) -> str:
    return f"{sim.octavia_url}/v2/lbaas/loadbalancers"


async def test_error_with_retry_after(sim: Simulator, http: aiohttp.ClientSession,
                                      admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "error", "status": 503, "retry_after": 2}])
    async with http.get(_lbs(sim), headers=admin) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "2"
        assert "503 Service Unavailable" in await resp.text()
    await _set_faults(sim, http, [{"kind": "error", "status": 500}])
    status, body = await get_json(http, _lbs(sim), admin)
    assert status == 500 and body["faultcode"] == "Server"
    async with http.delete(f"{sim.base_url}/_sim/faults") as resp:
        assert resp.status == 200
    assert (await get_json(http, _lbs(sim), admin))[0] == 200


async def test_endpoint_pattern_and_times(sim: Simulator, http: aiohttp.ClientSession,
                                          admin: dict[str, str]) -> None:
    lb_id = next(iter(sim.fleet.loadbalancers))
    await _set_faults(sim, http, [
        {"kind": "error", "endpoint": "loadbalancers/*/status", "status": 502, "times": 2},
    ])
    status_url = f"{_lbs(sim)}/{lb_id}/status"
    assert (await get_json(http, _lbs(sim), admin))[0] == 200
    async with http.get(status_url, headers=admin) as resp:
        assert resp.status == 502
    async with http.get(status_url, headers=admin) as resp:
        assert resp.status == 502
    assert (await get_json(http, status_url, admin))[0] == 200
    async with http.get(f"{sim.base_url}/_sim/faults") as resp:
        assert (await resp.json())["faults"][0]["hits"] == 2


async def test_rates_zero_one_and_seeded(sim: Simulator, http: aiohttp.ClientSession,
                                         admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "error", "rate": 0.0}])
    for _ in range(5):
        assert (await get_json(http, _lbs(sim), admin))[0] == 200
    await _set_faults(sim, http, [{"kind": "error", "rate": 0.5, "status": 500}])
    statuses = [(await get_json(http, f"{_lbs(sim)}?limit=1", admin))[0] for _ in range(40)]
    assert set(statuses) == {200, 500}


async def test_latency(sim: Simulator, http: aiohttp.ClientSession,
                       admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "latency", "latency_ms": 120, "jitter_ms": 30}])
    started = time.monotonic()
    assert (await get_json(http, _lbs(sim), admin))[0] == 200
    assert time.monotonic() - started >= 0.12


async def test_hang_until_client_gives_up_then_until_cleared(
        sim: Simulator, http: aiohttp.ClientSession, admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "hang"}])
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(_lbs(sim), headers=admin,
                            timeout=aiohttp.ClientTimeout(total=0.3)) as resp:
            await resp.read()
    # a second hanging request is released when the faults are cleared
    task = asyncio.create_task(get_json(http, _lbs(sim), admin))
    await asyncio.wait_for(sim.faults.wait_hanging(), 5)
    assert not task.done()
    async with http.delete(f"{sim.base_url}/_sim/faults") as resp:
        assert resp.status == 200
    status, _ = await asyncio.wait_for(task, 5)
    assert status == 200


async def test_connection_reset(sim: Simulator, http: aiohttp.ClientSession,
                                admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "reset"}])
    with pytest.raises(aiohttp.ClientError):
        async with http.get(_lbs(sim), headers=admin) as resp:
            await resp.read()
    await _set_faults(sim, http, [])
    assert (await get_json(http, _lbs(sim), admin))[0] == 200
    async with http.get(f"{sim.base_url}/_sim/requests") as resp:
        counts = (await resp.json())["requests"]
    assert any(c["status"] == 0 and c["endpoint"] == "/v2/lbaas/loadbalancers" for c in counts)


async def test_malformed_and_truncated(sim: Simulator, http: aiohttp.ClientSession,
                                       admin: dict[str, str]) -> None:
    async with http.get(_lbs(sim), headers=admin) as resp:
        whole = await resp.read()
    await _set_faults(sim, http, [{"kind": "malformed"}])
    async with http.get(_lbs(sim), headers=admin) as resp:
        assert resp.status == 200
        with pytest.raises(ValueError):
            json.loads(await resp.read())
    await _set_faults(sim, http, [{"kind": "truncate"}])
    async with http.get(_lbs(sim), headers=admin) as resp:
        assert resp.status == 200
        cut = await resp.read()
    assert cut == whole[: len(whole) // 2]
    with pytest.raises(ValueError):
        json.loads(cut)


async def test_bad_objects_keep_json_and_links(sim: Simulator, http: aiohttp.ClientSession,
                                               admin: dict[str, str]) -> None:
    _, whole = await get_json(http, _lbs(sim), admin)
    await _set_faults(sim, http, [{"kind": "bad_objects", "endpoint": "loadbalancers"},
                                  {"kind": "bad_objects", "endpoint": "loadbalancers/*/stats"}])
    _, bad = await get_json(http, _lbs(sim), admin)
    assert bad["loadbalancers"] == [*whole["loadbalancers"], "oops", {"name": "no id"}]
    assert bad["loadbalancers_links"] == whole["loadbalancers_links"]
    lb = whole["loadbalancers"][0]["id"]
    assert (await get_json(http, f"{_lbs(sim)}/{lb}/stats", admin))[1] == {"stats": "oops"}


async def test_revoke_tokens_fault(sim: Simulator, http: aiohttp.ClientSession,
                                   admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "revoke_tokens", "times": 1}])
    assert (await get_json(http, _lbs(sim), admin))[0] == 401
    assert sim.identity.tokens == {}


async def test_keystone_faults(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await _set_faults(sim, http, [{"kind": "error", "service": "keystone",
                                   "endpoint": "*/auth/tokens", "status": 503}])
    async with http.post(f"{sim.auth_url}/auth/tokens", json={}) as resp:
        assert resp.status == 503
    async with http.get(sim.auth_url) as resp:
        assert resp.status == 200


async def test_invalid_fault_is_rejected(sim: Simulator, http: aiohttp.ClientSession) -> None:
    for bad in ([{"kind": "explode"}], [{"kind": "error", "rate": 2}],
                [{"kind": "error", "colour": "red"}]):
        async with http.put(f"{sim.base_url}/_sim/faults", json=bad) as resp:
            assert resp.status == 400


async def test_request_counts(sim: Simulator, http: aiohttp.ClientSession,
                              admin: dict[str, str]) -> None:
    async with http.post(f"{sim.base_url}/_sim/requests/reset") as resp:
        assert resp.status == 200
    lb_id = next(iter(sim.fleet.loadbalancers))
    for _ in range(3):
        await get_json(http, f"{_lbs(sim)}/{lb_id}/status", admin)
    await get_json(http, f"{_lbs(sim)}/nope", admin)
    await get_json(http, _lbs(sim))
    async with http.get(f"{sim.base_url}/_sim/requests") as resp:
        body = await resp.json()
    rows = {(r["method"], r["endpoint"], r["status"]): r["count"] for r in body["requests"]}
    assert rows == {
        ("GET", "/v2/lbaas/loadbalancers/{id}/status", 200): 3,
        ("GET", "/v2/lbaas/loadbalancers/{id}", 404): 1,
        ("GET", "/v2/lbaas/loadbalancers", 401): 1,
    }
    assert body["total"] == 5
    assert all(r["service"] == "octavia" and r["region"] == "RegionOne"
               for r in body["requests"])


async def test_sort_refused_only_for_sorted_lists(sim: Simulator, http: aiohttp.ClientSession,
                                                  admin: dict[str, str]) -> None:
    await _set_faults(sim, http, [{"kind": "sort_refused", "endpoint": "loadbalancers"}])
    status, body = await get_json(http, f"{_lbs(sim)}?sort=updated_at:desc&limit=5", admin)
    assert (status, body) == (400, {"faultcode": "Client", "debuginfo": None,
                                    "faultstring": "Supplied sort key 'updated_at' is not valid."})
    # an unsorted list, and another kind's sorted one, are served
    assert (await get_json(http, f"{_lbs(sim)}?limit=5", admin))[0] == 200
    status, _ = await get_json(http, f"{sim.octavia_url}/v2/lbaas/pools?sort=updated_at:desc",
                               admin)
    assert status == 200
    async with http.get(f"{sim.base_url}/_sim/faults") as resp:
        assert (await resp.json())["faults"][0]["hits"] == 1


async def test_unordered_serves_the_table_order(sim: Simulator, http: aiohttp.ClientSession,
                                                admin: dict[str, str]) -> None:
    created = sim.fleet.index["loadbalancers"].ids()
    newest = sorted(sim.fleet.loadbalancers.values(),
                    key=lambda lb: (-(lb.updated_at or 0), lb.created_at, lb.id))
    assert [lb.id for lb in newest] != created  # the fault must make a difference
    await _set_faults(sim, http, [{"kind": "unordered"}])
    status, body = await get_json(http, f"{_lbs(sim)}?sort=updated_at:desc&limit=0", admin)
    assert status == 200
    assert [o["id"] for o in body["loadbalancers"]] == created
    # the marker still cuts on updated_at alone: what is older than it, in table order
    marker = newest[len(newest) // 3]
    assert marker.updated_at is not None
    older = [i for i in created if (sim.fleet.loadbalancers[i].updated_at or marker.updated_at)
             < marker.updated_at]
    assert older
    _, body = await get_json(
        http, f"{_lbs(sim)}?sort=updated_at:desc&limit=0&marker={marker.id}", admin)
    assert [o["id"] for o in body["loadbalancers"]] == older
    await _set_faults(sim, http, [])
    _, body = await get_json(http, f"{_lbs(sim)}?sort=updated_at:desc&limit=0", admin)
    assert [o["id"] for o in body["loadbalancers"]] == [lb.id for lb in newest]
