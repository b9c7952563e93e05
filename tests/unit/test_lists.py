"""The bulk lists' page size: the API's maximum while nothing is served yet, small after."""

from __future__ import annotations

import asyncio
from typing import Any

from exporter.model.capabilities import Capabilities
from exporter.octavia import parse
from exporter.octavia.lists import ListReader
from exporter.octavia.pacing import Pacer
from exporter.telemetry import Telemetry


class Client:
    """Answers every list with one load balancer's worth of nothing, recording limit=."""

    cloud = "c"

    def __init__(self) -> None:
        self.sizes: dict[str, list[int | None]] = {}

    async def url(self, endpoint: str, path: str, service: str = "load-balancer") -> str:
        return f"http://127.0.0.1/{path}"

    async def list_all(self, endpoint: str, path: str, key: str, fields: Any = (),
                       page_size: int | None = None, **kwargs: Any) -> list[Any]:
        self.sizes.setdefault(endpoint, []).append(page_size)
        return []

    async def get(self, endpoint: str, path: str, **kwargs: Any) -> Any:
        return {"quota": {}}


async def test_without_the_feed_first_lists_at_the_apis_maximum_then_small_pages() -> None:
    client = Client()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False),  # type: ignore[arg-type]
                        page_size=200, first_page_size=0, feed=False)
    first = await reader.read(None)
    await reader.read(first)
    for endpoint in ("loadbalancers", "listeners", "pools", "healthmonitors", "amphorae"):
        assert client.sizes[endpoint] == [0, 200], endpoint


async def test_followed_by_the_feed_even_the_first_lists_are_small_pages() -> None:
    client = Client()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False),  # type: ignore[arg-type]
                        page_size=200, first_page_size=0)
    await reader.read(await reader.read(None))
    for endpoint in ("loadbalancers", "listeners", "pools", "healthmonitors", "amphorae"):
        assert client.sizes[endpoint] == [200, 200], endpoint


async def test_an_explicit_page_size_holds_from_the_start() -> None:
    client = Client()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False),  # type: ignore[arg-type]
                        page_size=50)
    await reader.read(await reader.read(None))
    assert client.sizes["loadbalancers"] == [50, 50]


class Overlapping(Client):
    """Holds the first read's load-balancer list until released; every page shows one row
    updated at the read's own stamp, and every call records the pacing it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.held = asyncio.Event()
        self.paces: list[tuple[str, Any]] = []
        self.stamp = "2026-01-01T00:00:00"

    async def list_all(self, endpoint: str, path: str, key: str, fields: Any = (),
                       page_size: int | None = None, **kwargs: Any) -> list[Any]:
        stamp = self.stamp
        if endpoint == "loadbalancers" and not self.held.is_set():
            self.held.set()
            await self.release.wait()
        self.paces.append((stamp, kwargs.get("pace")))
        if kwargs.get("on_page") is not None:
            kwargs["on_page"]([{"id": f"x-{endpoint}", "updated_at": stamp}])
        return []


async def test_two_reads_at_once_keep_their_own_pacing_and_watermarks() -> None:
    client = Overlapping()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False),  # type: ignore[arg-type]
                        feed=False)
    pacer = Pacer(0.5)
    first = asyncio.create_task(reader.read(None, pace=pacer))
    await client.held.wait()
    client.stamp = "2026-01-02T00:00:00"
    await reader.read(None)  # unpaced, newer rows, done while the first is held
    assert reader.newest["pools"] == parse.timestamp("2026-01-02T00:00:00")
    client.release.set()
    await first
    # The first read's calls kept its pacer; the second's had none.
    assert {pace for stamp, pace in client.paces if stamp.startswith("2026-01-01")} == {
        pacer.page}
    assert {pace for stamp, pace in client.paces if stamp.startswith("2026-01-02")} == {None}
    # The last read to end is the first: its own watermarks, not a mix with the second's.
    assert reader.newest["loadbalancers"] == parse.timestamp("2026-01-01T00:00:00")
    assert reader.unanswered == {}


class Shares(Client):
    """Records the share of the pacer each list was read through."""

    def __init__(self) -> None:
        super().__init__()
        self.shares: dict[str, float | None] = {}

    async def list_all(self, endpoint: str, path: str, key: str, fields: Any = (),
                       page_size: int | None = None, **kwargs: Any) -> list[Any]:
        pace = kwargs.get("pace")
        self.shares[endpoint] = None if pace is None else pace.__self__.share
        return []


async def test_the_start_up_share_paces_the_lists_after_the_load_balancers() -> None:
    client = Shares()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False),  # type: ignore[arg-type]
                        startup_share=0.1)
    seen: list[int] = []
    first = await reader.read(None, loadbalancers_first=lambda lbs: seen.append(
        len(lbs.loadbalancers)))
    assert seen == [0]
    assert client.shares == {"loadbalancers": 1.0, "listeners": 0.1, "pools": 0.1,
                             "healthmonitors": 0.1, "amphorae": 0.1}
    # Later reads are the reconciliation's, through its own pacer.
    reconciliation = Pacer(0.04)
    await reader.read(first, pace=reconciliation)
    assert set(client.shares.values()) == {0.04}


async def test_by_default_the_first_lists_run_back_to_back() -> None:
    client = Shares()
    reader = ListReader(client, Telemetry(), Capabilities(floating_ips=False))  # type: ignore[arg-type]
    await reader.read(None, loadbalancers_first=lambda lbs: None)
    assert set(client.shares.values()) == {1.0}
