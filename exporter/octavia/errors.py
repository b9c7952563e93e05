"""The exceptions of talking to Keystone, the OpenStack services and the message bus.

They live apart from the code that raises them so that a reader, the scheduler or a test can
name an exception without importing the HTTP client, and so that the client, the credentials
and the failure words (failures.py) need not import each other. Each carries a bounded
`reason` (one of failures.py's words) and, where there is one, a URL fit for a log line.
"""

from __future__ import annotations

from exporter.logs import redact_url


class ApiError(Exception):
    """A request failed for good (after retries). `reason` is a short, bounded label value."""

    def __init__(self, endpoint: str, reason: str, detail: str = "", status: int = 0,
                 url: str = "") -> None:
        super().__init__(f"{endpoint}: {reason}{' (' + detail + ')' if detail else ''}")
        self.endpoint = endpoint
        self.reason = reason
        self.status = status
        # Where the failed call went, for the log line: never with credentials or a query.
        self.url = redact_url(url) if url else ""


class AuthFailed(Exception):
    """Keystone refused us or could not be reached; the message is safe to log.

    `reason` is one of failures.py's words, `url` the Keystone URL we tried."""

    def __init__(self, message: str, reason: str, url: str = "", status: int = 0,
                 authentication: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        # The HTTP status when Keystone answered (0: it did not, or authentication failed).
        self.status = status
        # False for a failed identity_get call made with a valid token: authentication
        # failures are counted where the token is used for Octavia, not twice.
        self.authentication = authentication


class MalformedNotification(ValueError):
    """A message on the bus that is not an oslo notification (the message says what is
    wrong with it)."""
