"""A small Keystone v3: version discovery, password and application-credential tokens, catalog.

Shapes read from openstack/keystone: ``keystone/api/discovery.py`` (versions; the self link is
always ``<base>/v3/``), ``keystone/common/render_token.py`` (token body) and
``keystone/catalog/backends/sql.py`` (catalog endpoints: id, interface, region_id, url, region),
``keystone/api/projects.py`` and ``keystone/api/auth.py`` (``GET /v3/projects``: every project,
needs ``identity:list_projects``, which a project-scoped admin has and a member has not;
``GET /v3/auth/projects``: the projects the token's user has a role on, for any valid token; both
wrapped as ``{"projects": [...], "links": {...}}``).
Roles are the bootstrap ones with their implications (admin implies member implies reader), so an
admin token lists all three, as a real bootstrapped Keystone's does.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from exporter.simulator import errors

DEFAULT_DOMAIN = {"id": "default", "name": "Default"}
IMPLIED_ROLES = {"admin": ["admin", "member", "reader"], "member": ["member", "reader"]}
APPCRED_ID = "sim-appcred-id"
APPCRED_SECRET = "sim-appcred-secret"
APPCRED_NAME = "sim-appcred"
_NS = uuid.UUID("6f0c2a8e-1b7d-4c3e-9a55-0d3f5e7a9b11")


def stable_id(kind: str, name: str) -> str:
    """Deterministic Keystone-style (32 hex) ids, so every run has the same projects."""
    return uuid.uuid5(_NS, f"{kind}:{name}").hex


def keystone_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class User:
    id: str
    name: str
    password: str
    project_id: str
    roles: list[str]


@dataclass
class AppCredential:
    id: str
    name: str
    secret: str
    user_id: str
    project_id: str
    roles: list[str]


@dataclass
class Token:
    id: str
    user_id: str
    project_id: str | None
    roles: list[str]
    methods: list[str]
    issued_at: float
    expires_at: float
    audit_id: str
    appcred_id: str | None = None


@dataclass
class AuthContext:
    """What Octavia's keystonemiddleware hands on: who, which project, which roles."""

    user_id: str
    project_id: str | None
    roles: list[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass
class Identity:
    """Users, projects, application credentials and issued tokens."""

    token_ttl: float = 3600.0
    projects: dict[str, str] = field(default_factory=dict)  # id -> name
    users: dict[str, User] = field(default_factory=dict)
    appcreds: dict[str, AppCredential] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    @classmethod
    def default(cls, token_ttl: float = 3600.0) -> Identity:
        ident = cls(token_ttl=token_ttl)
        for name in ("admin", "demo", "service"):
            ident.projects[stable_id("project", name)] = name
        admin = User(stable_id("user", "admin"), "admin", "admin-secret",
                     stable_id("project", "admin"), ["admin"])
        demo = User(stable_id("user", "demo"), "demo", "demo-secret",
                    stable_id("project", "demo"), ["member", "reader"])
        ident.users = {admin.id: admin, demo.id: demo}
        cred = AppCredential(APPCRED_ID, APPCRED_NAME, APPCRED_SECRET, admin.id,
                             admin.project_id, ["admin"])
        ident.appcreds = {cred.id: cred}
        return ident

    def project_id(self, name: str) -> str | None:
        for pid, pname in self.projects.items():
            if pname == name:
                return pid
        return None

    # ----- tokens ---------------------------------------------------------------------------
    def issue(self, user: User, project_id: str | None, methods: list[str],
              appcred: AppCredential | None = None) -> Token:
        now = self.clock()
        roles: list[str] = []
        if project_id is not None:
            base = appcred.roles if appcred else user.roles
            for role in base:
                for implied in IMPLIED_ROLES.get(role, [role]):
                    if implied not in roles:
                        roles.append(implied)
        token = Token(
            id="gAAAAA" + base64.urlsafe_b64encode(secrets.token_bytes(120)).decode().rstrip("="),
            user_id=user.id,
            project_id=project_id,
            roles=roles,
            methods=methods,
            issued_at=now,
            expires_at=now + self.token_ttl,
            audit_id=base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
            appcred_id=appcred.id if appcred else None,
        )
        if len(self.tokens) >= 10_000:
            self.tokens = {k: t for k, t in self.tokens.items() if t.expires_at > now}
        self.tokens[token.id] = token
        return token

    def validate(self, token_id: str | None) -> AuthContext | None:
        if not token_id:
            return None
        token = self.tokens.get(token_id)
        if token is None:
            return None
        if token.expires_at <= self.clock():
            return None
        return AuthContext(token.user_id, token.project_id, list(token.roles))

    def revoke(self, token_id: str | None = None) -> int:
        """Revoke one token, or all of them. Returns how many were revoked."""
        if token_id is None:
            count = len(self.tokens)
            self.tokens.clear()
            return count
        return 1 if self.tokens.pop(token_id, None) is not None else 0

    # ----- authentication -------------------------------------------------------------------
    def _find_user(self, spec: dict[str, Any]) -> User | None:
        if "id" in spec:
            return self.users.get(str(spec["id"]))
        name = spec.get("name")
        domain = spec.get("domain") or {}
        if not isinstance(domain, dict) or not (
            domain.get("id") == DEFAULT_DOMAIN["id"] or domain.get("name") == DEFAULT_DOMAIN["name"]
        ):
            return None
        for user in self.users.values():
            if user.name == name:
                return user
        return None

    def _find_project(self, spec: dict[str, Any]) -> str | None:
        if "id" in spec:
            pid = str(spec["id"])
            return pid if pid in self.projects else None
        domain = spec.get("domain") or {}
        if not isinstance(domain, dict) or not (
            domain.get("id") == DEFAULT_DOMAIN["id"] or domain.get("name") == DEFAULT_DOMAIN["name"]
        ):
            return None
        return self.project_id(str(spec.get("name")))

    def authenticate(self, body: Any) -> Token | tuple[int, str]:
        """Issue a token for a POST /v3/auth/tokens body, or say why not (status, message)."""
        unauthorized = (401, "The request you have made requires authentication.")
        try:
            auth = body["auth"]
            identity = auth["identity"]
            methods = list(identity["methods"])
        except (KeyError, TypeError):
            return (400, "Expecting to find identity in auth. The server could not comply "
                         "with the request because it is missing or malformed.")
        scope = auth.get("scope")
        if isinstance(scope, dict) and set(scope) - {"project"}:
            return unauthorized  # domain, system and trust scopes are not simulated
        if "application_credential" in methods:
            spec = identity.get("application_credential") or {}
            cred: AppCredential | None = None
            if "id" in spec:
                cred = self.appcreds.get(str(spec["id"]))
            elif "name" in spec:
                user = self._find_user(spec.get("user") or {})
                cred = next((c for c in self.appcreds.values()
                             if user and c.name == spec["name"] and c.user_id == user.id), None)
            if cred is None or spec.get("secret") != cred.secret:
                return unauthorized
            if scope:
                return (401, "Application credentials cannot request a scope.")
            return self.issue(self.users[cred.user_id], cred.project_id,
                              ["application_credential"], cred)
        if "password" in methods:
            spec = (identity.get("password") or {}).get("user") or {}
            user = self._find_user(spec)
            if user is None or spec.get("password") != user.password:
                return unauthorized
            project_id: str | None = user.project_id
            if isinstance(scope, dict) and "project" in scope:
                project_id = self._find_project(scope["project"] or {})
                if project_id is None or project_id != user.project_id:
                    return unauthorized
            elif scope == "unscoped":
                project_id = None
            return self.issue(user, project_id, ["password"])
        if "token" in methods:
            spec = identity.get("token") or {}
            old = self.tokens.get(str(spec.get("id")))
            if old is None or old.expires_at <= self.clock():
                return unauthorized
            user = self.users[old.user_id]
            project_id = old.project_id
            if isinstance(scope, dict) and "project" in scope:
                project_id = self._find_project(scope["project"] or {})
                if project_id is None or project_id != user.project_id:
                    return unauthorized
            return self.issue(user, project_id, ["token", *old.methods])
        return unauthorized

    def render(self, token: Token, catalog: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The token body; ``catalog`` None leaves it out (``?nocatalog``)."""
        user = self.users[token.user_id]
        body: dict[str, Any] = {
            "methods": token.methods,
            "user": {
                "domain": dict(DEFAULT_DOMAIN),
                "id": user.id,
                "name": user.name,
                "password_expires_at": None,
            },
            "audit_ids": [token.audit_id],
            "expires_at": keystone_time(token.expires_at),
            "issued_at": keystone_time(token.issued_at),
        }
        if token.project_id is not None:
            body["project"] = {
                "domain": dict(DEFAULT_DOMAIN),
                "id": token.project_id,
                "name": self.projects[token.project_id],
            }
            body["is_domain"] = False
            body["roles"] = [{"id": stable_id("role", r), "name": r} for r in token.roles]
            if catalog is not None:
                body["catalog"] = catalog
        if token.appcred_id is not None:
            cred = self.appcreds[token.appcred_id]
            body["application_credential"] = {"id": cred.id, "name": cred.name,
                                              "restricted": True}
        return {"token": body}


def build_catalog(base_url: str, regions: dict[str, str],
                  network: dict[str, str] | None = None,
                  octavia_url: str | None = None) -> list[dict[str, Any]]:
    """The service catalog: Keystone itself, Octavia (``load-balancer``) per region and, when
    ``network`` is given, Neutron (``network``, named ``neutron``) per region. ``regions`` and
    ``network`` map region names to the services' path prefixes; ``octavia_url`` replaces the
    first region's Octavia URL (a catalog naming an Octavia that is not there)."""
    def endpoints(service: str, urls: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for region, url in urls.items():
            for interface in ("public", "internal", "admin"):
                out.append({
                    "id": stable_id("endpoint", f"{service}:{region}:{interface}"),
                    "interface": interface,
                    "region_id": region,
                    "url": url,
                    "region": region,
                })
        return out

    first = next(iter(regions))
    octavia = {r: f"{base_url}{prefix}" for r, prefix in regions.items()}
    if octavia_url:
        octavia[first] = octavia_url
    catalog = [
        {
            "endpoints": endpoints("identity", {first: f"{base_url}/identity"}),
            "id": stable_id("service", "identity"),
            "type": "identity",
            "name": "keystone",
        },
        {
            "endpoints": endpoints("load-balancer", octavia),
            "id": stable_id("service", "load-balancer"),
            "type": "load-balancer",
            "name": "octavia",
        },
    ]
    if network:
        catalog.append({
            "endpoints": endpoints(
                "network", {r: f"{base_url}{prefix}" for r, prefix in network.items()}
            ),
            "id": stable_id("service", "network"),
            "type": "network",
            "name": "neutron",
        })
    return catalog


class KeystoneService:
    """The HTTP face of :class:`Identity`, mounted under ``/identity``."""

    PREFIX = "/identity"

    def __init__(self, identity: Identity, base_url: Callable[[], str],
                 regions: Callable[[], dict[str, str]],
                 network: Callable[[], dict[str, str]] | None = None,
                 octavia_url: Callable[[], str | None] = lambda: None,
                 projects: Callable[[], dict[str, str]] | None = None) -> None:
        self.identity = identity
        self._base_url = base_url
        self._regions = regions
        self._network = network or dict
        self._octavia_url = octavia_url
        # Every project the cloud has (id -> name): Keystone's own and those the fleets own.
        self._projects = projects or (lambda: dict(identity.projects))

    def catalog(self) -> list[dict[str, Any]]:
        return build_catalog(self._base_url(), self._regions(), self._network(),
                             self._octavia_url())

    def resolve(self, method: str, path: str) -> str | None:
        """The endpoint template for a path below /identity, or None."""
        p = path.rstrip("/")
        if p == "":
            return "/"
        if p == "/v3":
            return "/v3"
        if p in ("/v3/auth/tokens", "/v3/projects", "/v3/auth/projects"):
            return p
        return None

    def _version(self) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self._base_url()}/identity/v3/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    async def handle(self, request: web.Request, template: str) -> web.Response:
        method = request.method
        if template == "/" and method == "GET":
            return web.json_response(
                {"versions": {"values": [self._version()]}},
                status=300,
                headers={"Location": f"{self._base_url()}/identity/v3/"},
            )
        if template == "/v3" and method == "GET":
            return web.json_response({"version": self._version()})
        if template == "/v3/auth/tokens" and method == "POST":
            return await self._post_token(request)
        if template == "/v3/auth/tokens" and method in ("GET", "HEAD"):
            return self._get_token(request)
        if template in ("/v3/projects", "/v3/auth/projects") and method == "GET":
            return self._list_projects(request, template)
        if template == "/v3/auth/tokens" and method == "DELETE":
            subject = request.headers.get("X-Subject-Token")
            if self.identity.validate(request.headers.get("X-Auth-Token")) is None:
                return self._unauthorized()
            self.identity.revoke(subject)
            return web.Response(status=204)
        return errors.keystone_error(405, "Method Not Allowed",
                                     "The method is not allowed for the requested URL.")

    def _unauthorized(self, message: str = "The request you have made requires "
                      "authentication.") -> web.Response:
        return errors.keystone_error(
            401, "Unauthorized", message,
            headers={"WWW-Authenticate": f'Keystone uri="{self._base_url()}/identity"'},
        )

    async def _post_token(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return errors.keystone_error(400, "Bad Request", "Malformed JSON body.")
        result = self.identity.authenticate(body)
        if isinstance(result, tuple):
            status, message = result
            if status == 401:
                return self._unauthorized(message)
            return errors.keystone_error(status, "Bad Request", message)
        catalog = (None if "nocatalog" in request.query
                   else self.catalog())
        return web.json_response(
            self.identity.render(result, catalog), status=201,
            headers={"X-Subject-Token": result.id},
        )

    def _project_ref(self, pid: str, name: str) -> dict[str, Any]:
        return {
            "id": pid, "name": name, "domain_id": DEFAULT_DOMAIN["id"], "description": "",
            "enabled": True, "parent_id": DEFAULT_DOMAIN["id"], "is_domain": False,
            "tags": [], "options": {},
            "links": {"self": f"{self._base_url()}/identity/v3/projects/{pid}"},
        }

    def _list_projects(self, request: web.Request, template: str) -> web.Response:
        context = self.identity.validate(request.headers.get("X-Auth-Token"))
        if context is None:
            return self._unauthorized()
        projects = self._projects()
        if template == "/v3/projects":
            if not context.is_admin:
                return errors.keystone_error(
                    403, "Forbidden", "You are not authorized to perform the requested "
                    "action: identity:list_projects.")
            wanted = sorted(projects)
            name = request.query.get("name")
            if name is not None:
                wanted = [pid for pid in wanted if projects[pid] == name]
        else:
            # Role assignments: a simulated user has its roles on its home project only.
            home = self.identity.users[self.identity.tokens[
                request.headers["X-Auth-Token"]].user_id].project_id
            wanted = [home] if home in projects else []
        return web.json_response({
            "projects": [self._project_ref(pid, projects[pid]) for pid in wanted],
            "links": {"self": f"{self._base_url()}/identity{template}", "previous": None,
                      "next": None},
        })

    def _get_token(self, request: web.Request) -> web.Response:
        if self.identity.validate(request.headers.get("X-Auth-Token")) is None:
            return self._unauthorized()
        subject = request.headers.get("X-Subject-Token", "")
        if self.identity.validate(subject) is None:
            return errors.keystone_error(
                404, "Not Found", f"Could not find token: {subject}.")
        token = self.identity.tokens[subject]
        catalog = (None if "nocatalog" in request.query
                   else self.catalog())
        return web.json_response(self.identity.render(token, catalog),
                                 headers={"X-Subject-Token": subject})
