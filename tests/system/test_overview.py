"""The overview page `/` in a real browser: headless Chromium renders it (a screenshot that is
not blank, at a phone's width) and its DOM says, for a healthy and a failing cloud, the state,
the last error with its reason, endpoint and URL, the counts, and the settings with secrets
masked."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from exporter.config import Settings
from exporter.runtime.process import build_service
from exporter.telemetry import Telemetry
from exporter.web import overview
from exporter.web.server import build_app
from tests.support.exporter import use_clouds_yaml
from tests.support.ports import free_port
from tests.support.tools import require_binary

RABBIT_PASSWORD = "rabbit-pass-never-shown"


async def chromium(*args: str, timeout: float = 90) -> bytes:
    binary = require_binary("chromium", "chromium-browser",
                            install="apt-get install chromium; bash scripts/test.sh installs it")
    # Nothing but the page: no update checks, no component downloads, no other traffic that
    # would leave the machine.
    process = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--hide-scrollbars", "--disable-background-networking",
        "--disable-component-update", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, err.decode()[-2000:]
    return out


class Dom(HTMLParser):
    """Elements with their attributes and text, enough to query by data- attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in ("meta", "br", "link", "img", "input"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, **attrs: str) -> list[dict[str, Any]]:
        return [e for e in self.elements
                if all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated scanlines of a PNG (no image library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, zlib.decompress(idat)


@pytest.fixture
async def page(sim, tmp_path, monkeypatch) -> Any:
    """A served exporter with one healthy cloud (the simulator) and one whose Keystone port is
    closed, after one cycle each."""
    clouds = sim.clouds_yaml()
    broken_url = f"http://127.0.0.1:{free_port()}/v3"
    clouds["clouds"]["broken"] = {**clouds["clouds"]["simulator"], "auth": {
        **clouds["clouds"]["simulator"]["auth"], "auth_url": broken_url}}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds))
    use_clouds_yaml(monkeypatch, path)
    settings = Settings(clouds=("simulator", "broken"), retries=0, request_timeout=2.0,
                        notifications_url=f"amqp://exporter:{RABBIT_PASSWORD}@127.0.0.1:1/")
    telemetry = Telemetry()
    service, exposition, clients = build_service(settings, telemetry)
    for state in service.clouds:
        await service.run_cycle(state)
    app = build_app(service, exposition, telemetry_path="/metrics", settings=settings,
                    telemetry=telemetry)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield {"url": f"http://127.0.0.1:{port}/", "broken_url": broken_url, "sim": sim}
    await runner.cleanup()
    for client in clients:
        await client.close()


async def test_overview_dom_in_chromium(page) -> None:
    dom = Dom()
    dom.feed((await chromium("--dump-dom", page["url"])).decode())

    healthy = dom.find(data_cloud="simulator")[0]
    assert "up" in [e["attrs"].get("data-state") for e in dom.find(data_state="up")]
    assert "last success" in healthy["text"] and "never" not in healthy["text"].split(
        "last success")[1][:15]
    counts: dict[str, int] = {}
    for element in dom.elements:  # the healthy cloud's section comes first
        if element["attrs"].get("data-kind"):
            counts.setdefault(element["attrs"]["data-kind"],
                              int(re.sub(r"\D", "", element["text"])))
    assert counts["loadbalancer"] == 12 and counts["listener"] > 0 and counts["member"] > 0

    failing = dom.find(data_cloud="broken")[0]
    assert "waiting" not in failing["text"] and "down" in failing["text"]
    error = dom.find(data_reason="connection_refused")
    assert error and error[0]["attrs"]["data-endpoint"] == "keystone"
    assert page["broken_url"] in error[0]["text"]

    assert dom.find(id="metrics-link")[0]["attrs"]["href"] == "/metrics"
    assert dom.find(name="viewport")
    settings = dom.find(id="settings")[0]["text"]
    assert "amqp://exporter:***@127.0.0.1:1/" in settings and RABBIT_PASSWORD not in settings
    assert "interval" in settings and "shard" in settings
    assert not dom.find(tag="script") and not [e for e in dom.elements if e["tag"] == "script"]


async def test_overview_screenshot_renders_at_phone_width(page, tmp_path) -> None:
    shot = tmp_path / "overview.png"
    await chromium(f"--screenshot={shot}", "--window-size=412,1400", page["url"])
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (412, 1400)
    # Not blank: many distinct byte values (text, badges, borders), not one background colour.
    assert len(set(pixels[::7])) > 40
    assert shot.stat().st_size > 20_000


def test_view_model_for_a_cloud_that_never_answered() -> None:
    from exporter.model.snapshot import CloudHealth, CloudView
    from exporter.telemetry import LastError

    view = CloudView(CloudHealth(cloud="c", cycles_completed=2, interval=30.0), None)
    model = overview.build([view], lambda c: [LastError("keystone", "dns", 95.0,
                                                        "http://k.invalid/v3")], now=100.0)
    row = model.clouds[0]
    assert (row.state, row.last_error and row.last_error.reason) == ("down", "dns")
    assert row.counts["loadbalancer"] == 0 and row.last_success == 0.0
    text = overview.render(model)
    assert "5 s ago" in text and "http://k.invalid/v3" in text and "never" in text
