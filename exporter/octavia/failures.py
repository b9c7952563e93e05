"""What went wrong with a call to Keystone or an OpenStack service, as one bounded word.

Failures arrive wrapped: keystoneauth raises DiscoveryFailure around ConnectFailure around
requests' ConnectionError around urllib3's NewConnectionError around ConnectionRefusedError;
aiohttp raises ClientConnectorError holding an OSError. The word an operator needs (refused?
DNS? certificate?) sits at the bottom, so the whole chain is searched, not the outer type.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog

from exporter.octavia.errors import ApiError

if TYPE_CHECKING:
    from exporter.telemetry import CloudTelemetry

log = structlog.get_logger("exporter.failures")

CONNECTION_REFUSED = "connection_refused"
DNS = "dns"
TLS = "tls"
TIMEOUT = "timeout"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
SERVER_ERROR = "server_error"
RATE_LIMITED = "rate_limited"
MALFORMED = "malformed"
AUTH = "auth"
# Beyond the list above: a connection that broke after it was made (reset, closed mid-answer)
# and a 4xx that is none of 401/403/404/429 (our request was refused as wrong).
CONNECTION_ERROR = "connection_error"
CLIENT_ERROR = "client_error"

KEYSTONE = "keystone"

# Most specific first: a TLS failure is also a connection failure, a DNS failure too.
_PRIORITY = (TLS, DNS, CONNECTION_REFUSED, TIMEOUT)


def reason_for_status(status: int) -> str:
    if status == 401:
        return UNAUTHORIZED
    if status == 403:
        return FORBIDDEN
    if status == 404:
        return NOT_FOUND
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    return CLIENT_ERROR


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, and the exceptions libraries
    keep in attributes (urllib3's `reason`, aiohttp's `os_error`) or in args (requests)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner: list[object] = [current.__cause__, current.__context__,
                               getattr(current, "reason", None),
                               getattr(current, "os_error", None),
                               getattr(current, "inner_exception", None), *current.args]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _kind(exc: BaseException) -> str | None:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, ssl.SSLError) or names & {"SSLError", "ClientSSLError",
                                                  "CertificateError"}:
        return TLS
    if isinstance(exc, socket.gaierror) or names & {"ClientConnectorDNSError",
                                                     "NameResolutionError"}:
        return DNS
    if isinstance(exc, ConnectionRefusedError):
        return CONNECTION_REFUSED
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        return TIMEOUT
    return None


def classify(exc: BaseException) -> str | None:
    """The transport reason found anywhere in the chain, or an HTTP status's reason, or None."""
    found: set[str] = set()
    status: int | None = None
    for link in _chain(exc):
        kind = _kind(link)
        if kind:
            found.add(kind)
        code = getattr(link, "http_status", None)
        if status is None and isinstance(code, int) and code >= 400:
            status = code
    for reason in _PRIORITY:
        if reason in found:
            return reason
    return reason_for_status(status) if status is not None else None


def keystone_reason(exc: BaseException) -> str:
    """A Keystone failure: a transport or HTTP reason when there is one, else `auth` (e.g. a
    plugin that could not build a request, or an answer keystoneauth could not use)."""
    return classify(exc) or AUTH


def service_reason(exc: BaseException) -> str:
    return classify(exc) or CONNECTION_ERROR


def report(telemetry: CloudTelemetry, error: ApiError) -> None:
    """A call of `telemetry`'s cloud that failed for good: counted as the endpoint's latest
    error and logged with its reason and URL, the same way whichever tier made it."""
    telemetry.poll_error(error.endpoint, error.reason, error.url, str(error))
    log.warning("api_call_failed", cloud=telemetry.cloud, endpoint=error.endpoint,
                reason=error.reason, url=error.url, detail=str(error))
