"""Contract: the simulator answers every call the exporter makes with Octavia's JSON shapes.

The same kind of fleet on both sides (13 load balancers over four projects, page cap 5, with
no-listener, unattached-pool, no-monitor, DEGRADED, ERROR and PENDING cases and a spare amphora);
every endpoint the exporter uses is asked on both, and the key sets and value types are compared
recursively (tests/integration/contract.py). Any difference fails, so the simulator cannot drift
from the real API unnoticed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from exporter.octavia import l7, offerings
from exporter.octavia import lists as poller
from exporter.simulator import FleetSpec, Simulator
from tests.integration import harness
from tests.integration.contract import Allowed, differences, shape_of

COLLECTIONS = (
    # path, key, the fields the exporter asks for
    ("v2/lbaas/loadbalancers", "loadbalancers", poller.LB_FIELDS),
    ("v2/lbaas/listeners", "listeners", poller.LISTENER_FIELDS),
    ("v2/lbaas/pools", "pools", poller.POOL_FIELDS),
    ("v2/lbaas/healthmonitors", "healthmonitors", poller.HM_FIELDS),
    ("v2/octavia/amphorae", "amphorae", poller.AMPHORA_FIELDS),
)

# Differences that are not drift: optional fields that one fleet may set and the other not. Each
# names the path and the only types allowed to differ there (null vs str). Everything else the
# real fleet leaves unset (TLS, monitor addresses…) is null on both sides today, and a simulator
# that starts setting it is flagged, since Octavia's type for it was never seen here.
NULL_OR_STR = frozenset({"null", "str"})
ALLOWED: tuple[Allowed, ...] = (
    Allowed("*.flavor_id", NULL_OR_STR, "the noop cloud has no flavors"),
    Allowed("*.availability_zone", NULL_OR_STR, "the noop cloud has no availability zones"),
    Allowed("*.vip_qos_policy_id", NULL_OR_STR, "the noop cloud has no QoS policies"),
    Allowed("*.updated_at", NULL_OR_STR, "null until an object is first changed: history"),
    Allowed("*.redirect_pool_id", NULL_OR_STR, "set on REDIRECT_TO_POOL policies only"),
    Allowed("*.redirect_prefix", NULL_OR_STR, "set on REDIRECT_PREFIX policies only"),
    Allowed("*.redirect_url", NULL_OR_STR, "set on REDIRECT_TO_URL policies only"),
    Allowed("*.redirect_http_code", frozenset({"null", "int"}), "set on redirects only"),
    Allowed("*.hsts_max_age", frozenset({"null", "int"}),
            "set on TERMINATED_HTTPS listeners only, of which the simulated fleet has none"),
    # A quota row's limit is null where the project uses the default: which ones are set
    # depends on the fleet.
    *(Allowed(f"$.{key}", frozenset({"null", "int"}), "null: the project uses the default")
      for key in ("loadbalancer", "load_balancer", "listener", "pool", "member",
                  "healthmonitor", "health_monitor", "l7policy", "l7rule")),
)

@dataclass
class Side:
    name: str
    octavia: str              # Octavia's root URL
    admin: str                # tokens
    member: str
    keystone: str = ""        # Keystone's v3 root

    def url(self, path: str) -> str:
        return f"{self.octavia}/{path.lstrip('/')}"


class Fetcher:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.gate = asyncio.Semaphore(4)

    async def get(self, url: str, token: str | None,
                  params: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        async with self.gate, self.http.get(url, params=params or [], headers=headers) as answer:
            body = await answer.read()
            try:
                return answer.status, await answer.json(content_type=None)
            except ValueError:
                return answer.status, body.decode(errors="replace")

    async def pages(self, side: Side, path: str, key: str,
                    params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every page of a collection, following the next links as the API writes them."""
        found: list[dict[str, Any]] = []
        url: str | None = side.url(path)
        query: list[tuple[str, str]] | None = params
        while url and len(found) < 50:
            status, body = await self.get(url, side.admin, query)
            assert status == 200, (side.name, url, status, body)
            found.append(body)
            links = {link["rel"]: link["href"] for link in body.get(f"{key}_links", [])}
            # Octavia's links drop fields= (docs/simulator.md); keep asking for the same fields.
            url, query = links.get("next"), None
            if url and params and "fields=" not in url:
                query = [p for p in params if p[0] == "fields"]
            if not body[key]:
                break
        return found


async def sim_token(fetcher: Fetcher, sim: Simulator, user: str, password: str,
                    project: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    async with fetcher.http.post(f"{sim.auth_url}/auth/tokens", json=body) as answer:
        assert answer.status == 201, await answer.text()
        return answer.headers["X-Subject-Token"]


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(FleetSpec(lbs=13, seed=7, projects=4, spare_amphorae=1),
                    page_cap=harness.PAGE_CAP)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def collect(fetcher: Fetcher, side: Side) -> dict[str, Any]:
    """What each endpoint answered on one side: endpoint → list of bodies (to merge) or pages."""
    out: dict[str, Any] = {}
    lists: dict[str, list[dict[str, Any]]] = {}
    for path, key, fields in COLLECTIONS:
        full = await fetcher.pages(side, path, key, [])
        lists[key] = [item for page in full for item in page[key]]
        assert len(full) >= 3, (side.name, key, len(lists[key]))
        # Objects: merged over the whole collection. Pages: their own keys, items left out.
        out[f"{key} (all fields)"] = lists[key]
        out[f"{key} pages"] = [{k: ([] if k == key else v) for k, v in page.items()}
                               for page in full]
        # Which links a page carries: the first (next), the second (next and previous), the
        # page after the last object (none: Octavia writes links only for a non-empty page).
        rels = [sorted(link["rel"] for link in page[f"{key}_links"]) for page in full]
        out[f"{key} links, first page"] = rels[0]
        out[f"{key} links, second page"] = rels[1]
        if 0 < len(full[-1][key]) < harness.PAGE_CAP:
            out[f"{key} links, short last page"] = rels[-1]
        status, after = await fetcher.get(side.url(path), side.admin,
                                          [("marker", lists[key][-1]["id"])])
        out[f"{key} after the last object"] = [after]
        out[f"{key} after the last object status"] = status
        out[f"{key} after the last object count"] = len(after[key])
        out[f"{key} links, after the last object"] = sorted(
            link["rel"] for link in after[f"{key}_links"])
        selected = await fetcher.pages(side, path, key, [("fields", f) for f in fields])
        out[f"{key} (exporter's fields=)"] = [item for page in selected for item in page[key]]

    async def each(template: str, ids: list[str], token: str) -> list[Any]:
        answers = await asyncio.gather(*(fetcher.get(side.url(template.format(id=i)), token)
                                         for i in ids))
        refused = [(i, status, body) for i, (status, body) in zip(ids, answers, strict=True)
                   if status != 200]
        assert not refused, (side.name, template, refused)
        return [body for _, body in answers]

    lb_ids = [lb["id"] for lb in lists["loadbalancers"]]
    out["loadbalancers/{id}/status"] = await each("v2/lbaas/loadbalancers/{id}/status", lb_ids,
                                                  side.admin)
    out["loadbalancers/{id}/stats"] = await each("v2/lbaas/loadbalancers/{id}/stats", lb_ids,
                                                 side.admin)
    out["listeners/{id}/stats"] = await each(
        "v2/lbaas/listeners/{id}/stats", [x["id"] for x in lists["listeners"]], side.admin)
    out["pools/{id}/members"] = await each(
        "v2/lbaas/pools/{id}/members", [x["id"] for x in lists["pools"]], side.admin)
    serving = {lb["id"] for lb in lists["loadbalancers"] if lb["listeners"]}
    allocated = [a for a in lists["amphorae"] if a["status"] == "ALLOCATED"]
    out["amphorae/{id}/stats"] = await each(
        "v2/octavia/amphorae/{id}/stats",
        [a["id"] for a in allocated if a["loadbalancer_id"] in serving], side.admin)
    idle = [a["id"] for a in allocated if a["loadbalancer_id"] not in serving]
    if idle:  # an amphora of a load balancer without listeners has no statistics rows
        status, body = await fetcher.get(side.url(f"v2/octavia/amphorae/{idle[0]}/stats"),
                                         side.admin)
        out["amphora stats without listeners"] = [body]
        out["amphora stats without listeners status"] = status

    out.update(await collect_issue14(fetcher, side))
    out.update(await collect_project_lists(fetcher, side))

    unknown = str(uuid.uuid4())
    errors = {
        "401 (bad token)": (side.url("v2/lbaas/loadbalancers"), "not-a-valid-token"),
        "403 (amphorae as a project member)": (side.url("v2/octavia/amphorae"), side.member),
        "404 (unknown load balancer)": (side.url(f"v2/lbaas/loadbalancers/{unknown}"),
                                        side.admin),
        "404 (status of an unknown load balancer)": (
            side.url(f"v2/lbaas/loadbalancers/{unknown}/status"), side.admin),
        "404 (stats of an unknown load balancer)": (
            side.url(f"v2/lbaas/loadbalancers/{unknown}/stats"), side.admin),
    }
    for what, (url, token) in errors.items():
        status, body = await fetcher.get(url, token)
        out[f"error {what}"] = [body]
        out[f"error {what} status"] = status
    return out


# Issue 14: collections too short to span three pages in both fleets, read whole.
ISSUE14_COLLECTIONS = (
    ("v2/lbaas/l7policies", "l7policies", l7.POLICY_FIELDS),
    ("v2/lbaas/quotas", "quotas", ()),
    ("v2/lbaas/flavors", "flavors", offerings.FLAVOR_FIELDS),
    ("v2/lbaas/availabilityzones", "availability_zones", offerings.ZONE_FIELDS),
)


async def collect_issue14(fetcher: Fetcher, side: Side) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lists: dict[str, list[dict[str, Any]]] = {}
    for path, key, fields in ISSUE14_COLLECTIONS:
        full = await fetcher.pages(side, path, key, [])
        lists[key] = [item for page in full for item in page[key]]
        out[f"{key} (all fields)"] = lists[key]
        out[f"{key} pages"] = [{k: ([] if k == key else v) for k, v in page.items()}
                               for page in full]
        if fields:
            selected = await fetcher.pages(side, path, key, [("fields", f) for f in fields])
            out[f"{key} (exporter's fields=)"] = [i for page in selected for i in page[key]]
    status, body = await fetcher.get(side.url("v2/lbaas/providers"), side.admin)
    out["providers"], out["providers status"] = [body], status
    rules: list[dict[str, Any]] = []
    selected_rules: list[dict[str, Any]] = []
    for policy in lists["l7policies"]:
        if policy["rules"]:
            path = f"v2/lbaas/l7policies/{policy['id']}/rules"
            rules.extend(page for page in await fetcher.pages(side, path, "rules", []))
            selected_rules.extend(await fetcher.pages(
                side, path, "rules", [("fields", f) for f in l7.RULE_FIELDS]))
    out["l7policies/{id}/rules"] = rules
    out["l7policies/{id}/rules (exporter's fields=)"] = selected_rules
    project = lists["quotas"][0]["project_id"]
    for what, path in (("quota", f"v2/lbaas/quotas/{project}"),
                       ("quota defaults", f"v2/lbaas/quotas/{project}/default")):
        status, body = await fetcher.get(side.url(path), side.admin)
        out[what], out[f"{what} status"] = [body], status
    # A project reader: its own quota row only; profiles and other projects' quotas refused.
    status, body = await fetcher.get(side.url("v2/lbaas/quotas"), side.member)
    out["quotas as a project member status"] = status
    out["quotas as a project member count"] = len(body["quotas"])
    for what, path in (("flavorprofiles as a project member", "v2/lbaas/flavorprofiles"),
                       ("flavors as a project member", "v2/lbaas/flavors")):
        status, body = await fetcher.get(side.url(path), side.member)
        out[f"{what} status"] = status
    return out


async def collect_project_lists(fetcher: Fetcher, side: Side) -> dict[str, Any]:
    """Keystone's two project lists the exporter reads for names, as admin and as a member."""
    out: dict[str, Any] = {}
    for who, token in (("admin", side.admin), ("member", side.member)):
        for path in ("projects", "auth/projects"):
            status, body = await fetcher.get(f"{side.keystone}/{path}", token)
            out[f"keystone /v3/{path} as {who} status"] = status
            if status == 200:
                out[f"keystone /v3/{path} as {who}"] = [body]
    return out


def compare(real: dict[str, Any], sim: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for endpoint in sorted(set(real) ^ set(sim)):
        if endpoint.endswith("short last page"):
            continue  # a collection whose size is a multiple of the page size has none
        found.add(f"{endpoint}: only one fleet has this case (Octavia {endpoint in real}, "
                  f"simulator {endpoint in sim})")
    for endpoint in sorted(set(real) & set(sim)):
        answer, other = real[endpoint], sim[endpoint]
        if endpoint.endswith((" status", " count")) or " links, " in endpoint:
            if answer != other:
                found.add(f"{endpoint}: Octavia {answer}, simulator {other}")
        elif not answer or not other:
            found.add(f"{endpoint}: nothing to compare (Octavia {len(answer)}, "
                      f"simulator {len(other)} answers)")
        else:
            found.update(f"{endpoint}: {d}" for d in differences(
                shape_of(*answer), shape_of(*other), allowed=ALLOWED))
    return found


_FOUND: list[set[str]] = []  # both tests below judge one comparison (it takes seconds)


@pytest.fixture
async def found(cloud, fleet, simulator) -> set[str]:
    if not _FOUND:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            fetcher = Fetcher(http)
            real = Side("octavia", cloud.octavia_url, cloud.token(),
                        cloud.token("viewer", harness.TENANTS[0]), cloud.auth_url)
            sim = Side("simulator", simulator.base_url + "/load-balancer",
                       await sim_token(fetcher, simulator, "admin", "admin-secret", "admin"),
                       await sim_token(fetcher, simulator, "demo", "demo-secret", "demo"),
                       simulator.auth_url)
            _FOUND.append(compare(await collect(fetcher, real), await collect(fetcher, sim)))
    return _FOUND[0]


async def test_simulator_answers_like_octavia(found) -> None:
    # No tolerated differences: a difference is fixed in the simulator, or documented in
    # ALLOWED above when it is a property of the test cloud rather than of the API.
    new = sorted(found)
    assert not new, f"{len(new)} differences:\n" + "\n".join(new)

