"""The changes feed's queries answered alike by the real Octavia and by the simulator.

The same `updated_at` on both sides (by position in the created order: NULLs, ties, then one
status written as the health manager writes it), then the reads the feed makes:
`sort=updated_at:desc` whole, in pages of 3 by the next links, from a marker inside a tie,
`page_reverse`, ascending, past a NULL marker, and a bad sort key or direction. Rows are
compared by their position, links by their query, errors by status and body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from exporter.simulator import Simulator
from exporter.simulator.model import ERROR
from tests.integration.fleet import db, stamp
from tests.integration.harness import Cloud
from tests.support.simulator import spec

# Offsets (seconds after a base an hour ago) by position in the created order; None: NULL.
PATTERN = (None, 3, 1, None, 3, 2, 1, None, 3, 9, None, 1, 4)
LBS = "v2/lbaas/loadbalancers"


class Side:
    """One Octavia: its base URL, an admin token, and its ids in the created order."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.headers = {"X-Auth-Token": token}
        self.ids: list[str] = []

    async def get(self, query: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.url}/{LBS}?{query}", headers=self.headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def positions(self, query: str) -> tuple[list[int], dict[str, dict[str, list[str]]]]:
        """A page's rows as positions, and its links' queries with markers as positions."""
        status, body = await self.get(query)
        assert status == 200, (self.url, query, body)
        rows = [self.ids.index(o["id"]) for o in body["loadbalancers"]]
        links = {}
        for link in body["loadbalancers_links"]:
            parsed = parse_qs(urlsplit(link["href"]).query)
            parsed["marker"] = [str(self.ids.index(m)) for m in parsed.get("marker", [])]
            links[link["rel"]] = parsed
        return rows, links

    def at(self, position: int) -> str:
        return self.ids[position]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def real_stamps(cloud: Cloud, fleet: Any) -> Iterator[list[tuple[str, Any, Any]]]:
    """The load balancers' updated_at and operating_status as they were: restored after."""
    with db(cloud.db_path) as conn:
        saved = [(r["id"], r["updated_at"], r["operating_status"]) for r in conn.execute(
            "SELECT id, updated_at, operating_status FROM load_balancer")]
    yield saved
    with db(cloud.db_path) as conn:
        conn.executemany("UPDATE load_balancer SET updated_at = ?, operating_status = ? "
                         "WHERE id = ?", [(u, o, i) for i, u, o in saved])


async def _real(http: aiohttp.ClientSession, cloud: Cloud) -> Side:
    side = Side(http, cloud.octavia_url, cloud.token())
    status, body = await side.get("limit=0")
    assert status == 200
    side.ids = [o["id"] for o in body["loadbalancers"]]
    assert len(side.ids) == len(PATTERN), "the integration fleet changed: adapt PATTERN"
    base = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(hours=1)
    with db(cloud.db_path) as conn:
        conn.executemany("UPDATE load_balancer SET updated_at = ? WHERE id = ?", [
            (None if off is None else stamp(base + timedelta(seconds=off)), lb_id)
            for lb_id, off in zip(side.ids, PATTERN, strict=True)])
    return side


async def _simulated_token(http: aiohttp.ClientSession, sim: Simulator) -> dict[str, str]:
    body = {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
    }}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


async def _simulated(http: aiohttp.ClientSession, sim: Simulator) -> Side:
    token = (await _simulated_token(http, sim))["X-Auth-Token"]
    side = Side(http, sim.octavia_url, token)
    side.ids = sim.fleet.index["loadbalancers"].ids()
    assert len(side.ids) == len(PATTERN)
    base = sim.fleet.clock - 3600
    for lb_id, off in zip(side.ids, PATTERN, strict=True):
        sim.fleet.loadbalancers[lb_id].updated_at = None if off is None else base + off
    return side


async def test_feed_queries_answer_alike(cloud: Cloud, fleet: Any, real_stamps: Any,
                                         http: aiohttp.ClientSession) -> None:
    sim = Simulator(spec(lbs=len(PATTERN), pending_share=0.0))
    await sim.start()
    try:
        real, simulated = await _real(http, cloud), await _simulated(http, sim)
        sides = (real, simulated)

        async def same(query: str, *markers: int) -> tuple[list[int], dict[str, Any]]:
            """Both sides' answer (rows and links, markers as positions), which must be equal;
            ``{0}`` in the query is the marker at position ``markers[0]``."""
            answers = [await side.positions(query.format(*(side.at(m) for m in markers)))
                       for side in sides]
            assert answers[0] == answers[1], (query, markers, answers)
            return answers[0]

        async def rows(query: str, *markers: int) -> list[int]:
            return (await same(query, *markers))[0]

        # the whole list: dated rows newest first (ties by created_at, id), NULLs last
        whole = await rows("sort=updated_at:desc&limit=0")
        assert [PATTERN[p] for p in whole] == [9, 4, 3, 3, 3, 2, 1, 1, 1, None, None, None,
                                               None]
        # pages of 3 by the next links, as the feed reads them; the last page ends the dated
        # rows: a NULL updated_at is never listed past a marker
        page, links = await same("sort=updated_at:desc&limit=3")
        pages = [page]
        while "next" in links:
            assert links["next"]["sort"] == ["updated_at:desc"]
            page, links = await same("sort=updated_at:desc&limit=3&marker={0}",
                                     int(links["next"]["marker"][0]))
            pages.append(page)
            assert not page or links["previous"]["page_reverse"] == ["True"]
        assert [p for page in pages for p in page] == whole[:9]
        assert [len(p) for p in pages] == [3, 3, 3, 0]
        # a marker inside the tie of three, and page_reverse before a later marker
        assert await rows("sort=updated_at:desc&limit=3&marker={0}", whole[2]) == whole[3:6]
        assert await rows("sort=updated_at:desc&limit=3&marker={0}&page_reverse=True",
                          whole[7]) == whole[:3]
        # ascending: NULLs first; past the last NULL marker, the dated rows in order
        nulls = await rows("sort=updated_at:asc&limit=4")
        assert [PATTERN[p] for p in nulls] == [None] * 4
        after = await rows("sort=updated_at:asc&limit=3&marker={0}", nulls[-1])
        assert [PATTERN[p] for p in after] == [1, 1, 1]
        # the feed's other read: the newest creations
        assert await rows("sort=created_at:desc&limit=3") == [12, 11, 10]

        # a status written as the health manager writes it: that row comes first
        with db(cloud.db_path) as conn:
            conn.execute("UPDATE load_balancer SET operating_status = 'ERROR', updated_at = ? "
                         "WHERE id = ?", (stamp(datetime.now(UTC)), real.at(whole[-1])))
        written = sim.fleet.loadbalancers[simulated.at(whole[-1])]
        written.operating_status = ERROR
        written.updated_at = sim.fleet.write_stamp()
        assert await rows("sort=updated_at:desc&limit=2") == [whole[-1], whole[0]]

        # errors: a sort key the model has not, a direction that is none, a limit
        for query in ("sort=colour:desc", "sort=updated_at:sideways", "limit=many"):
            answers = [await side.get(query) for side in sides]
            assert answers[0][0] == answers[1][0] == 400, answers
            assert answers[0][1] == answers[1][1], (query, answers)
    finally:
        await sim.stop()


async def test_past_a_null_marker_nothing_is_listed(cloud: Cloud, fleet: Any,
                                                    real_stamps: Any,
                                                    http: aiohttp.ClientSession) -> None:
    """Descending past a row whose updated_at is NULL: an empty page without links on both
    (the marker's NULL becomes '', which no date is below or equal to)."""
    sim = Simulator(spec(lbs=len(PATTERN), pending_share=0.0))
    await sim.start()
    try:
        real, simulated = await _real(http, cloud), await _simulated(http, sim)
        first_null = PATTERN.index(None)
        query = "sort=updated_at:desc&limit=3&marker={}"
        for side in (real, simulated):
            assert await side.get(query.format(side.at(first_null))) == (
                200, {"loadbalancers": [], "loadbalancers_links": []}), side.url
    finally:
        await sim.stop()


async def test_a_deleted_amphora_is_hidden_alike(cloud: Cloud, fleet: Any,
                                                  http: aiohttp.ClientSession) -> None:
    """A DELETED amphora stays in the table until housekeeping purges it, but the API reads
    amphorae with show_deleted=False: not in the list, not under its load balancer's
    `loadbalancer_id` filter, 404 by id. The feed relies on it (changes.py lists a load
    balancer's amphorae again after a failover)."""
    with db(cloud.db_path) as conn:
        deleted = conn.execute("SELECT id, load_balancer_id FROM amphora "
                               "WHERE status = 'DELETED'").fetchone()
    assert deleted is not None, "the integration fleet has a DELETED amphora"
    sim = Simulator(spec(lbs=2, pending_share=0.0))
    await sim.start()
    try:
        simulated = await _simulated_token(http, sim)
        sim_lb = next(iter(sim.fleet.loadbalancers.values()))
        sim_amp = sim.fleet.amphorae[sim_lb.amphora_ids[0]]
        sim_amp.status = "DELETED"
        sides = ((cloud.octavia_url.rstrip("/"), {"X-Auth-Token": cloud.token()},
                  deleted["id"], deleted["load_balancer_id"]),
                 (sim.octavia_url.rstrip("/"), simulated, sim_amp.id, sim_lb.id))
        for url, headers, amp_id, lb_id in sides:
            async with http.get(f"{url}/v2/octavia/amphorae", headers=headers) as resp:
                assert resp.status == 200
                listed = {a["id"] for a in (await resp.json())["amphorae"]}
            assert amp_id not in listed and listed, url
            async with http.get(f"{url}/v2/octavia/amphorae?loadbalancer_id={lb_id}",
                                headers=headers) as resp:
                assert resp.status == 200
                under = (await resp.json())["amphorae"]
            assert amp_id not in {a["id"] for a in under}, url
            assert all(a["loadbalancer_id"] == lb_id for a in under), url
            async with http.get(f"{url}/v2/octavia/amphorae/{amp_id}",
                                headers=headers) as resp:
                assert resp.status == 404, url
    finally:
        await sim.stop()
