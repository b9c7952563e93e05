"""structlog set-up: JSON when not on a terminal, readable when on one, secrets masked; URLs
fit for a log line or a page."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Collection, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

MASK = "***"


def redact_url(url: str, *, mask_password: bool = False) -> str:
    """`url` without what must not be shown: by default without user:password@ and without
    its query (an API or Keystone URL: where a call went is all a log line needs, and a query
    may carry a token someone pasted). With `mask_password`, as configured but for the
    password, shown as *** (a broker URL: the user, vhost and options are what an operator
    checks). "" when `url` cannot be parsed."""
    try:
        parts = urlsplit(url)
        if mask_password and parts.password is None:
            return url
        host = parts.hostname or ""
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    if mask_password:
        return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{netloc}"))
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def cloud_logger(name: str, cloud: str) -> Any:
    """The logger `name` with `cloud` on every line (first, as the callers wrote it before).
    Assembled at each call like structlog's own lazy loggers, so a configure() made after the
    logger was taken (a test's log buffer) still applies to it."""
    return structlog.get_logger(name, cloud=cloud)


class Redactor:
    """Replaces every known secret (passwords, tokens, credential secrets) in every log field.

    Secrets become known as the process runs (tokens arrive at run time), so this holds live
    collections, read at each log line, rather than a snapshot taken at start-up. One belongs
    to the process's runtime, which hands it to configure().
    """

    def __init__(self) -> None:
        self._sources: list[Collection[str]] = []

    def add(self, secrets: Collection[str]) -> None:
        """Mask every string in `secrets`, now and whatever is added to it later."""
        self._sources.append(secrets)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for source in self._sources:
                for secret in source:
                    if secret and secret in value:
                        value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        return value

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self._sources:
            return event
        for key in list(event):
            event[key] = self._scrub(event[key])
        return event


def configure(level: str = "info", fmt: str = "auto", stream: Any = None,
              redactor: Redactor | None = None) -> None:
    """Every log line, ours and the libraries', at `level` in `fmt` to `stream` (stderr), with
    the secrets `redactor` knows masked (a new, empty one when None)."""
    redactor = Redactor() if redactor is None else redactor
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Callable[..., Any] = (
        structlog.dev.ConsoleRenderer(colors=False) if use_console
        else structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "event"])
        if fmt == "logfmt" else structlog.processors.JSONRenderer()
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging(numeric, out, renderer, redactor)


def installed_redactor() -> Redactor | None:
    """The redactor of the log configuration in force (None before configure()): a runtime
    built by a caller that configured the logging itself (a test's log buffer) registers its
    secrets there."""
    for processor in structlog.get_config()["processors"]:
        if isinstance(processor, Redactor):
            return processor
    return None


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second configure() replaces only it."""


def _route_stdlib_logging(level: int, out: Any, renderer: Callable[..., Any],
                          redactor: Redactor) -> None:
    """keystoneauth, openstacksdk, aiohttp and aio-pika log through the standard library, and
    Python warnings can be captured there too: render their records with the same processors,
    so a JSON log stream stays JSON on every line, with the same secret masking."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
    )
    handler = _OurHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries' INFO chatter (connection pools, plugin discovery) only at debug; their
    # warnings and errors always.
    root.setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    # Off then on: re-installs the hook even if something replaced warnings.showwarning since
    # the last call (captureWarnings(True) alone does nothing the second time).
    logging.captureWarnings(False)
    logging.captureWarnings(True)
