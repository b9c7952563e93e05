"""One way to parse an answer: a bad body fails the call with its URL, a bad item is skipped."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.octavia import parse, source
from exporter.octavia.errors import ApiError


class Client:
    """Answers GET with a fixed body; its URLs are on loopback."""

    def __init__(self, body: Any = None, url_fails: bool = False) -> None:
        self.body = body
        self.url_fails = url_fails

    async def url(self, endpoint: str, path: str, service: str = "load-balancer") -> str:
        if self.url_fails:
            raise ApiError("keystone", "timeout", "no token")
        return f"http://127.0.0.1:9876/{path}"

    async def get(self, endpoint: str, path: str) -> Any:
        return self.body


async def test_a_body_of_the_wrong_shape_fails_as_malformed_with_its_url() -> None:
    client = Client({"nothing": {}})
    with pytest.raises(ApiError) as caught:
        await source.get_one(client, "listeners/{id}/stats",  # type: ignore[arg-type]
                             "v2/lbaas/listeners/l1/stats", parse.stats)
    assert caught.value.reason == "malformed"
    assert caught.value.endpoint == "listeners/{id}/stats"
    assert caught.value.url == "http://127.0.0.1:9876/v2/lbaas/listeners/l1/stats"
    assert "no 'stats'" in str(caught.value)


async def test_a_usable_body_is_built() -> None:
    client = Client({"stats": {"bytes_in": 1, "bytes_out": 2, "active_connections": 3,
                               "total_connections": 4, "request_errors": 5}})
    stats = await source.get_one(client, "e", "p", parse.stats)  # type: ignore[arg-type]
    assert (stats.bytes_in, stats.request_errors) == (1, 5)


def test_each_skips_and_reports_every_bad_item_keeping_the_good_ones_in_order() -> None:
    reported: list[tuple[str, str, str]] = []
    items = [{"id": "a"}, "junk", {"id": "b"}, {"name": "no id"}]
    kept = list(source.each(items, parse.object_id, "pools", "http://127.0.0.1/x",
                            lambda *args: reported.append(args)))
    assert kept == ["a", "b"]
    assert [(e, url) for e, _, url in reported] == [("pools", "http://127.0.0.1/x")] * 2
    assert "expected an object" in reported[0][1]


async def test_a_list_url_that_cannot_be_had_is_blank() -> None:
    assert await source.url_of(Client(url_fails=True), "e", "p") == ""  # type: ignore[arg-type]
    assert await source.url_of(Client(), "e", "v2/x") == "http://127.0.0.1:9876/v2/x"  # type: ignore[arg-type]
