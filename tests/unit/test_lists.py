"""The bulk lists' page size: the API's maximum while nothing is served yet, small after."""

from __future__ import annotations

from typing import Any

from exporter.model.capabilities import Capabilities
from exporter.octavia.lists import ListReader
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
