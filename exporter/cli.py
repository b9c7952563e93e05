"""`octavia-exporter`: wire settings, credentials, schedulers and the HTTP server together."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence

import structlog

from exporter import config, logs
from exporter.export.exposition import Exposition
from exporter.export.freshness import FreshnessCollector
from exporter.model import plan
from exporter.model.capabilities import Capabilities
from exporter.octavia import l7
from exporter.octavia.auth import KeystoneTokens, resolve_clouds
from exporter.octavia.changes import FEED_PAGE_SIZE, ChangeReader
from exporter.octavia.client import OctaviaClient
from exporter.octavia.failures import KEYSTONE
from exporter.octavia.fetch import Fetcher
from exporter.octavia.limiter import Limiter
from exporter.octavia.lists import ListReader
from exporter.octavia.notifications import NotificationListener, url_password
from exporter.octavia.projects import ProjectNames, cycles_between
from exporter.poll.scheduler import CloudScheduler
from exporter.runtime.memory import MemoryPolicy
from exporter.runtime.service import Service
from exporter.telemetry import Telemetry
from exporter.web import webconfig
from exporter.web.server import ServerThread, build_app

log = structlog.get_logger("exporter.cli")
SHUTDOWN_GRACE = 10.0
DEMO_INTERVAL = 10.0


def _config_error(problems: Sequence[str]) -> int:
    print("octavia-exporter: configuration error"
          f"{'s' if len(problems) > 1 else ''}:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Run 'octavia-exporter --help' for every setting.", file=sys.stderr)
    return 2


@contextlib.asynccontextmanager
async def demo_cloud(settings: config.Settings) -> AsyncIterator[config.Settings]:
    """Start the simulated cloud in-process and point the settings at it."""
    from exporter.simulator.app import Simulator
    from exporter.simulator.fleet import FleetSpec

    simulator = Simulator(FleetSpec(lbs=settings.demo_lbs), seed=7, tick_interval=5.0)
    await simulator.start()
    with tempfile.TemporaryDirectory(prefix="octavia-exporter-demo-") as tmp:
        path = os.path.join(tmp, "clouds.yaml")
        simulator.write_clouds_yaml(path)
        os.environ["OS_CLIENT_CONFIG_FILE"] = path
        log.info("demo_cloud_started", url=simulator.base_url, clouds_yaml=path,
                 loadbalancers=settings.demo_lbs)
        try:
            yield dataclasses.replace(
                settings, clouds=("simulator",), region_name=None, interface=None,
                listen_host="127.0.0.1" if settings.listen_host in ("", "0.0.0.0", "::")
                else settings.listen_host,
                interval=DEMO_INTERVAL if settings.interval == config.DEFAULT_INTERVAL
                else settings.interval,
                # The demo's API is our own simulator, with no other client to leave room for:
                # tier 1 every interval instead of stretched to keep to --lists-share.
                lists_share=1.0 if settings.lists_share == plan.LISTS_SHARE
                else settings.lists_share,
            )
        finally:
            await simulator.stop()


def _limiter(settings: config.Settings, telemetry: Telemetry, cloud: str) -> Limiter:
    decreases = telemetry.api_limit_decreases
    for reason in ("latency", "429", "503", "timeout"):
        decreases.labels(cloud, reason)
    limiter = Limiter(rate=settings.api_max_rate, ceiling=settings.concurrency,
                      adaptive=settings.adaptive_concurrency,
                      on_decrease=lambda reason: decreases.labels(cloud, reason).inc())
    telemetry.api_concurrency_limit.labels(cloud).set_function(lambda: limiter.limit)
    telemetry.api_in_flight.labels(cloud).set_function(lambda: limiter.in_flight)
    telemetry.api_rate_limit.labels(cloud).set(settings.api_max_rate)
    return limiter


def _backlog(scheduler: CloudScheduler) -> Callable[[], float]:
    return lambda: scheduler.backlog


def build_service(settings: config.Settings, telemetry: Telemetry,
                  manage_gc: bool = False) -> tuple[Service, Exposition, list[OctaviaClient]]:
    if settings.notifications_url:
        secret = url_password(settings.notifications_url)
        if secret:
            logs.REDACTOR.sources.append(frozenset({secret}))
    clouds = resolve_clouds(settings)
    schedulers: list[CloudScheduler] = []
    clients: list[OctaviaClient] = []
    exposition = Exposition(telemetry.registry, stateset=settings.status_series == "stateset")
    service = Service(schedulers, exposition)
    memory = MemoryPolicy() if manage_gc else None
    rules = plan.Rules(
        shard=settings.shard, member_details=settings.member_details,
        listener_stats=settings.listener_stats,
        stats_via_amphorae=settings.stats_via_amphorae and settings.amphorae,
        amphora_stats=settings.amphora_stats and settings.amphorae,
        healthy_tree_interval=settings.healthy_tree_interval,
        stats_interval=settings.stats_interval)
    for cloud in clouds:
        logs.REDACTOR.sources.append(cloud.secrets)
        tokens = KeystoneTokens(cloud, on_auth=telemetry.auth_recorder(cloud.name))
        logs.REDACTOR.sources.append(tokens.secrets)
        client = OctaviaClient(
            cloud.name, tokens, telemetry,
            concurrency=settings.concurrency, request_timeout=settings.request_timeout,
            retries=settings.retries, max_body_bytes=settings.max_body_bytes,
            ssl=cloud.ssl_context(), limiter=_limiter(settings, telemetry, cloud.name),
        )
        clients.append(client)
        capabilities = Capabilities(amphorae=settings.amphorae,
                                    amphora_stats=settings.amphora_stats,
                                    floating_ips=settings.floating_ips,
                                    project_names=settings.project_names_interval > 0)
        names = ProjectNames(
            cloud.name, tokens, capabilities,
            every=cycles_between(settings.project_names_interval, settings.interval),
            on_error=functools.partial(telemetry.poll_error, cloud.name, KEYSTONE))
        page_size = (config.DEFAULT_PAGE_SIZE if settings.page_size is None
                     else settings.page_size)
        fetcher = Fetcher(client, telemetry, rules, capabilities, page_size=page_size)
        scheduler = CloudScheduler(
            ListReader(client, telemetry, capabilities, shard=settings.shard,
                       page_size=page_size,
                       first_page_size=0 if settings.page_size is None else None,
                       names=names, feed=settings.changes_feed),
            fetcher,
            rules, capabilities, telemetry, service.publish,
            interval=settings.interval, lists_share=settings.lists_share,
            cycle_timeout=settings.cycle_timeout,
            max_staleness=settings.max_staleness, workers=settings.concurrency,
            after_lists=memory.settle if memory else None,
            rule_reader=l7.RuleReader(client, page_size=page_size,
                                      healthy_interval=settings.l7_rules_interval,
                                      concurrency=settings.concurrency, on_error=fetcher.failed),
            feed=ChangeReader(client, capabilities, shard=settings.shard,
                              page_size=min(page_size or FEED_PAGE_SIZE, FEED_PAGE_SIZE))
            if settings.changes_feed else None,
            reconcile_interval=settings.reconcile_interval)
        telemetry.detail_backlog.labels(cloud.name).set_function(_backlog(scheduler))
        schedulers.append(scheduler)
    service.clouds[:] = schedulers
    telemetry.registry.register(FreshnessCollector(service.views, settings.detail_target))
    return service, exposition, clients


async def run_once(settings: config.Settings) -> int:
    telemetry = Telemetry()
    service, exposition, clients = build_service(settings, telemetry)
    try:
        results = [await service.run_cycle(state) for state in service.clouds]
    finally:
        await service.stop()
        for client in clients:
            await client.close()
    body, _ = exposition.body(openmetrics=False, compress=False)
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0 if all(results) else 1


async def serve(settings: config.Settings) -> int:
    # Three threads share the GIL while serving: the poll loop, the renderer and the HTTP
    # server. A 1 ms switch interval (default 5 ms) lets a scrape through promptly while a large
    # cycle is being parsed or rendered: /metrics p50 during a cycle went from ~65 to ~29 ms
    # for a 29 MB body in our measurement (docs/benchmarks.md).
    sys.setswitchinterval(0.001)
    web_config = webconfig.WebConfig()
    if settings.web_config_file:
        try:
            web_config = webconfig.load(settings.web_config_file)
        except ValueError as exc:
            return _config_error(str(exc).splitlines())
    telemetry = Telemetry()
    service, exposition, clients = build_service(settings, telemetry, manage_gc=True)
    app = build_app(service, exposition, web_config, telemetry_path=settings.telemetry_path,
                    settings=settings, telemetry=telemetry)
    server = ServerThread(app, settings.listen_host,
                          settings.listen_port, web_config.ssl_context)
    try:
        server.start()
    except OSError as exc:
        for client in clients:
            await client.close()
        return _config_error([f"listen_address (--web.listen-address): cannot listen on "
                              f"{settings.listen_host}:{settings.listen_port}: {exc.strerror}"])
    host = {"": "localhost", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
        settings.listen_host, settings.listen_host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if web_config.ssl_context else "http"
    log.info("listening", url=f"{scheme}://{host}:{settings.listen_port}"
             f"{settings.telemetry_path}", addresses=server.addresses,
             clouds=[c.cloud for c in service.clouds], interval=settings.interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    listener = None
    if settings.notifications_url and service.clouds:
        cloud = service.clouds[0].cloud
        listener = NotificationListener(
            cloud, settings.notifications_url, telemetry,
            lambda event: service.on_event(cloud, event),
            exchange=settings.notifications_exchange, topic=settings.notifications_topic,
            queue=settings.notifications_queue)
        listener.start()
    await stop.wait()
    log.info("shutting_down")
    if listener is not None:
        await listener.stop()
    try:
        await asyncio.wait_for(service.stop(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning("shutdown_timeout", seconds=SHUTDOWN_GRACE)
    for client in clients:
        await client.close()
    server.stop()
    return 0


async def amain(settings: config.Settings) -> int:
    if settings.demo:
        async with demo_cloud(settings) as demo_settings:
            print(f"octavia-exporter demo: a simulated cloud with {settings.demo_lbs} load "
                  f"balancers is running.\n  metrics:  http://{demo_settings.listen_host}:"
                  f"{demo_settings.listen_port}/metrics\n  overview: http://"
                  f"{demo_settings.listen_host}:{demo_settings.listen_port}/\n"
                  "Press Ctrl-C to stop.", file=sys.stderr, flush=True)
            return await serve(demo_settings)
    if settings.once:
        return await run_once(settings)
    return await serve(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["healthcheck"]:
        # A subcommand rather than a flag: it takes the server's settings as its own arguments.
        from exporter.web import healthcheck

        return healthcheck.main(args[1:])
    try:
        settings = config.load(args)
    except config.ConfigError as exc:
        return _config_error(exc.problems)
    logs.configure(settings.log_level, settings.log_format)
    for message in settings.deprecations:
        log.warning("deprecated_flag", message=message)
    try:
        return asyncio.run(amain(settings))
    except config.ConfigError as exc:
        return _config_error(exc.problems)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
