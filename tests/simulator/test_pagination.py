"""Pagination exactly as Octavia's PaginationHelper does it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from exporter.simulator import Simulator
from tests.support.simulator import get_json, spec


@pytest.fixture
async def capped() -> AsyncIterator[Simulator]:
    sim = Simulator(spec(lbs=12, pending_share=0.0), page_cap=5)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def _admin(sim: Simulator, http: aiohttp.ClientSession) -> dict[str, str]:
    body = {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
    }}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


def _links(body: dict[str, Any], collection: str) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in body[f"{collection}_links"]}


def _ordered_ids(sim: Simulator) -> list[str]:
    return sim.fleet.index["loadbalancers"].ids()


async def test_pages_of_5_5_2_following_next_links(capped: Simulator,
                                                   http: aiohttp.ClientSession) -> None:
    headers = await _admin(capped, http)
    url: str | None = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    sizes, seen = [], []
    while url:
        status, body = await get_json(http, url, headers)
        assert status == 200
        page = body["loadbalancers"]
        sizes.append(len(page))
        seen.extend(o["id"] for o in page)
        links = _links(body, "loadbalancers")
        if len(page) == 5:
            assert "next" in links
            query = parse_qs(urlsplit(links["next"]).query)
            assert query == {"limit": ["5"], "marker": [page[-1]["id"]]}
            assert links["next"].startswith(f"{capped.octavia_url}/v2/lbaas/loadbalancers?")
        else:
            assert "next" not in links
        if "marker" in url:
            assert "previous" in links
            query = parse_qs(urlsplit(links["previous"]).query)
            assert query == {"limit": ["5"], "marker": [page[0]["id"]],
                             "page_reverse": ["True"]}
        else:
            assert "previous" not in links
        url = links.get("next")
    assert sizes == [5, 5, 2]
    assert seen == _ordered_ids(capped)


async def test_final_empty_page_when_count_is_a_multiple(http: aiohttp.ClientSession) -> None:
    sim = Simulator(spec(lbs=10), page_cap=5)
    await sim.start()
    try:
        headers = await _admin(sim, http)
        url: str | None = f"{sim.octavia_url}/v2/lbaas/loadbalancers"
        sizes = []
        last: dict[str, Any] = {}
        while url:
            _, last = await get_json(http, url, headers)
            sizes.append(len(last["loadbalancers"]))
            url = _links(last, "loadbalancers").get("next")
        assert sizes == [5, 5, 0]
        assert last["loadbalancers_links"] == []
    finally:
        await sim.stop()


async def test_limit_marker_and_cap(capped: Simulator, http: aiohttp.ClientSession) -> None:
    headers = await _admin(capped, http)
    ids = _ordered_ids(capped)
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    _, body = await get_json(http, f"{base}?limit=3", headers)
    assert [o["id"] for o in body["loadbalancers"]] == ids[:3]
    _, body = await get_json(http, f"{base}?limit=3&marker={ids[2]}", headers)
    assert [o["id"] for o in body["loadbalancers"]] == ids[3:6]
    # above the cap: capped
    _, body = await get_json(http, f"{base}?limit=500", headers)
    assert len(body["loadbalancers"]) == 5
    # below 1: no limit at all (Octavia's "infinite"), and the next link says limit=None
    _, body = await get_json(http, f"{base}?limit=0", headers)
    assert len(body["loadbalancers"]) == 12
    assert "limit=None" in _links(body, "loadbalancers")["next"]
    # the last element as marker: an empty page
    _, body = await get_json(http, f"{base}?marker={ids[-1]}", headers)
    assert body == {"loadbalancers": [], "loadbalancers_links": []}


async def test_page_reverse_is_octavias(capped: Simulator, http: aiohttp.ClientSession) -> None:
    """page_reverse=True selects what lies before the marker but keeps the forward order and
    takes the first ``limit`` of them — from the start of the collection."""
    headers = await _admin(capped, http)
    ids = _ordered_ids(capped)
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    _, body = await get_json(http, f"{base}?limit=2&marker={ids[6]}&page_reverse=True", headers)
    assert [o["id"] for o in body["loadbalancers"]] == ids[:2]
    # only the exact spelling "True" counts
    _, body = await get_json(http, f"{base}?limit=2&marker={ids[6]}&page_reverse=true", headers)
    assert [o["id"] for o in body["loadbalancers"]] == ids[7:9]


async def test_sorting(capped: Simulator, http: aiohttp.ClientSession) -> None:
    headers = await _admin(capped, http)
    fleet = capped.fleet
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    by_name = sorted(fleet.loadbalancers.values(), key=lambda lb: (lb.name, lb.created_at, lb.id))
    _, body = await get_json(http, f"{base}?sort=name:desc&limit=100", headers)
    names = [o["name"] for o in body["loadbalancers"]]
    assert names == sorted(names, reverse=True)
    _, body = await get_json(http, f"{base}?sort_key=name&sort_dir=asc&limit=4", headers)
    assert [o["id"] for o in body["loadbalancers"]] == [lb.id for lb in by_name[:4]]
    marker = by_name[3].id
    _, body = await get_json(http, f"{base}?sort=name&limit=4&marker={marker}", headers)
    assert [o["id"] for o in body["loadbalancers"]] == [lb.id for lb in by_name[4:8]]
    assert "sort=name" in _links(body, "loadbalancers")["next"]


async def test_bad_queries(capped: Simulator, http: aiohttp.ClientSession) -> None:
    headers = await _admin(capped, http)
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    status, body = await get_json(http, f"{base}?marker=nope", headers)
    assert (status, body) == (400, {
        "faultcode": "Client", "faultstring": "Supplied pagination marker 'nope' is not valid.",
        "debuginfo": None})
    status, body = await get_json(http, f"{base}?sort=colour", headers)
    assert status == 400 and body["faultstring"] == "Supplied sort key 'colour' is not valid."
    # these two are raised in a pecan hook, outside WSME: Octavia's own JSON body
    status, body = await get_json(http, f"{base}?limit=many", headers)
    assert (status, body) == (400, {"code": 400, "title": "Bad Request", "description":
                                    "Supplied pagination limit 'many' is not valid."})
    status, body = await get_json(http, f"{base}?sort=name:up", headers)
    assert (status, body) == (400, {"code": 400, "title": "Bad Request", "description":
                                    "Supplied sort direction 'up' is not valid."})


async def test_members_paginate(capped: Simulator, http: aiohttp.ClientSession) -> None:
    headers = await _admin(capped, http)
    pool = max(capped.fleet.pools.values(), key=lambda p: len(p.member_ids))
    assert len(pool.member_ids) > 2
    url: str | None = f"{capped.octavia_url}/v2/lbaas/pools/{pool.id}/members?limit=2"
    seen: list[str] = []
    while url:
        _, body = await get_json(http, url, headers)
        seen.extend(m["id"] for m in body["members"])
        url = _links(body, "members").get("next")
    assert sorted(seen) == sorted(pool.member_ids)
    assert len(seen) == len(set(seen))


async def test_demo_paginates_its_own_project(capped: Simulator,
                                              http: aiohttp.ClientSession) -> None:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"id": "default"}, "password": "demo-secret"}}}}}
    async with http.post(f"{capped.auth_url}/auth/tokens", json=body) as resp:
        headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
    demo_project = capped.identity.project_id("demo")
    expected = [i for i in _ordered_ids(capped)
                if capped.fleet.loadbalancers[i].project_id == demo_project]
    url: str | None = f"{capped.octavia_url}/v2/lbaas/loadbalancers?limit=2"
    seen: list[str] = []
    while url:
        _, page = await get_json(http, url, headers)
        seen.extend(o["id"] for o in page["loadbalancers"])
        url = _links(page, "loadbalancers").get("next")
    assert seen == expected


# ----- the changes feed's queries: sort=updated_at with markers, NULLs -----------------------
def _stamp_updated(sim: Simulator) -> tuple[list[str], list[str]]:
    """updated_at on the 12 load balancers: four NULL (never updated), two ties of three.
    Returns the ids in sort=updated_at:desc order as Octavia's SQL has them: the dated rows
    (updated_at desc, then created_at asc, id asc), then the NULL ones (created_at, id)."""
    lbs = sorted(sim.fleet.loadbalancers.values(), key=lambda lb: (lb.created_at, lb.id))
    assert len(lbs) == 12
    base = 1_790_000_500
    stamps = [None, base + 3, base + 1, None, base + 3, base + 2, base + 1, None, base + 3,
              base + 9, None, base + 1]
    for lb, stamp in zip(lbs, stamps, strict=True):
        lb.updated_at = stamp
    dated = sorted((lb for lb in lbs if lb.updated_at is not None),
                   key=lambda lb: (-(lb.updated_at or 0), lb.created_at, lb.id))
    return [lb.id for lb in dated], [lb.id for lb in lbs if lb.updated_at is None]


async def test_updated_at_desc_pages_stop_before_nulls(capped: Simulator,
                                                       http: aiohttp.ClientSession) -> None:
    dated, nulls = _stamp_updated(capped)
    headers = await _admin(capped, http)
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers"
    # one page: the dated rows, newest first with the created_at/id tie-break, NULLs last
    _, body = await get_json(http, f"{base}?sort=updated_at:desc&limit=0", headers)
    assert [o["id"] for o in body["loadbalancers"]] == dated + nulls
    # pages of 3 by their next links: past a marker a NULL updated_at is never listed
    url: str | None = f"{base}?sort=updated_at:desc&limit=3"
    seen, sizes = [], []
    while url:
        _, body = await get_json(http, url, headers)
        sizes.append(len(body["loadbalancers"]))
        seen.extend(o["id"] for o in body["loadbalancers"])
        url = _links(body, "loadbalancers").get("next")
        if url:
            assert parse_qs(urlsplit(url).query) == {
                "limit": ["3"], "sort": ["updated_at:desc"], "marker": [seen[-1]]}
    assert seen == dated
    assert sizes == [3, 3, 2]


async def test_updated_at_marker_cut_and_reverse(capped: Simulator,
                                                 http: aiohttp.ClientSession) -> None:
    dated, nulls = _stamp_updated(capped)
    headers = await _admin(capped, http)
    base = f"{capped.octavia_url}/v2/lbaas/loadbalancers?limit=3"
    # a marker inside a tie: the rest of the tie (created_at, id), then older rows
    _, body = await get_json(http, f"{base}&sort=updated_at:desc&marker={dated[1]}", headers)
    assert [o["id"] for o in body["loadbalancers"]] == dated[2:5]
    # page_reverse: what lies before the marker, in forward order from the start
    _, body = await get_json(
        http, f"{base}&sort=updated_at:desc&marker={dated[5]}&page_reverse=True", headers)
    assert [o["id"] for o in body["loadbalancers"]] == dated[:3]
    # ascending: NULLs first; past a NULL marker every dated row (its '' is before all dates)
    _, body = await get_json(http, f"{base}&sort=updated_at:asc", headers)
    assert [o["id"] for o in body["loadbalancers"]] == nulls[:3]
    _, body = await get_json(http, f"{base}&sort=updated_at:asc&marker={nulls[-1]}", headers)
    assert [o["id"] for o in body["loadbalancers"]] == _asc(capped, dated)[:3]
    # descending past a NULL marker: nothing
    _, body = await get_json(http, f"{base}&sort=updated_at:desc&marker={nulls[0]}", headers)
    assert body == {"loadbalancers": [], "loadbalancers_links": []}


def _asc(sim: Simulator, ids: list[str]) -> list[str]:
    lbs = [sim.fleet.loadbalancers[i] for i in ids]
    return [lb.id for lb in sorted(lbs, key=lambda lb: (lb.updated_at or 0, lb.created_at,
                                                         lb.id))]
