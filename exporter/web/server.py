"""HTTP endpoints: the telemetry path (/metrics), / (overview), /healthz, /readyz and the
PROMETHEUS listeners' service discovery — served from their own thread.

The poller's event loop is busy for seconds at a time during a large cycle (thousands of
responses to parse). A scrape must not queue behind that work, so the HTTP server runs its own
event loop in a dedicated thread. It only reads: the latest rendered exposition (swapped
atomically), the thread-safe self-metrics registry, and the polling health.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from aiohttp import web

from exporter.config import DEFAULT_TELEMETRY_PATH, Settings
from exporter.export.exposition import Exposition
from exporter.model.snapshot import CloudView
from exporter.telemetry import LastError, Telemetry
from exporter.web import discovery, middleware, overview
from exporter.web.webconfig import WebConfig


class Polling(Protocol):
    """What the endpoints need of the process behind them (runtime.service.Service): read
    from the server's thread, so each answer must be safe to take there."""

    @property
    def alive(self) -> bool:
        """The poll loops are running (/healthz)."""

    @property
    def ready(self) -> bool:
        """Every cloud's first poll cycle is on /metrics (/readyz)."""

    def views(self) -> Sequence[CloudView]:
        """Each cloud's current snapshot and health (the overview page)."""


WRITE_CHUNK = 4 * 1024 * 1024
SERVICE_KEY: web.AppKey[Polling] = web.AppKey("service")
EXPOSITION_KEY: web.AppKey[Exposition] = web.AppKey("exposition", Exposition)
OVERVIEW_KEY: web.AppKey[Callable[[], overview.Overview]] = web.AppKey("overview")


def wants_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in accept


def wants_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*") and params.replace(" ", "") != "q=0":
            return True
    return False


async def metrics(request: web.Request) -> web.StreamResponse:
    exposition = request.app[EXPOSITION_KEY]
    compress = wants_gzip(request.headers.get("Accept-Encoding", ""))
    parts, length, content_type = exposition.stream(
        wants_openmetrics(request.headers.get("Accept", "")), compress)
    response = web.StreamResponse(headers={"Content-Type": content_type,
                                           "Vary": "Accept, Accept-Encoding"})
    if compress:
        response.headers["Content-Encoding"] = "gzip"
    response.content_length = length
    await response.prepare(request)
    # The cached fleet part is tens of MB at fleet scale, in hundreds of segments. Each write
    # may wait for the socket to drain, and each wait is an event-loop round trip that has to
    # win the GIL, so segments are coalesced into writes of a few MB: far fewer round trips,
    # and never one copy of the whole body.
    pending: list[bytes] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += len(part)
        if size >= WRITE_CHUNK:
            await response.write(b"".join(pending))
            pending, size = [], 0
    if pending:
        await response.write(b"".join(pending))
    await response.write_eof()
    return response


async def healthz(request: web.Request) -> web.Response:
    if request.app[SERVICE_KEY].alive:
        return web.Response(text="ok\n")
    return web.Response(status=503, text="poll loop not running\n")


async def readyz(request: web.Request) -> web.Response:
    if request.app[SERVICE_KEY].ready:
        return web.Response(text="ready\n")
    return web.Response(status=503, text="waiting for the first poll cycle\n")


async def landing(request: web.Request) -> web.Response:
    return web.Response(text=overview.render(request.app[OVERVIEW_KEY]()),
                        content_type="text/html")


def build_app(service: Polling, exposition: Exposition, web_config: WebConfig | None = None,
              *, telemetry_path: str = DEFAULT_TELEMETRY_PATH, settings: Settings | None = None,
              telemetry: Telemetry | None = None) -> web.Application:
    web_config = web_config or WebConfig()
    app = web.Application(middlewares=middleware.middlewares(web_config))
    if web_config.headers:
        app.on_response_prepare.append(middleware.header_hook(web_config.headers))
    app[SERVICE_KEY] = service
    app[EXPOSITION_KEY] = exposition

    def errors(cloud: str) -> list[LastError]:
        return telemetry.last_errors(cloud) if telemetry is not None else []

    app[OVERVIEW_KEY] = lambda: overview.build(service.views(), errors, settings,
                                               telemetry_path)
    app.router.add_get("/", landing)
    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get(discovery.PATH, discovery.handler(service.views))
    return app


class ServerThread:
    """Runs the aiohttp app on its own event loop in a daemon thread."""

    def __init__(self, app: web.Application, host: str, port: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        # host "" binds every interface of both families (one socket each, IPv6 with
        # IPV6_V6ONLY), like Go's ":port"; a host without IPv6 gets the IPv4 socket only.
        self._app = app
        self._host, self._port, self._ssl = host, port, ssl_context
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self.addresses: list[str] = []
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(self._app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self._host or None, self._port,
                               ssl_context=self._ssl)
            self._loop.run_until_complete(site.start())
            self.addresses = [str(a[0]) + ":" + str(a[1]) if isinstance(a, tuple) else str(a)
                              for a in self._runner.addresses]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        """Start serving; raise what binding raised (OSError for a port in use)."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
