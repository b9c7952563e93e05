"""The process: every part the exporter runs, built, started, stopped and closed in one place.

A `Runtime` holds the settings and the redactor of the process's log lines from the start
(the command line hands the redactor to the log configuration before anything is built);
`build` makes each cloud's client and poller and the service over them; `serve` adds the HTTP
server and the notification listener, runs until SIGTERM or SIGINT, and takes it all down in
the reverse order; `run_once` runs one cycle per cloud and prints the exposition.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog

from exporter import logs
from exporter.config import ConfigError, Settings
from exporter.export.exposition import Exposition
from exporter.export.freshness import FreshnessCollector
from exporter.logs import Redactor
from exporter.octavia.auth import resolve_clouds
from exporter.octavia.client import OctaviaClient
from exporter.octavia.notifications import NotificationListener, url_password
from exporter.runtime import cloud, demo
from exporter.runtime.memory import MemoryPolicy
from exporter.runtime.service import Poller, Publish, Service
from exporter.telemetry import Telemetry
from exporter.web import webconfig
from exporter.web.server import ServerThread, build_app

log = structlog.get_logger("exporter.runtime")
SHUTDOWN_GRACE = 10.0


class Runtime:
    def __init__(self, settings: Settings, *, telemetry: Telemetry | None = None,
                 redactor: Redactor | None = None) -> None:
        self.settings = settings
        self.telemetry = telemetry or Telemetry()
        # Every secret the parts bring is registered here as they are built.
        self.redactor = Redactor() if redactor is None else redactor
        self.clients: list[OctaviaClient] = []
        self._service: Service | None = None
        self._exposition: Exposition | None = None
        self._listener: NotificationListener | None = None
        self._server: ServerThread | None = None

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("Runtime.build() has not run")
        return self._service

    @property
    def exposition(self) -> Exposition:
        if self._exposition is None:
            raise RuntimeError("Runtime.build() has not run")
        return self._exposition

    def build(self, manage_gc: bool = False) -> None:
        """Each configured cloud's client and poller and the service over them, nothing
        started; `manage_gc` for a serving process (runtime/memory.py). Raises ConfigError
        naming every cloud that cannot be used."""
        settings, telemetry = self.settings, self.telemetry
        if settings.notifications_url:
            secret = url_password(settings.notifications_url)
            if secret:
                self.redactor.add(frozenset({secret}))
        clouds = resolve_clouds(settings)
        memory = MemoryPolicy() if manage_gc else None
        exposition = Exposition(telemetry.registry,
                                stateset=settings.status_series == "stateset")

        def pollers(publish: Publish) -> list[Poller]:
            built = []
            for each in clouds:
                client, poller = cloud.build(
                    settings, each, telemetry, self.redactor, publish,
                    after_lists=memory.settle if memory else None)
                self.clients.append(client)
                built.append(poller)
            return built

        self._service = service = Service(exposition, pollers)
        self._exposition = exposition
        telemetry.registry.register(FreshnessCollector(service.views, settings.detail_target))

    async def start(self) -> None:
        """The pollers on schedule, then the notification listener (tied to the first cloud)."""
        service, settings = self.service, self.settings
        await service.start()
        if settings.notifications_url and service.clouds:
            name = service.clouds[0].cloud
            self._listener = NotificationListener(
                name, settings.notifications_url, self.telemetry,
                lambda event: service.on_event(name, event),
                exchange=settings.notifications_exchange, topic=settings.notifications_topic,
                queue=settings.notifications_queue)
            self._listener.start()

    async def stop(self) -> None:
        """The listener, then the pollers (an in-flight cycle is cancelled), within
        SHUTDOWN_GRACE."""
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        try:
            await asyncio.wait_for(self.service.stop(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("shutdown_timeout", seconds=SHUTDOWN_GRACE)

    async def close(self) -> None:
        """The clients' connections, then the HTTP server."""
        for client in self.clients:
            await client.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    async def run(self) -> int:
        """What the settings ask for: --demo, --once, or serve. Raises ConfigError."""
        if self.settings.demo:
            async with demo.demo_cloud(self.settings) as settings:
                self.settings = settings
                demo.announce(settings)
                return await self.serve()
        if self.settings.once:
            return await self.run_once()
        return await self.serve()

    async def run_once(self) -> int:
        """One cycle of every cloud, the exposition on stdout; 0 when every tier 1 succeeded."""
        self.build()
        try:
            results = [await self.service.run_cycle(state) for state in self.service.clouds]
        finally:
            await self.service.stop()
            await self.close()
        body, _ = self.exposition.body(openmetrics=False, compress=False)
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0 if all(results) else 1

    async def serve(self) -> int:
        """Poll and serve until SIGTERM or SIGINT; 0 after a clean shutdown."""
        settings = self.settings
        # Three threads share the GIL while serving: the poll loop, the renderer and the HTTP
        # server. A 1 ms switch interval (default 5 ms) lets a scrape through promptly while a
        # large cycle is being parsed or rendered: /metrics p50 during a cycle went from ~65 to
        # ~29 ms for a 29 MB body in our measurement (docs/benchmarks.md).
        sys.setswitchinterval(0.001)
        web_config = webconfig.WebConfig()
        if settings.web_config_file:
            try:
                web_config = webconfig.load(settings.web_config_file)
            except webconfig.WebConfigError as exc:
                raise ConfigError(str(exc).splitlines()) from exc
        self.build(manage_gc=True)
        app = build_app(self.service, self.exposition, web_config,
                        telemetry_path=settings.telemetry_path, settings=settings,
                        telemetry=self.telemetry)
        server = ServerThread(app, settings.listen_host, settings.listen_port,
                              web_config.ssl_context)
        try:
            server.start()
        except OSError as exc:
            await self.close()
            raise ConfigError([f"listen_address (--web.listen-address): cannot listen on "
                               f"{settings.listen_host}:{settings.listen_port}: "
                               f"{exc.strerror}"]) from exc
        self._server = server
        host = {"": "localhost", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
            settings.listen_host, settings.listen_host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "https" if web_config.ssl_context else "http"
        log.info("listening", url=f"{scheme}://{host}:{settings.listen_port}"
                 f"{settings.telemetry_path}", addresses=server.addresses,
                 clouds=[c.cloud for c in self.service.clouds], interval=settings.interval)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            await stop.wait()
            log.info("shutting_down")
        finally:
            await self.stop()
            await self.close()
        return 0


def build_service(settings: Settings, telemetry: Telemetry, manage_gc: bool = False,
                  ) -> tuple[Service, Exposition, list[OctaviaClient]]:
    """A runtime's service, exposition and clients, built and not started, for callers that
    drive the cycles themselves (tests, benchmarks; they close the clients). Its secrets go
    to the redactor of the log configuration in force, so they are masked there."""
    runtime = Runtime(settings, telemetry=telemetry, redactor=logs.installed_redactor())
    runtime.build(manage_gc=manage_gc)
    return runtime.service, runtime.exposition, runtime.clients
