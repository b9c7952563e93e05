"""Keystone v3: discovery, tokens (password, application credential), catalog, expiry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from exporter.simulator import Simulator
from tests.support.simulator import TokenFactory, get_json, password_body

UNAUTHORIZED = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}


async def test_version_documents(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, f"{sim.base_url}/identity")
    assert status == 300
    (version,) = body["versions"]["values"]
    assert version["id"] == "v3.14"
    assert version["status"] == "stable"
    assert version["links"] == [{"rel": "self", "href": f"{sim.auth_url}/"}]
    assert version["media-types"] == [
        {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
    ]
    status, body = await get_json(http, sim.auth_url)
    assert status == 200
    assert body == {"version": version}


async def test_password_token_body_and_catalog(sim: Simulator,
                                               http: aiohttp.ClientSession) -> None:
    body = password_body("admin", "admin-secret", "admin")
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 201
        assert resp.headers["X-Subject-Token"]
        token = (await resp.json())["token"]
    assert set(token) == {
        "methods", "user", "audit_ids", "expires_at", "issued_at", "project", "is_domain",
        "roles", "catalog",
    }
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["name"] == "admin"
    assert sorted(r["name"] for r in token["roles"]) == ["admin", "member", "reader"]
    assert token["expires_at"].endswith("Z") and "." in token["expires_at"]
    services = {s["type"]: s for s in token["catalog"]}
    lb = services["load-balancer"]
    assert lb["name"] == "octavia"
    assert {e["interface"] for e in lb["endpoints"]} == {"public", "internal", "admin"}
    for endpoint in lb["endpoints"]:
        assert set(endpoint) == {"id", "interface", "region_id", "url", "region"}
        assert endpoint["region"] == endpoint["region_id"] == "RegionOne"
        assert endpoint["url"] == f"{sim.base_url}/load-balancer"
    network = services["network"]
    assert network["name"] == "neutron"
    assert {(e["interface"], e["region"], e["url"]) for e in network["endpoints"]} == {
        (i, "RegionOne", f"{sim.base_url}/networking") for i in ("public", "internal", "admin")}


async def test_demo_user_roles(sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = password_body("demo", "demo-secret", "demo")
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        token = (await resp.json())["token"]
    assert sorted(r["name"] for r in token["roles"]) == ["member", "reader"]
    assert token["project"]["name"] == "demo"


async def test_user_by_id_and_project_by_id(sim: Simulator, http: aiohttp.ClientSession) -> None:
    user = next(u for u in sim.identity.users.values() if u.name == "demo")
    body = {"auth": {
        "identity": {"methods": ["password"],
                     "password": {"user": {"id": user.id, "password": "demo-secret"}}},
        "scope": {"project": {"id": user.project_id}},
    }}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 201
        assert (await resp.json())["token"]["project"]["id"] == user.project_id


async def test_wrong_password_is_401(sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = password_body("admin", "wrong", "admin")
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 401
        assert await resp.json() == UNAUTHORIZED
        assert resp.headers["WWW-Authenticate"].startswith("Keystone uri=")
        assert "X-Subject-Token" not in resp.headers


async def test_scope_to_foreign_project_is_401(sim: Simulator,
                                               http: aiohttp.ClientSession) -> None:
    body = password_body("demo", "demo-secret", "admin")
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 401


async def test_application_credential_by_id(sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
    }}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 201
        token = (await resp.json())["token"]
    assert token["methods"] == ["application_credential"]
    assert token["project"]["name"] == "admin"
    assert token["application_credential"] == {
        "id": "sim-appcred-id", "name": "sim-appcred", "restricted": True,
    }


async def test_application_credential_by_name(sim: Simulator,
                                              http: aiohttp.ClientSession) -> None:
    body = {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {
            "name": "sim-appcred", "secret": "sim-appcred-secret",
            "user": {"name": "admin", "domain": {"id": "default"}},
        },
    }}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 201


async def test_application_credential_wrong_secret(sim: Simulator,
                                                   http: aiohttp.ClientSession) -> None:
    body = {"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": "sim-appcred-id", "secret": "nope"},
    }}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 401
        assert await resp.json() == UNAUTHORIZED


async def test_expired_token_is_401_on_octavia(sim: Simulator, http: aiohttp.ClientSession,
                                               get_token: TokenFactory) -> None:
    sim.configure(token_ttl=5)
    token = await get_token("admin")
    url = f"{sim.octavia_url}/v2/lbaas/loadbalancers"
    status, _ = await get_json(http, url, {"X-Auth-Token": token})
    assert status == 200
    issued = sim.identity.tokens[token].issued_at
    sim.identity.clock = lambda: issued + 6  # the token's lifetime has passed
    status, body = await get_json(http, url, {"X-Auth-Token": token})
    assert status == 401
    assert body == UNAUTHORIZED


async def test_revoked_token_is_401(sim: Simulator, http: aiohttp.ClientSession,
                                    get_token: TokenFactory) -> None:
    keep = await get_token("admin")
    drop = await get_token("admin")
    async with http.post(f"{sim.base_url}/_sim/tokens/revoke", json={"token": drop}) as resp:
        assert (await resp.json()) == {"revoked": 1}
    url = f"{sim.octavia_url}/v2/lbaas/loadbalancers"
    assert (await get_json(http, url, {"X-Auth-Token": drop}))[0] == 401
    assert (await get_json(http, url, {"X-Auth-Token": keep}))[0] == 200
    async with http.post(f"{sim.base_url}/_sim/tokens/revoke") as resp:
        assert (await resp.json())["revoked"] >= 1
    assert (await get_json(http, url, {"X-Auth-Token": keep}))[0] == 401


async def test_missing_token_is_401(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.octavia_url}/v2/lbaas/loadbalancers") as resp:
        assert resp.status == 401
        assert await resp.json() == UNAUTHORIZED
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{sim.auth_url}"'


async def test_keystoneauth_session_gets_token_and_endpoint(sim: Simulator) -> None:
    def authenticate() -> tuple[str, str]:
        auth = v3.Password(auth_url=sim.auth_url, username="admin", password="admin-secret",
                           project_name="admin", user_domain_name="Default",
                           project_domain_name="Default")
        session = ks_session.Session(auth=auth)
        token = session.get_token()
        endpoint = session.get_endpoint(service_type="load-balancer", interface="public",
                                        region_name="RegionOne")
        return token, endpoint

    token, endpoint = await asyncio.to_thread(authenticate)
    assert token in sim.identity.tokens
    assert endpoint == sim.octavia_url


async def test_keystoneauth_application_credential(sim: Simulator) -> None:
    def authenticate() -> str:
        auth = v3.ApplicationCredential(
            auth_url=sim.auth_url, application_credential_id="sim-appcred-id",
            application_credential_secret="sim-appcred-secret")
        return str(ks_session.Session(auth=auth).get_token())

    assert await asyncio.to_thread(authenticate) in sim.identity.tokens


async def test_clouds_yaml_works_with_openstacksdk(sim: Simulator, tmp_path: Path) -> None:
    from openstack import config as os_config

    path = tmp_path / "clouds.yaml"
    sim.write_clouds_yaml(str(path))
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    def connect(cloud: str) -> tuple[str, str]:
        loader = os_config.OpenStackConfig(config_files=[str(path)], load_envvars=False)
        region = loader.get_one(cloud=cloud)
        session = region.get_session()
        endpoint = session.get_endpoint(service_type="load-balancer", interface="public",
                                        region_name=region.region_name)
        return str(session.get_token()), str(endpoint)

    for cloud in ("simulator", "simulator-member", "simulator-appcred"):
        token, endpoint = await asyncio.to_thread(connect, cloud)
        assert token in sim.identity.tokens
        assert endpoint == sim.octavia_url


async def test_nocatalog_and_unsupported_scope(sim: Simulator,
                                               http: aiohttp.ClientSession) -> None:
    body = password_body("admin", "admin-secret", "admin")
    async with http.post(f"{sim.auth_url}/auth/tokens?nocatalog", json=body) as resp:
        assert resp.status == 201
        token = (await resp.json())["token"]
    assert "catalog" not in token and token["project"]["name"] == "admin"
    body["auth"]["scope"] = {"system": {"all": True}}
    async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
        assert resp.status == 401


async def test_token_validation(sim: Simulator, http: aiohttp.ClientSession,
                                get_token: TokenFactory) -> None:
    admin = await get_token("admin")
    demo = await get_token("demo")
    headers = {"X-Auth-Token": admin, "X-Subject-Token": demo}
    async with http.get(f"{sim.auth_url}/auth/tokens", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["X-Subject-Token"] == demo
        assert (await resp.json())["token"]["user"]["name"] == "demo"
    async with http.delete(f"{sim.auth_url}/auth/tokens", headers=headers) as resp:
        assert resp.status == 204
    async with http.get(f"{sim.auth_url}/auth/tokens", headers=headers) as resp:
        assert resp.status == 404


async def test_project_list_is_admin_only(sim: Simulator, http: aiohttp.ClientSession,
                                          admin: dict[str, str], demo: dict[str, str]) -> None:
    url = f"{sim.auth_url}/projects"
    status, body = await get_json(http, url, admin)
    assert status == 200
    assert set(body) == {"projects", "links"}
    assert body["links"] == {"self": url, "previous": None, "next": None}
    names = {p["id"]: p["name"] for p in body["projects"]}
    # Keystone's own projects and the ones the fleet's load balancers belong to.
    fleet = next(iter(sim.regions.values())).fleet
    assert {"admin", "demo", "service"} <= set(names.values())
    assert {p.id: p.name for p in fleet.projects.values()}.items() <= names.items()
    project = body["projects"][0]
    assert set(project) == {"id", "name", "domain_id", "description", "enabled", "parent_id",
                            "is_domain", "tags", "options", "links"}
    assert project["links"] == {"self": f"{url}/{project['id']}"}
    assert project["domain_id"] == "default" and project["is_domain"] is False
    status, body = await get_json(http, url, demo)
    assert status == 403
    assert body["error"]["code"] == 403
    assert "identity:list_projects" in body["error"]["message"]
    status, body = await get_json(http, url)
    assert (status, body) == (401, UNAUTHORIZED)


async def test_auth_projects_lists_the_users_own(sim: Simulator, http: aiohttp.ClientSession,
                                                 admin: dict[str, str],
                                                 demo: dict[str, str]) -> None:
    url = f"{sim.auth_url}/auth/projects"
    for headers, name in ((demo, "demo"), (admin, "admin")):
        status, body = await get_json(http, url, headers)
        assert status == 200
        assert [(p["id"], p["name"]) for p in body["projects"]] == [
            (sim.identity.project_id(name), name)]
        assert body["links"]["self"] == url
    status, _ = await get_json(http, url)
    assert status == 401
