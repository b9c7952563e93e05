"""`--demo`: the simulated cloud started in-process, and the settings pointed at it."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
from collections.abc import AsyncIterator

import structlog

from exporter import config
from exporter.model import plan

log = structlog.get_logger("exporter.demo")
DEMO_INTERVAL = 10.0


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


def announce(settings: config.Settings) -> None:
    """Where the demo's pages are, for the person who just typed --demo."""
    print(f"octavia-exporter demo: a simulated cloud with {settings.demo_lbs} load "
          f"balancers is running.\n  metrics:  http://{settings.listen_host}:"
          f"{settings.listen_port}/metrics\n  overview: http://"
          f"{settings.listen_host}:{settings.listen_port}/\n"
          "Press Ctrl-C to stop.", file=sys.stderr, flush=True)
