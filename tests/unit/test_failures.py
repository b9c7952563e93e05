"""The reason words, found at the bottom of the exception chains libraries build."""

import itertools
import socket
import ssl

import aiohttp
import pytest

from exporter.octavia import failures


def chained(*layers: BaseException) -> BaseException:
    """layers[0] raised while handling layers[1], … (what `raise X from Y` records)."""
    for outer, inner in itertools.pairwise(layers):
        outer.__cause__ = inner
    return layers[0]


@pytest.mark.parametrize(("exc", "reason"), [
    (chained(RuntimeError("discovery"), OSError("connect"), ConnectionRefusedError()),
     "connection_refused"),
    (chained(RuntimeError("x"), socket.gaierror(-2, "Name or service not known")), "dns"),
    (chained(RuntimeError("x"), ssl.SSLCertVerificationError("self-signed")), "tls"),
    (chained(RuntimeError("x"), TimeoutError()), "timeout"),
    # A TLS failure is also a connection failure: the more specific word wins.
    (chained(RuntimeError("x"), ssl.SSLError("x"), ConnectionRefusedError()), "tls"),
    (aiohttp.ServerDisconnectedError(), None),
])
def test_classify_searches_the_chain(exc: BaseException, reason: str | None) -> None:
    assert failures.classify(exc) == reason
    assert failures.service_reason(exc) == (reason or "connection_error")
    assert failures.keystone_reason(exc) == (reason or "auth")


def test_reason_in_args_and_attributes_like_requests_and_urllib3() -> None:
    class MaxRetryError(Exception):
        def __init__(self, reason: BaseException) -> None:
            super().__init__("max retries")
            self.reason = reason

    wrapped = RuntimeError(MaxRetryError(ConnectionRefusedError()))  # requests' style
    assert failures.classify(wrapped) == "connection_refused"


def test_http_status_of_keystoneauth_errors() -> None:
    class Unauthorized(Exception):
        http_status = 401

    assert failures.keystone_reason(Unauthorized()) == "unauthorized"
    assert [failures.reason_for_status(s) for s in (403, 404, 429, 503, 400)] == [
        "forbidden", "not_found", "rate_limited", "server_error", "client_error"]
