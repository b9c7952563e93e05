"""The simulator: Keystone + Octavia and Neutron (per region) + control API on one aiohttp server.

Layout of the URL space (devstack style):
- ``/identity`` …            Keystone v3
- ``/load-balancer`` …       Octavia of ``RegionOne``
- ``/networking`` …          Neutron (floating IPs) of ``RegionOne``
- ``/<Region>/load-balancer``, ``/<Region>/networking``: every further region (own fleet)
- ``/_sim/`` …               control API (and the PROMETHEUS listeners': haproxy_metrics.py)

Three middlewares wrap the Keystone, Octavia and Neutron routes: the outer one counts requests per
endpoint template and status, the middle one applies faults (and the configured base latency), the
inner one makes Octavia requests queue for the capacity model's workers (capacity.py; off unless
``capacity_workers`` > 0).
With ``neutron=False`` Neutron is neither in the catalog nor served.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml
from aiohttp import web

from exporter.simulator import errors
from exporter.simulator.capacity import Capacity, kind_of
from exporter.simulator.control import ControlAPI
from exporter.simulator.faults import Decision, FaultSet, RequestCounter
from exporter.simulator.fleet import Fleet
from exporter.simulator.generator import generate
from exporter.simulator.haproxy_metrics import DataPlane
from exporter.simulator.keystone import (
    APPCRED_ID,
    APPCRED_SECRET,
    Identity,
    KeystoneService,
)
from exporter.simulator.model import (
    FleetSpec,
    LBShape,
)
from exporter.simulator.neutron import NeutronService
from exporter.simulator.neutron import resolve as resolve_neutron
from exporter.simulator.octavia import OctaviaService
from exporter.simulator.octavia import resolve as resolve_octavia
from exporter.simulator.scenario import Scenario

DEFAULT_REGION = "RegionOne"
OCTAVIA_PREFIX = "/load-balancer"
NEUTRON_PREFIX = "/networking"


@dataclass
class Region:
    name: str
    prefix: str
    fleet: Fleet
    scenario: Scenario
    octavia: OctaviaService
    neutron_prefix: str
    neutron: NeutronService


@dataclass(frozen=True)
class Resolved:
    """Which service, region and endpoint template a request is for."""

    service: str  # "keystone" | "octavia" | "neutron" | "none"
    region: str
    template: str
    sub_path: str


class Simulator:
    """A simulated Keystone v3 + Octavia v2 (read side) + Neutron's floating IPs.

    ``spec`` shapes the fleet (``seed`` overrides ``spec.seed``); ``tick_interval`` > 0 steps the
    scenario every so many seconds (0: frozen); ``token_ttl`` is the token lifetime in seconds;
    ``page_cap`` is Octavia's ``pagination_max_limit``; ``latency_ms`` is added to every
    Keystone/Octavia/Neutron answer; ``regions`` names the regions (the first gets
    ``/load-balancer`` and ``/networking``); ``neutron`` False leaves Neutron out of the catalog
    (and unserved); ``neutron_page_cap`` is Neutron's ``pagination_max_limit`` (None or < 1: no
    cap, Neutron's default); ``capacity_workers`` > 0 makes Octavia serve that many requests at a
    time, each for its service time (``service_ms``: keys of ``capacity.ServiceTimes``), the rest
    queueing (0: unlimited); ``capacity_jitter`` spreads service times by ± that share.
    """

    def __init__(
        self,
        spec: FleetSpec | None = None,
        *,
        seed: int | None = None,
        tick_interval: float = 0.0,
        token_ttl: float = 3600.0,
        page_cap: int = 1000,
        latency_ms: float = 0.0,
        regions: Sequence[str] = (DEFAULT_REGION,),
        neutron: bool = True,
        neutron_page_cap: int | None = None,
        capacity_workers: int = 0,
        service_ms: dict[str, float] | None = None,
        capacity_jitter: float = 0.0,
    ) -> None:
        base_spec = spec or FleetSpec()
        if seed is not None:
            base_spec = replace(base_spec, seed=seed)
        if not regions:
            raise ValueError("at least one region is needed")
        self.spec = base_spec
        self.page_cap = int(page_cap)
        self.latency_ms = float(latency_ms)
        self.tick_interval = float(tick_interval)
        self.neutron = bool(neutron)
        self.neutron_page_cap = _page_cap_or_none(neutron_page_cap)
        # The catalog's Octavia URL for the first region when set (see configure()).
        self.octavia_catalog_url: str | None = None
        self.identity = Identity.default(token_ttl=token_ttl)
        self.faults = FaultSet(seed=base_spec.seed)
        self.requests = RequestCounter()
        self.capacity = Capacity(seed=base_spec.seed)
        self.capacity.configure(workers=capacity_workers, jitter=capacity_jitter,
                                **(service_ms or {}))
        self.regions: dict[str, Region] = {}
        demo = ("demo", self.identity.project_id("demo") or "")
        for i, name in enumerate(regions):
            region_spec = replace(base_spec, seed=base_spec.seed + i)
            fleet = generate(region_spec, [demo])
            prefix = OCTAVIA_PREFIX if i == 0 else f"/{name}{OCTAVIA_PREFIX}"
            octavia = OctaviaService(name, prefix, fleet, self.identity,
                                     lambda: self.page_cap, lambda: self.auth_url)
            template = LBShape(
                listeners=region_spec.listeners_per_lb, pools=region_spec.pools_per_lb,
                members_per_pool=region_spec.members_per_pool, member_jitter=True,
                amphorae=region_spec.amphorae_per_lb,
            )
            scenario = Scenario(fleet, region_spec.seed, tick_interval, template=template)
            net_prefix = NEUTRON_PREFIX if i == 0 else f"/{name}{NEUTRON_PREFIX}"
            neutron_service = NeutronService(name, net_prefix, fleet, self.identity,
                                             lambda: self.neutron_page_cap,
                                             lambda: self.auth_url)
            self.regions[name] = Region(name, prefix, fleet, scenario, octavia, net_prefix,
                                        neutron_service)
        self.keystone = KeystoneService(
            self.identity, lambda: self.base_url,
            lambda: {r.name: r.prefix for r in self.regions.values()},
            lambda: ({r.name: r.neutron_prefix for r in self.regions.values()}
                     if self.neutron else {}),
            octavia_url=lambda: self.octavia_catalog_url,
            projects=self.projects,
        )
        self.control = ControlAPI(self)
        self.data_plane = DataPlane(self)
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    # ----- properties -----------------------------------------------------------------------
    @property
    def default_region(self) -> Region:
        return next(iter(self.regions.values()))

    @property
    def fleet(self) -> Fleet:
        return self.default_region.fleet

    @property
    def scenario(self) -> Scenario:
        return self.default_region.scenario

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("the simulator has not been started")
        return f"http://{self._host}:{self._port}"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/identity/v3"

    @property
    def octavia_url(self) -> str:
        return f"{self.base_url}{self.default_region.prefix}"

    @property
    def neutron_url(self) -> str:
        return f"{self.base_url}{self.default_region.neutron_prefix}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # ----- configuration --------------------------------------------------------------------
    def configure(self, *, token_ttl: float | None = None, page_cap: int | None = None,
                  latency_ms: float | None = None, tick_interval: float | None = None,
                  neutron: bool | None = None, neutron_page_cap: int | None = None,
                  octavia_catalog_url: str | None = None,
                  capacity: dict[str, Any] | None = None) -> None:
        """``octavia_catalog_url``: the URL Keystone's catalog gives for Octavia in the first
        region (a closed port, an unresolvable name, a TLS server nobody trusts: a client's
        view of an Octavia that is down while Keystone is up); "" restores the real one."""
        if token_ttl is not None:
            if float(token_ttl) <= 0:
                raise ValueError("token_ttl must be > 0")
            self.identity.token_ttl = float(token_ttl)
        if page_cap is not None:
            if int(page_cap) < 1:
                raise ValueError("page_cap must be >= 1")
            self.page_cap = int(page_cap)
        if latency_ms is not None:
            self.latency_ms = max(0.0, float(latency_ms))
        if neutron is not None:
            if not isinstance(neutron, bool):
                raise ValueError("neutron must be true or false")
            self.neutron = neutron
        if neutron_page_cap is not None:
            self.neutron_page_cap = _page_cap_or_none(neutron_page_cap)
        if octavia_catalog_url is not None:
            if not isinstance(octavia_catalog_url, str):
                raise ValueError("octavia_catalog_url must be a URL, or \"\" for the real one")
            self.octavia_catalog_url = octavia_catalog_url or None
        if capacity is not None:
            if not isinstance(capacity, dict):
                raise ValueError("capacity must be an object, e.g. "
                                 '{"workers": 1, "status_ms": 22}')
            self.capacity.configure(**capacity)
        if tick_interval is not None:
            if float(tick_interval) < 0:
                raise ValueError("tick_interval must be >= 0")
            self.tick_interval = float(tick_interval)
            for region in self.regions.values():
                if self.running:
                    region.scenario.set_interval(self.tick_interval)
                else:
                    region.scenario.tick_interval = self.tick_interval

    def config_json(self) -> dict[str, Any]:
        return {
            "token_ttl": self.identity.token_ttl,
            "page_cap": self.page_cap,
            "latency_ms": self.latency_ms,
            "tick_interval": self.tick_interval,
            "regions": list(self.regions),
            "neutron": self.neutron,
            "neutron_page_cap": self.neutron_page_cap or -1,
            "octavia_catalog_url": self.octavia_catalog_url or "",
            "capacity": self.capacity.config_json(),
        }

    # ----- lifecycle ------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve; returns the base URL. Port 0 picks a free port the first time and the same
        port again after a stop, so a restarted simulator is where clients left it."""
        if self._runner is not None:
            return self.base_url
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulator binds to loopback only")
        if port == 0 and self._port is not None:
            port = self._port
        app = self._make_app()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0,
                               handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        # the asyncio server, to learn the bound port
        sockets = getattr(site._server, "sockets", None) or []
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        self._runner = runner
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = bound
        for region in self.regions.values():
            region.scenario.start()
        await self.data_plane.start()
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; the fleet, tokens, faults and counters are kept."""
        runner, self._runner = self._runner, None
        for region in self.regions.values():
            await region.scenario.stop()
        self.faults.release_hangs()
        await self.data_plane.stop()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----- clouds.yaml ----------------------------------------------------------------------
    def clouds_yaml(self) -> dict[str, Any]:
        common = {
            "region_name": DEFAULT_REGION if DEFAULT_REGION in self.regions
            else self.default_region.name,
            "interface": "public",
            "identity_api_version": 3,
        }

        def password(user: str, secret: str, project: str) -> dict[str, Any]:
            return {
                "auth_type": "password",
                "auth": {
                    "auth_url": self.auth_url,
                    "username": user,
                    "password": secret,
                    "project_name": project,
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                },
                **common,
            }

        return {
            "clouds": {
                "simulator": password("admin", "admin-secret", "admin"),
                "simulator-member": password("demo", "demo-secret", "demo"),
                "simulator-appcred": {
                    "auth_type": "v3applicationcredential",
                    "auth": {
                        "auth_url": self.auth_url,
                        "application_credential_id": APPCRED_ID,
                        "application_credential_secret": APPCRED_SECRET,
                        "user_domain_name": "Default",
                        "project_domain_name": "Default",
                    },
                    **common,
                },
            }
        }

    def projects(self) -> dict[str, str]:
        """Every project (id -> name): Keystone's and those the regions' fleets made up."""
        found = dict(self.identity.projects)
        for region in self.regions.values():
            for project in region.fleet.projects.values():
                found.setdefault(project.id, project.name)
        return found

    def write_clouds_yaml(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(self.clouds_yaml(), fh, sort_keys=False)

    # ----- request handling -----------------------------------------------------------------
    def resolve(self, method: str, path: str) -> Resolved:
        if path == KeystoneService.PREFIX or path.startswith(KeystoneService.PREFIX + "/"):
            sub = path[len(KeystoneService.PREFIX):]
            template = self.keystone.resolve(method, sub) or "unmatched"
            return Resolved("keystone", DEFAULT_REGION, template, sub)
        for region in self.regions.values():
            if path == region.prefix or path.startswith(region.prefix + "/"):
                sub = path[len(region.prefix):]
                return Resolved("octavia", region.name, resolve_octavia(sub).template, sub)
            if self.neutron and (path == region.neutron_prefix
                                 or path.startswith(region.neutron_prefix + "/")):
                sub = path[len(region.neutron_prefix):]
                return Resolved("neutron", region.name, resolve_neutron(sub).template, sub)
        return Resolved("none", "", "unmatched", path)

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._count_middleware, self._fault_middleware,
                                           self._capacity_middleware])
        for method, path, handler in [*self.control.routes(), *self.data_plane.routes()]:
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @staticmethod
    def _is_control(request: web.Request) -> bool:
        return request.path == "/_sim" or request.path.startswith("/_sim/")

    def _resolved(self, request: web.Request) -> Resolved:
        found = request.get("sim_route")
        if isinstance(found, Resolved):
            return found
        resolved = self.resolve(request.method, request.path)
        request["sim_route"] = resolved
        return resolved

    @web.middleware
    async def _count_middleware(self, request: web.Request,
                                handler: Any) -> web.StreamResponse:
        if self._is_control(request):
            result: web.StreamResponse = await handler(request)
            return result
        resolved = self._resolved(request)
        status = 0
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            if resolved.service != "none" and not response.prepared:
                # oslo.middleware's request id, as both services send it
                response.headers.setdefault("x-openstack-request-id", f"req-{uuid.uuid4()}")
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            if request.get("sim_reset"):
                status = 0
            self.requests.add(resolved.service, resolved.region, request.method,
                              resolved.template, status)

    @web.middleware
    async def _fault_middleware(self, request: web.Request,
                                handler: Any) -> web.StreamResponse:
        if self._is_control(request):
            result: web.StreamResponse = await handler(request)
            return result
        resolved = self._resolved(request)
        decision = Decision()
        if resolved.service != "none":
            decision = self.faults.decide(resolved.service, request.method, resolved.template,
                                          resolved.sub_path, resolved.region)
        delay = decision.delay + self.latency_ms / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)
        fault = decision.fault
        if fault is None:
            response: web.StreamResponse = await handler(request)
            return response
        if fault.kind == "hang":
            await self.faults.hang()
            response = await handler(request)
            return response
        if fault.kind == "reset":
            request["sim_reset"] = True
            transport = request.transport
            if transport is not None:
                transport.abort()
            # aiohttp ignores the connection error writing this answer raises
            return web.Response(status=500)
        if fault.kind == "error":
            return _error_response(fault.status, fault.retry_after, resolved.service)
        if fault.kind == "malformed":
            collection = b"floatingips" if resolved.service == "neutron" else b"loadbalancers"
            return web.Response(status=200, body=b'{"' + collection + b'": [{"id": <html>oops',
                                content_type="application/json")
        if fault.kind == "revoke_tokens":
            self.identity.revoke()
            response = await handler(request)
            return response
        if fault.kind == "bad_objects":
            return _with_bad_objects(await handler(request))
        # truncate: the real answer, cut in half
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None:
            raw = response.body if isinstance(response.body, bytes) else b""
            return web.Response(status=response.status, body=raw[: len(raw) // 2],
                                content_type=response.content_type)
        return response

    @web.middleware
    async def _capacity_middleware(self, request: web.Request,
                                   handler: Any) -> web.StreamResponse:
        # The answer is computed on arrival (it is cheap here) and held back until the model says
        # a worker would have finished it: list costs depend on the page, known only then.
        response: web.StreamResponse = await handler(request)
        if self.capacity.enabled and not self._is_control(request):
            resolved = self._resolved(request)
            if resolved.service == "octavia":
                await self.capacity.hold(kind_of(resolved.template),
                                         int(request.get("sim_items", 0)))
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        resolved = self._resolved(request)
        if resolved.service == "keystone":
            if resolved.template == "unmatched":
                return errors.keystone_error(
                    404, "Not Found", "The resource could not be found.")
            return await self.keystone.handle(request, resolved.template)
        if resolved.service == "octavia":
            region = self.regions[resolved.region]
            return await region.octavia.handle(request, resolve_octavia(resolved.sub_path))
        if resolved.service == "neutron":
            region = self.regions[resolved.region]
            return await region.neutron.handle(request, resolve_neutron(resolved.sub_path))
        services: dict[str, Any] = {
            "identity": "/identity",
            "load-balancer": {r.name: r.prefix for r in self.regions.values()},
        }
        if self.neutron:
            services["network"] = {r.name: r.neutron_prefix for r in self.regions.values()}
        services["control"] = "/_sim/"
        return web.json_response({"error": "not found", "services": services}, status=404)


def _with_bad_objects(response: web.StreamResponse) -> web.StreamResponse:
    """The real answer, still valid JSON, with objects a client cannot use: each list gets a
    string and an object without an id appended, each object becomes a string (links stay,
    so paging goes on)."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    try:
        body = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(body, dict):
        return response
    for key, value in body.items():
        if key.endswith("_links"):
            continue
        if isinstance(value, list):
            value.extend(["oops", {"name": "no id"}])
        elif isinstance(value, dict):
            body[key] = "oops"
    return web.json_response(body, status=response.status)


def _page_cap_or_none(value: int | None) -> int | None:
    if value is None:
        return None
    return int(value) if int(value) > 0 else None


def _error_response(status: int, retry_after: float | None,
                    service: str = "octavia") -> web.Response:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() \
            else str(retry_after)
    if status in (502, 503, 504):
        reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
        body = (f"<html><body><h1>{status} {reason}</h1>\n"
                "No server is available to handle this request.\n</body></html>\n")
        return web.Response(status=status, text=body, content_type="text/html",
                            headers=headers)
    if service == "neutron":
        response = errors.neutron_default_error(status)
    else:
        response = errors.wsme_error(status, "Simulated server fault" if status >= 500
                                     else "Simulated client fault")
    response.headers.update(headers)
    return response


def run_forever_hint(sim: Simulator) -> str:
    """A few lines telling a human where things are."""
    lines = [
        f"Keystone:  {sim.auth_url}",
        *(f"Octavia:   {sim.base_url}{r.prefix}  ({r.name})" for r in sim.regions.values()),
        *(f"Neutron:   {sim.base_url}{r.neutron_prefix}  ({r.name}, floating IPs)"
          for r in sim.regions.values() if sim.neutron),
        f"Control:   {sim.base_url}/_sim/",
        "Users:     admin/admin-secret (project admin), demo/demo-secret (project demo), "
        f"app credential {APPCRED_ID}/{APPCRED_SECRET}",
    ]
    return "\n".join(lines)

