"""Parse what the API answered, or report it `malformed` with the URL it came from.

Every reader does one of two things with an answer: turns a whole body into one object, where a
body of the wrong shape fails the call like any other error (`parsed`, `get_one`); or turns a
list's items into objects, where one bad item is reported and skipped and the others are kept
(`each`). Both say where the answer came from, so an operator can ask the same URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.octavia.failures import MALFORMED
from exporter.octavia.parse import ParseError

T = TypeVar("T")

# What a reader is told of an item it skipped: endpoint template, the problem, the list's URL.
Malformed = Callable[[str, str, str], None]


async def parsed(client: OctaviaClient, endpoint: str, path: str, body: Any,
                 build: Callable[[Any], T]) -> T:
    """`build(body)`; raises ApiError `malformed` with the URL when the body cannot be used."""
    try:
        return build(body)
    except ParseError as exc:
        raise ApiError(endpoint, MALFORMED, str(exc),
                       url=await client.url(endpoint, path)) from exc


async def get_one(client: OctaviaClient, endpoint: str, path: str,
                  build: Callable[[Any], T]) -> T:
    """GET `path`, parsed by `build` (raises ApiError, `malformed` included)."""
    return await parsed(client, endpoint, path, await client.get(endpoint, path), build)


async def url_of(client: OctaviaClient, endpoint: str, path: str,
                 service: str = "load-balancer") -> str:
    """The URL of a list that answered (its endpoint is known, so no Keystone call is made);
    "" when even that fails."""
    try:
        return await client.url(endpoint, path, service)
    except ApiError:
        return ""


def each(items: Iterable[Any], build: Callable[[Any], T], endpoint: str, url: str,
         on_malformed: Malformed) -> Iterator[T]:
    """The items `build` can use, in order; each one it cannot is reported and skipped."""
    for item in items:
        try:
            obj = build(item)
        except ParseError as exc:
            on_malformed(endpoint, str(exc), url)
            continue
        yield obj
