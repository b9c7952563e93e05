"""The Prometheus web configuration file (`--web.config.file`), parsed and checked.

The format and the meaning of every key are the Prometheus exporter-toolkit's
(docs/web-configuration.md there), so operators reuse the files they already have. Where
Python cannot do what a key means, the key is refused at start-up with a message saying why
and what to use instead: a setting is never accepted and then ignored. This module reads the
file into a `WebConfig`; tls.py builds its SSL context, middleware.py enforces the rest.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from exporter.web import tls as tls_config

PREFIX = "web_config_file"
TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
HTTP_KEYS = ("http2", "headers")
RATE_KEYS = ("interval", "burst")
# exporter-toolkit's fixed set of settable response headers, with their allowed values.
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
         "d": 86400.0, "w": 604800.0, "y": 31536000.0}


class WebConfigError(ValueError):
    """The file cannot be used; `problems` names each key that is wrong, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Client certificates must carry one of these SANs (exact match), when set.
    allowed_sans: tuple[str, ...] | None = None
    # (seconds between requests, burst), when set.
    rate_limit: tuple[float, int] | None = None


def load(path: str) -> WebConfig:
    """Parse and check the file; raise WebConfigError listing every problem with its key."""
    problems: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise WebConfigError([f"{PREFIX}: cannot read {path!r}: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise WebConfigError([f"{PREFIX}: {path!r} is not valid YAML: {exc}"]) from exc
    if not isinstance(data, Mapping):
        raise WebConfigError([f"{PREFIX}: {path!r} must be a mapping"])
    _unknown(data, TOP_KEYS, "", problems)
    config = WebConfig()
    config.users = _users(data.get("basic_auth_users"), problems)
    http = _section(data, "http_server_config", HTTP_KEYS, problems)
    if http.get("http2") is True:
        problems.append(f"{PREFIX}: http_server_config.http2: this exporter serves HTTP/1.1 "
                        "only (aiohttp has no HTTP/2); remove the key or set it to false")
    elif "http2" in http and http["http2"] is not False:
        problems.append(f"{PREFIX}: http_server_config.http2: expected true or false, got "
                        f"{http['http2']!r}")
    config.headers = _headers(http.get("headers"), problems)
    rate = _section(data, "rate_limit", RATE_KEYS, problems)
    if rate:
        config.rate_limit = _rate_limit(rate, problems)
    tls = _section(data, tls_config.SECTION, tls_config.KEYS, problems)
    if tls:
        base = os.path.dirname(os.path.abspath(path))
        tls_problems: list[str] = []
        config.ssl_context, config.allowed_sans = tls_config.server_context(tls, base,
                                                                            tls_problems)
        problems += [f"{PREFIX}: {problem}" for problem in tls_problems]
    if problems:
        raise WebConfigError(problems)
    return config


def _unknown(data: Mapping[Any, Any], valid: Sequence[str], where: str,
             problems: list[str]) -> None:
    for key in data:
        if key not in valid:
            problems.append(f"{PREFIX}: {where}unknown key '{key}' (valid: "
                            f"{', '.join(valid)})")


def _section(data: Mapping[str, Any], name: str, keys: Sequence[str],
             problems: list[str]) -> Mapping[str, Any]:
    section = data.get(name)
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(f"{PREFIX}: {name} must be a mapping")
        return {}
    _unknown(section, keys, f"{name}: ", problems)
    return section


def _users(users: Any, problems: list[str]) -> dict[str, bytes]:
    if users is None:
        return {}
    if not isinstance(users, Mapping):
        problems.append(f"{PREFIX}: basic_auth_users must map user names to bcrypt hashes")
        return {}
    found: dict[str, bytes] = {}
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"{PREFIX}: basic_auth_users.{user}: not a bcrypt hash "
                            "(generate one with: htpasswd -nBC 10 '' | tr -d ':\\n')")
            continue
        found[str(user)] = hashed.encode()
    return found


def _headers(headers: Any, problems: list[str]) -> dict[str, str]:
    if headers is None:
        return {}
    where = f"{PREFIX}: http_server_config.headers"
    if not isinstance(headers, Mapping):
        problems.append(f"{where} must map header names to values")
        return {}
    found: dict[str, str] = {}
    for name, value in headers.items():
        if name not in HEADERS:
            problems.append(f"{where}: header {name!r} cannot be configured (valid: "
                            f"{', '.join(HEADERS)})")
        elif not isinstance(value, str):
            problems.append(f"{where}.{name}: expected a string, got {value!r}")
        elif HEADERS[name] and value not in HEADERS[name]:
            problems.append(f"{where}.{name}: must be one of {', '.join(HEADERS[name])}, got "
                            f"{value!r}")
        elif value:  # blank means unset, as in exporter-toolkit
            found[name] = value
    return found


def parse_duration(text: str) -> float | None:
    """A Go/Prometheus duration ("500ms", "1m30s", "0") in seconds, or None if malformed."""
    text = text.strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _rate_limit(rate: Mapping[str, Any], problems: list[str]) -> tuple[float, int] | None:
    where = f"{PREFIX}: rate_limit"
    interval = parse_duration(str(rate.get("interval", "0")))
    if interval is None:
        problems.append(f"{where}.interval: expected a duration such as 100ms or 1s, got "
                        f"{rate.get('interval')!r}")
        return None
    burst = rate.get("burst", 0)
    if interval == 0:
        return None  # 0 disables the limiter, as documented
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        problems.append(f"{where}.burst: expected a whole number of at least 1 (with burst 0 "
                        f"every request would be refused), got {burst!r}")
        return None
    return interval, burst


