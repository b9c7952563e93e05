"""Lets aioresponses 0.7.9 build responses on aiohttp 3.14 and later.

aiohttp 3.14 made `stream_writer` a required argument of ClientResponse, and aioresponses 0.7.9
(the newest) does not pass it. Rather than cap aiohttp for every user because of a test library,
the client's edge-case tests give aioresponses a response class that supplies a writer stand-in;
on older aiohttp nothing changes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse

_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


class _MockedResponse(ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        # A mocked response was never written to a socket: zero bytes went out.
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture(autouse=True)
def _aioresponses_on_current_aiohttp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if _NEEDS_STREAM_WRITER:
        monkeypatch.setattr(aioresponses.core, "ClientResponse", _MockedResponse)
    yield
