"""Async Octavia API client: bounded concurrency, retries, re-auth, pagination.

One instance per cloud. Every request is counted and timed by endpoint *template* (never by
URL, which would put ids into label values), so the request metrics stay small however large
the fleet is.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from exporter import __version__
from exporter.octavia.auth import TokenProvider
from exporter.octavia.errors import ApiError, AuthFailed
from exporter.octavia.failures import (
    KEYSTONE,
    MALFORMED,
    TIMEOUT,
    reason_for_status,
    service_reason,
)
from exporter.octavia.limiter import ERROR, OK, RATE_LIMITED, UNAVAILABLE, Limiter
from exporter.octavia.limiter import TIMEOUT as TIMED_OUT
from exporter.telemetry import Telemetry

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
MAX_PAGES = 100_000


def api_root(catalog_url: str) -> str:
    """The catalog may name Octavia with or without a version suffix; we want the bare root."""
    root = catalog_url.rstrip("/")
    for suffix in ("/v2.0", "/v2"):
        if root.endswith(suffix):
            return root[: -len(suffix)]
    return root


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def backoff(attempt: int) -> float:
    # Full jitter: concurrent failures spread out instead of retrying in lockstep.
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


class OctaviaClient:
    def __init__(
        self,
        cloud: str,
        tokens: TokenProvider,
        telemetry: Telemetry,
        *,
        concurrency: int = 16,
        request_timeout: float = 10.0,
        retries: int = 3,
        max_body_bytes: int = 64 * 1024 * 1024,
        ssl: Any = True,
        limiter: Limiter | None = None,
    ) -> None:
        self.cloud = cloud
        self._tokens = tokens
        self._telemetry = telemetry
        self._retries = retries
        self._max_body = max_body_bytes
        # Without a budget of its own the client behaves as a plain bounded pool.
        self.limiter = limiter or Limiter(ceiling=concurrency, adaptive=False)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._ssl = ssl
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None
        self._counters: dict[tuple[str, str], Any] = {}
        self._histograms: dict[str, Any] = {}

    @property
    def tokens(self) -> TokenProvider:
        return self._tokens

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency, ssl=self._ssl),
                timeout=self._timeout,
                # The API sets no cookies we need; the jar costs time on every response.
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"Accept": "application/json",
                         "User-Agent": f"octavia-exporter/{__version__}"},
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _count(self, endpoint: str, code: str, started: float) -> None:
        # The labelled children are cached: 30,000 requests a cycle at fleet scale.
        counter = self._counters.get((endpoint, code))
        if counter is None:
            counter = self._counters[(endpoint, code)] = self._telemetry.api_requests.labels(
                self.cloud, endpoint, code)
        histogram = self._histograms.get(endpoint)
        if histogram is None:
            histogram = self._histograms[endpoint] = self._telemetry.api_duration.labels(
                self.cloud, endpoint)
        counter.inc()
        histogram.observe(time.monotonic() - started)

    async def _read(self, response: aiohttp.ClientResponse, endpoint: str) -> bytes:
        declared = response.content_length
        if declared is not None and declared > self._max_body:
            raise ApiError(endpoint, "too_large", f"{declared} bytes declared",
                           url=str(response.url))
        if declared is not None:
            return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > self._max_body:
                raise ApiError(endpoint, "too_large", f"over {self._max_body} bytes",
                               url=str(response.url))
            chunks.append(chunk)
        return b"".join(chunks)

    async def _root(self, endpoint: str, service: str) -> str:
        if service == "network":
            network = await self._tokens.network_endpoint()
            if network is None:
                raise ApiError(endpoint, "no_endpoint", "no network service in catalog")
            return api_root(network)
        return api_root(await self._tokens.endpoint())

    async def url(self, endpoint: str, path: str, service: str = "load-balancer") -> str:
        """Where `path` of `service` is, for a log line; a Keystone failure on the way is
        Keystone's, as in get()."""
        try:
            root = await self._root(endpoint, service)
        except AuthFailed as exc:
            raise ApiError(KEYSTONE, exc.reason, str(exc), url=exc.url) from exc
        return f"{root}/{path.lstrip('/')}"

    async def get(
        self, endpoint: str, path: str, params: Sequence[tuple[str, str]] = (),
        service: str = "load-balancer", on_answer: Callable[[float], None] | None = None,
    ) -> Any:
        """GET `path` (relative to the service's root: Octavia, or Neutron with
        service="network") and return the decoded JSON body. `on_answer` is given the seconds
        the answered request took from its admission (without the wait for a slot or a
        token)."""
        reauthenticated = False
        attempt = 0
        while True:
            try:
                token = await self._tokens.token()
            except AuthFailed as exc:
                # Counted against Keystone, not against the call that happened to need a token.
                raise ApiError(KEYSTONE, exc.reason, str(exc), url=exc.url) from exc
            url = await self.url(endpoint, path, service)
            delay: float | None = None
            ticket = await self.limiter.acquire()
            # Timed from admission: the wait for a slot or a token is our own queue, not the API.
            started = time.monotonic()
            outcome = ERROR
            try:
                try:
                    async with self._http().get(
                        url, params=list(params), headers={"X-Auth-Token": token}
                    ) as response:
                        status = response.status
                        outcome = (RATE_LIMITED if status == 429 else
                                   UNAVAILABLE if status == 503 else OK)
                        if status == 401 and not reauthenticated:
                            self._count(endpoint, "401", started)
                            reauthenticated = True
                            await self._tokens.invalidate(token)
                            continue
                        if status in RETRYABLE:
                            self._count(endpoint, str(status), started)
                            delay = retry_after_seconds(response.headers.get("Retry-After"))
                            if attempt >= self._retries:
                                raise ApiError(endpoint, reason_for_status(status),
                                               f"HTTP {status}", status=status, url=url)
                        elif status >= 400:
                            self._count(endpoint, str(status), started)
                            raise ApiError(endpoint, reason_for_status(status),
                                           f"HTTP {status}", status=status, url=url)
                        else:
                            body = await self._read(response, endpoint)
                            self._count(endpoint, str(status), started)
                            if on_answer is not None:
                                on_answer(time.monotonic() - started)
                            try:
                                return json.loads(body)
                            except ValueError as exc:
                                raise ApiError(endpoint, MALFORMED, "body is not JSON",
                                               url=url) from exc
                except TimeoutError as exc:
                    outcome = TIMED_OUT
                    self._count(endpoint, "timeout", started)
                    if attempt >= self._retries:
                        raise ApiError(endpoint, TIMEOUT, url=url) from exc
                except aiohttp.ClientError as exc:
                    outcome = ERROR
                    self._count(endpoint, "connection_error", started)
                    if attempt >= self._retries:
                        raise ApiError(endpoint, service_reason(exc), type(exc).__name__,
                                       url=url) from exc
            finally:
                self.limiter.release(ticket, outcome, time.monotonic() - started, endpoint,
                                     delay)
            await asyncio.sleep(backoff(attempt) if delay is None else delay)
            attempt += 1

    async def list_all(
        self,
        endpoint: str,
        path: str,
        collection: str,
        fields: Sequence[str] = (),
        page_size: int | None = None,
        on_page: Callable[[list[Any]], bool | None] | None = None,
        service: str = "load-balancer",
        query: Sequence[tuple[str, str]] = (),
        pace: Callable[[], AbstractAsyncContextManager[None]] | None = None,
        resize: Callable[[int, int, float | None], int] | None = None,
    ) -> list[Any]:
        """Every item of a collection, following `<collection>_links` to a short or empty page.

        With `on_page`, each page is handed over as it arrives and nothing is accumulated: at
        fleet scale the raw JSON of every list at once would be the exporter's peak memory;
        `on_page` returning False ends the read there (the changes feed stops at its
        watermark). `query` (sort=, filters) is sent with every page: Octavia's next links drop
        filters. `pace` wraps each page's request (one page at a time, gaps between pages);
        `resize(rows, size, seconds)` gives the next page's limit= from the last page's rows,
        limit= and the seconds the API took to answer it (None: not known).
        """
        base: list[tuple[str, str]] = [("fields", f) for f in fields]
        base.extend(query)
        if page_size:
            base.append(("limit", str(page_size)))
        params = list(base)
        items: list[Any] = []
        seen_markers: set[str] = set()
        answered: list[float] = []
        for _ in range(MAX_PAGES):
            answered.clear()
            if pace is None:
                body = await self.get(endpoint, path, params, service, answered.append)
            else:
                async with pace():
                    body = await self.get(endpoint, path, params, service, answered.append)
            if not isinstance(body, Mapping) or not isinstance(body.get(collection), list):
                raise ApiError(endpoint, MALFORMED, f"no '{collection}' list in the response",
                               url=await self.url(endpoint, path, service))
            page = body[collection]
            if not page:
                break
            if on_page is None:
                items.extend(page)
            elif on_page(page) is False:
                break
            next_query = _next_query(body.get(f"{collection}_links"))
            if next_query is None:
                break
            marker = dict(next_query).get("marker", "")
            if not marker or marker in seen_markers:
                # A next link that does not move would loop forever; what we have is complete
                # as far as the API will tell us.
                raise ApiError(endpoint, MALFORMED, "pagination did not advance",
                               url=await self.url(endpoint, path, service))
            seen_markers.add(marker)
            # Keep our own host and fields=; take only the paging parameters from the link, since
            # behind a TLS-terminating proxy Octavia may build links with the wrong scheme/host.
            paging = [(k, v) for k, v in next_query
                      if k in ("marker", "limit", "page_reverse", "sort")]
            if resize is not None and page_size:
                page_size = resize(len(page), page_size, answered[-1] if answered else None)
                paging = [(k, v) for k, v in paging if k != "limit"]
                paging.append(("limit", str(page_size)))
            taken = {k for k, _ in paging}
            params = [*((k, v) for k, v in base_without_limit(base) if k not in taken), *paging]
        return items


def base_without_limit(base: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in base if k != "limit"]


def _next_query(links: Any) -> list[tuple[str, str]] | None:
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("rel") == "next":
            href = link.get("href")
            if isinstance(href, str):
                return parse_qsl(urlsplit(href).query)
    return None
