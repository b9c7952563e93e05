"""structlog set-up: JSON when not on a terminal, readable when on one, secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping, MutableSet
from typing import Any

import structlog

MASK = "***"


class Redactor:
    """Replaces every known secret (passwords, tokens, credential secrets) in every log field.

    Secrets are registered as they become known (tokens arrive at run time), so this holds a
    live set rather than a snapshot taken at start-up.
    """

    def __init__(self) -> None:
        self.sources: list[MutableSet[str] | frozenset[str]] = []

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for source in self.sources:
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
        if not self.sources:
            return event
        for key in list(event):
            event[key] = self._scrub(event[key])
        return event


REDACTOR = Redactor()


def configure(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    out = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Callable[..., Any] = (
        structlog.dev.ConsoleRenderer(colors=False) if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
