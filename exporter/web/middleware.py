"""The aiohttp side of a web configuration: rate limit, client-certificate SANs, basic auth
and response headers, in front of every endpoint.

Each does what exporter-toolkit does for the same key (webconfig.py reads the file); where
Python's ssl has no hook for a check Go makes in the handshake, the request is refused instead.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from exporter.web.webconfig import WebConfig


def middlewares(config: WebConfig) -> list[Middleware]:
    """In exporter-toolkit's order: rate limit, then client-certificate SANs, then basic auth.
    Every path is behind the first two; basic auth spares the probes (OPEN_PATHS, below)."""
    found: list[Middleware] = []
    if config.rate_limit is not None:
        found.append(RateLimit(*config.rate_limit).middleware)
    if config.allowed_sans is not None:
        found.append(AllowedSans(config.allowed_sans).middleware)
    if config.users:
        found.append(BasicAuth(config.users).middleware)
    return found


def header_hook(headers: Mapping[str, str],
                ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An on_response_prepare hook setting `headers` on every response, errors and 401s
    included."""
    fixed = dict(headers)

    async def add_headers(_: web.Request, response: web.StreamResponse) -> None:
        for name, value in fixed.items():
            response.headers[name] = value
    return add_headers


class RateLimit:
    """exporter-toolkit's token bucket: one request per `interval`, bursts of `burst`;
    requests over the budget are answered 429."""

    def __init__(self, interval: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval, self._burst, self._clock = interval, burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(float(self._burst),
                           self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.allow():
            return web.Response(status=429, text="Too Many Requests\n")
        return await handler(request)


def peer_sans(request: web.Request) -> list[str]:
    """Every SAN of the verified client certificate: DNS names, e-mail addresses, IPs and URIs,
    the four kinds exporter-toolkit matches."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return []
    return [str(value) for kind, value in cert.get("subjectAltName", ())
            if kind in ("DNS", "email", "IP Address", "URI")]


class AllowedSans:
    """Go rejects a client certificate without an allowed SAN in the handshake; Python's ssl
    has no hook there, so the request is refused (403) and the connection closed instead."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = frozenset(allowed)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._allowed.intersection(peer_sans(request)):
            return await handler(request)
        return web.Response(status=403, text="client certificate SAN not allowed\n",
                            headers={"Connection": "close"})


# Probes answer without credentials (but over TLS, and within the client-certificate rules,
# when those are configured). exporter-toolkit protects every path; we do not for these two,
# because the callers that need them cannot log in: a kubelet probe or a container HEALTHCHECK
# has no way to hold the password behind a bcrypt hash, and all they learn is "ok" or "not
# ready". docs/operations.md says so.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


@functools.cache
def dummy_hash() -> bytes:
    """A hash of a random password: unknown users are checked against it so that a wrong user
    name costs as long as a wrong password and user names cannot be probed by timing. Made
    once, when the first BasicAuth is built, not at import."""
    return bcrypt.hashpw(b"not-a-user", bcrypt.gensalt(rounds=10))


class BasicAuth:
    """aiohttp middleware; successful checks are cached by a keyed digest so a scrape every few
    seconds does not cost a bcrypt computation each time."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = dict(users)
        # Before the first request, so that the first unknown user costs what later ones do.
        self._dummy = dummy_hash()
        self._key = bcrypt.gensalt()
        self._verified: set[bytes] = set()

    async def check(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
                "utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep:
            return False
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in self._verified:
            return True
        hashed = self._users.get(user, self._dummy)
        ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed)
        if ok and user in self._users:
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified.add(digest)
            return True
        return False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or await self.check(
                request.headers.get("Authorization", "")):
            return await handler(request)
        return web.Response(status=401, text="Unauthorized\n",
                            headers={"WWW-Authenticate": 'Basic realm="octavia-exporter"'})
