"""Edge cases of the API client, with aioresponses standing in for the network."""

import re
import time

import aiohttp
import pytest
from aioresponses import aioresponses

from exporter.octavia.client import OctaviaClient, api_root, retry_after_seconds
from exporter.octavia.errors import ApiError
from exporter.octavia.limiter import Limiter
from exporter.telemetry import Telemetry

ROOT = "http://octavia.test:9876"


class FakeTokens:
    def __init__(self) -> None:
        self.issued = 0
        self.current = "tok-0"

    async def token(self) -> str:
        return self.current

    async def endpoint(self) -> str:
        return ROOT + "/v2"

    async def network_endpoint(self) -> str | None:
        return None

    async def invalidate(self, stale: str) -> None:
        if stale == self.current:
            self.issued += 1
            self.current = f"tok-{self.issued}"


def make(retries: int = 2, **kw) -> tuple[OctaviaClient, FakeTokens, Telemetry]:
    telemetry = Telemetry()
    tokens = FakeTokens()
    return OctaviaClient("c", tokens, telemetry, retries=retries, **kw), tokens, telemetry


def requests(telemetry: Telemetry, endpoint: str, code: str) -> float:
    value = telemetry.registry.get_sample_value(
        "octavia_api_requests_total", {"cloud": "c", "endpoint": endpoint, "code": code})
    return value or 0.0


def test_api_root_strips_version() -> None:
    assert api_root("http://h/load-balancer/") == "http://h/load-balancer"
    assert api_root("http://h:9876/v2.0") == "http://h:9876"
    assert api_root("http://h:9876/v2") == "http://h:9876"


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("9999") == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


async def test_pagination_follows_links_but_keeps_our_host_and_fields() -> None:
    client, _, telemetry = make()
    page1 = {"loadbalancers": [{"id": "a"}, {"id": "b"}], "loadbalancers_links": [
        {"rel": "next", "href": "https://wrong-host/v2/lbaas/loadbalancers?limit=2&marker=b"}]}
    page2 = {"loadbalancers": [{"id": "c"}], "loadbalancers_links": [
        {"rel": "previous", "href": "https://wrong-host/v2/lbaas/loadbalancers?marker=c"}]}
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/v2/lbaas/loadbalancers?fields=id&limit=2", payload=page1)
        mocked.get(f"{ROOT}/v2/lbaas/loadbalancers?fields=id&limit=2&marker=b", payload=page2)
        items = await client.list_all("loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers",
                                      ["id"], page_size=2)
    await client.close()
    assert [i["id"] for i in items] == ["a", "b", "c"]
    assert requests(telemetry, "loadbalancers", "200") == 2


async def test_full_last_page_then_empty_page_stops() -> None:
    client, _, _ = make()
    full = {"pools": [{"id": "a"}], "pools_links": [
        {"rel": "next", "href": f"{ROOT}/v2/lbaas/pools?limit=1&marker=a"}]}
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/v2/lbaas/pools?limit=1", payload=full)
        mocked.get(f"{ROOT}/v2/lbaas/pools?limit=1&marker=a", payload={"pools": [],
                                                                      "pools_links": []})
        items = await client.list_all("pools", "v2/lbaas/pools", "pools", page_size=1)
    await client.close()
    assert items == [{"id": "a"}]


async def test_page_size_zero_asks_for_no_limit() -> None:
    client, _, _ = make()
    with aioresponses() as mocked:
        # Only the URL without limit= is answered: asking with one would fail the call.
        mocked.get(f"{ROOT}/v2/lbaas/pools", payload={"pools": [{"id": "a"}]})
        items = await client.list_all("pools", "v2/lbaas/pools", "pools", page_size=0)
    await client.close()
    assert items == [{"id": "a"}]


async def test_pagination_that_does_not_advance_is_an_error() -> None:
    client, _, _ = make()
    stuck = {"pools": [{"id": "a"}], "pools_links": [
        {"rel": "next", "href": f"{ROOT}/v2/lbaas/pools?marker=a"}]}
    with aioresponses() as mocked:
        mocked.get(re.compile(r".*/v2/lbaas/pools.*"), payload=stuck, repeat=True)
        with pytest.raises(ApiError) as caught:
            await client.list_all("pools", "v2/lbaas/pools", "pools")
    await client.close()
    assert caught.value.reason == "malformed"
    assert caught.value.url == f"{ROOT}/v2/lbaas/pools"


async def test_401_reauthenticates_once_and_retries() -> None:
    client, tokens, telemetry = make()
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/v2/lbaas/x", status=401)
        mocked.get(f"{ROOT}/v2/lbaas/x", payload={"ok": True})
        assert await client.get("x", "v2/lbaas/x") == {"ok": True}
        assert tokens.current == "tok-1"
        mocked.get(f"{ROOT}/v2/lbaas/y", status=401, repeat=True)
        with pytest.raises(ApiError) as caught:
            await client.get("y", "v2/lbaas/y")
    await client.close()
    assert caught.value.reason == "unauthorized"
    assert caught.value.url == f"{ROOT}/v2/lbaas/y"
    assert tokens.issued == 2  # one re-auth per request, never a loop
    assert requests(telemetry, "y", "401") == 2


async def test_5xx_is_retried_with_retry_after_then_gives_up() -> None:
    client, _, telemetry = make(retries=2)
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/a", status=503, headers={"Retry-After": "0"})
        mocked.get(f"{ROOT}/a", payload=[1])
        assert await client.get("a", "a") == [1]
        mocked.get(f"{ROOT}/b", status=502, headers={"Retry-After": "0"}, repeat=True)
        with pytest.raises(ApiError) as caught:
            await client.get("b", "b")
    await client.close()
    assert caught.value.reason == "server_error"
    assert requests(telemetry, "b", "502") == 3


async def test_4xx_is_not_retried() -> None:
    client, _, telemetry = make()
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/a", status=404, repeat=True)
        with pytest.raises(ApiError) as caught:
            await client.get("a", "a")
    await client.close()
    assert (caught.value.reason, caught.value.status) == ("not_found", 404)
    assert requests(telemetry, "a", "404") == 1


async def test_timeouts_and_connection_errors_are_counted_and_retried() -> None:
    client, _, telemetry = make(retries=1)
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/t", exception=TimeoutError(), repeat=True)
        mocked.get(f"{ROOT}/c", exception=aiohttp.ServerDisconnectedError(), repeat=True)
        with pytest.raises(ApiError, match="timeout"):
            await client.get("t", "t")
        with pytest.raises(ApiError, match="connection_error"):
            await client.get("c", "c")
    await client.close()
    assert requests(telemetry, "t", "timeout") == 2
    assert requests(telemetry, "c", "connection_error") == 2


async def test_malformed_and_oversized_bodies() -> None:
    client, _, _ = make(max_body_bytes=1024)
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/m", body="<html>proxy error</html>")
        mocked.get(f"{ROOT}/big", body="[" + "1," * 2000 + "1]")
        mocked.get(f"{ROOT}/list", payload={"other": []})
        mocked.get(f"{ROOT}/declared", body="x" * 2048, headers={"Content-Length": "2048"})
        failures = []
        for call in (lambda: client.get("m", "m"), lambda: client.get("big", "big"),
                     lambda: client.list_all("list", "list", "loadbalancers"),
                     lambda: client.get("declared", "declared")):
            with pytest.raises(ApiError) as caught:
                await call()
            failures.append((caught.value.endpoint, caught.value.reason, caught.value.url))
    await client.close()
    # Each with the URL it read, for the log line (the streamed and the declared size alike).
    assert failures == [("m", "malformed", f"{ROOT}/m"), ("big", "too_large", f"{ROOT}/big"),
                        ("list", "malformed", f"{ROOT}/list"),
                        ("declared", "too_large", f"{ROOT}/declared")]


async def test_a_page_is_resized_on_the_apis_time_not_on_the_wait_for_the_rate_budget() -> None:
    """The next page's limit= follows what the API took to answer: the wait for a token of a
    rate budget is our own queue, and counting it would shrink pages to the minimum."""
    client, _, _ = make(limiter=Limiter(rate=2.0))
    pages = [{"pools": [{"id": f"{n}"}], "pools_links": [
        {"rel": "next", "href": f"{ROOT}/v2/lbaas/pools?limit=1&marker={n}"}]} for n in range(3)]
    pages[-1]["pools_links"] = []
    seen: list[tuple[int, int, float | None]] = []

    def resize(rows: int, size: int, seconds: float | None) -> int:
        seen.append((rows, size, seconds))
        return size

    started = time.monotonic()
    with aioresponses() as mocked:
        mocked.get(f"{ROOT}/v2/lbaas/pools?limit=1", payload=pages[0])
        mocked.get(f"{ROOT}/v2/lbaas/pools?limit=1&marker=0", payload=pages[1])
        mocked.get(f"{ROOT}/v2/lbaas/pools?limit=1&marker=1", payload=pages[2])
        items = await client.list_all("pools", "v2/lbaas/pools", "pools", page_size=1,
                                      resize=resize)
    await client.close()
    assert [i["id"] for i in items] == ["0", "1", "2"]
    # Later pages waited about half a second each for a token (2 requests/s).
    assert time.monotonic() - started >= 0.8
    assert [(rows, size) for rows, size, _ in seen] == [(1, 1), (1, 1)]
    assert all(s is not None and s < 0.25 for _, _, s in seen), seen
