"""Keystone credentials and tokens, read the way the `openstack` CLI reads them.

openstacksdk's config loader resolves clouds.yaml, secure.yaml and OS_* variables; keystoneauth1
does the authentication. Both are synchronous, so every call into them runs in a worker thread
and the event loop never blocks on Keystone.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from exporter.config import ConfigError, Settings
from exporter.logs import redact_url
from exporter.octavia.errors import AuthFailed
from exporter.octavia.failures import AUTH, MALFORMED, keystone_reason

SERVICE_TYPE = "load-balancer"
NETWORK = "network"
IDENTITY = "identity"
# Refresh a token this long before Keystone says it expires, so no request is sent with a token
# that dies in flight.
EXPIRY_MARGIN = 120.0
MAX_BACKOFF = 60.0
SECRET_KEYS = ("password", "application_credential_secret", "token", "secret", "passcode")


@dataclass(frozen=True)
class Cloud:
    """One configured cloud: its label, its keystoneauth session, and how to reach Octavia."""

    name: str
    session: Any
    interface: str
    region_name: str | None
    verify: bool | str
    secrets: frozenset[str] = field(default_factory=frozenset)

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.verify is False:
            return False
        if isinstance(self.verify, str):
            return ssl.create_default_context(cafile=self.verify)
        return True


def _secrets(auth: Any) -> frozenset[str]:
    found: set[str] = set()
    if isinstance(auth, dict):
        for key, value in auth.items():
            if any(word in key for word in SECRET_KEYS) and isinstance(value, str) and value:
                found.add(value)
    return frozenset(found)


HOW_TO_CONFIGURE = (
    "Set OS_CLOUD (or --os-cloud) to an entry of clouds.yaml (OS_CLIENT_CONFIG_FILE names the "
    "file), or export OS_AUTH_URL and the other OS_* variables, or run with --demo"
)


def _label(name: str | None) -> str:
    cloud = repr(name) if name else "from OS_* variables"
    return f"clouds (--os-cloud / OS_CLOUD): cloud {cloud}"


TLS_FILES = (("cacert", "--os-cacert / OS_CACERT / cacert"), ("cert", "OS_CERT / cert"),
             ("key", "OS_KEY / key"))


def _unreadable_tls_files(config: dict[str, Any]) -> list[str]:
    """A CA bundle or client certificate that cannot be read would otherwise surface as a bare
    `[Errno 2] No such file or directory` at the first request; name the setting and path."""
    problems = []
    for key, where in TLS_FILES:
        path = config.get(key)
        if not path or not isinstance(path, str):
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            problems.append(f"{key} ({where}): cannot read {path!r}: {exc.strerror}")
    return problems


def resolve_clouds(settings: Settings) -> list[Cloud]:
    """Load every configured cloud; raise ConfigError naming each one that cannot be used."""
    import openstack.config
    from keystoneauth1 import exceptions as ks_exceptions
    from openstack import exceptions as sdk_exceptions

    loader = openstack.config.OpenStackConfig()
    names: Iterable[str | None] = settings.clouds or (None,)
    clouds: list[Cloud] = []
    problems: list[str] = []
    for name in names:
        try:
            region = loader.get_one(
                cloud=name,
                region_name=settings.region_name,
                interface=settings.interface,
                cacert=settings.cacert,
                insecure=settings.insecure,
            )
        except sdk_exceptions.ConfigException as exc:
            known = ", ".join(sorted(loader.get_cloud_names())) or "none found"
            problems.append(
                f"clouds (--os-cloud / OS_CLOUD): cloud {name!r} cannot be loaded: {exc}. "
                f"Clouds in clouds.yaml: {known}"
            )
            continue
        except ks_exceptions.MissingRequiredOptions as exc:
            missing = ", ".join(o.dest for o in exc.options)
            problems.append(f"{_label(name)} is missing {missing}. {HOW_TO_CONFIGURE}")
            continue
        except ks_exceptions.NoMatchingPlugin as exc:
            problems.append(f"{_label(name)}: unknown auth_type {exc.name!r} (e.g. password, "
                            "v3applicationcredential, token)")
            continue
        config = region.config
        auth = config.get("auth") or {}
        if not auth.get("auth_url"):
            problems.append(f"{_label(name)} has no auth_url. {HOW_TO_CONFIGURE}")
            continue
        unreadable = _unreadable_tls_files(config)
        if unreadable:
            problems.extend(f"{_label(name)}: {problem}" for problem in unreadable)
            continue
        with warnings.catch_warnings():
            # openstacksdk warns about its optional InfluxDB metrics on every session; we use
            # neither, and operators should not see it at every start.
            warnings.filterwarnings("ignore", message="Support for InfluxDB")
            session = region.get_session()
        if getattr(session, "timeout", None) is None:
            # Without api_timeout in clouds.yaml keystoneauth waits forever on a Keystone that
            # accepts and never answers; bound it like every other API request.
            session.timeout = settings.request_timeout
        verify: bool | str = True
        if not config.get("verify", True):
            verify = False
        elif config.get("cacert"):
            verify = str(config["cacert"])
        clouds.append(
            Cloud(
                name=name or region.name or "default",
                session=session,
                interface=str(config.get("interface") or "public"),
                region_name=region.get_region_name() or None,
                verify=verify,
                secrets=_secrets(auth),
            )
        )
    if problems:
        raise ConfigError(problems)
    return clouds


class TokenProvider(Protocol):
    async def token(self) -> str: ...

    async def endpoint(self) -> str: ...

    async def network_endpoint(self) -> str | None: ...

    async def invalidate(self, stale: str) -> None: ...


class KeystoneTokens:
    """Hands out a valid token and the Octavia endpoint; re-authenticates at most once at a time."""

    def __init__(self, cloud: Cloud, on_auth: Any = None) -> None:
        self._cloud = cloud
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._failures = 0
        self._failed_until = 0.0
        self._failure: AuthFailed | None = None
        self._endpoint: str | None = None
        self._network: str | None = None
        self._on_auth = on_auth
        self.secrets: set[str] = set(cloud.secrets)

    def _authenticate(self) -> tuple[str, float, str, str | None]:
        from keystoneauth1 import exceptions as ks_exceptions

        session = self._cloud.session
        url = self.auth_url
        try:
            access = session.auth.get_access(session)
            token = access.auth_token
            endpoint = access.service_catalog.url_for(
                service_type=SERVICE_TYPE,
                interface=self._cloud.interface,
                region_name=self._cloud.region_name,
            )
            try:
                network: str | None = str(access.service_catalog.url_for(
                    service_type=NETWORK, interface=self._cloud.interface,
                    region_name=self._cloud.region_name))
            except ks_exceptions.EndpointNotFound:
                network = None
        except ks_exceptions.EndpointNotFound as exc:
            raise AuthFailed(
                f"no '{SERVICE_TYPE}' endpoint (interface {self._cloud.interface}, region "
                f"{self._cloud.region_name or 'any'}) in the service catalog", AUTH, url,
            ) from exc
        except ks_exceptions.Unauthorized as exc:
            raise AuthFailed("Keystone rejected the credentials (401)",
                             keystone_reason(exc), url) from exc
        except ks_exceptions.ClientException as exc:
            reason = keystone_reason(exc)
            raise AuthFailed(f"Keystone authentication failed: {type(exc).__name__} "
                             f"({reason})", reason, url) from exc
        expires = access.expires.timestamp() if access.expires else time.time() + 3600.0
        return str(token), expires, str(endpoint), network

    async def _refresh(self) -> None:
        if time.monotonic() < self._failed_until and self._failure is not None:
            # Keystone failed moments ago: answer at once instead of hammering it once per
            # pending request; the back-off doubles with each failure, up to MAX_BACKOFF.
            raise self._failure
        try:
            token, expires, endpoint, network = await asyncio.to_thread(self._authenticate)
        except Exception as exc:
            failure = exc if isinstance(exc, AuthFailed) else AuthFailed(
                f"Keystone unreachable: {type(exc).__name__}", keystone_reason(exc),
                self.auth_url)
            self._failures += 1
            self._failure = failure
            self._failed_until = time.monotonic() + min(MAX_BACKOFF, 2.0 ** self._failures)
            if self._on_auth:
                self._on_auth("failure")
            raise failure from exc
        if self._on_auth:
            self._on_auth("success")
        self._failures, self._failure = 0, None
        now = time.time()
        # Refresh ahead of expiry, but never so far ahead that a short-lived token would be
        # refreshed on every request.
        self._refresh_at = expires - min(EXPIRY_MARGIN, max(0.0, expires - now) / 2)
        self._token, self._endpoint, self._network = token, endpoint, network
        self.secrets.add(token)

    async def token(self) -> str:
        if self._token is None or time.time() >= self._refresh_at:
            async with self._lock:
                if self._token is None or time.time() >= self._refresh_at:
                    self._cloud.session.auth.invalidate()
                    await self._refresh()
        assert self._token is not None
        return self._token

    async def endpoint(self) -> str:
        if self._endpoint is None:
            await self.token()
        assert self._endpoint is not None
        return self._endpoint

    @property
    def auth_url(self) -> str:
        """Keystone's auth_url as configured (without credentials), for log lines."""
        url = getattr(self._cloud.session.auth, "auth_url", None)
        return redact_url(str(url)) if url else ""

    @property
    def current(self) -> str | None:
        """The token in use now (None before the first authentication or after a 401)."""
        return self._token

    async def network_endpoint(self) -> str | None:
        """Neutron from the same catalog, or None when the catalog has no network service."""
        if self._endpoint is None:
            await self.token()
        return self._network

    async def invalidate(self, stale: str) -> None:
        """Forget a refused token; concurrent callers holding it share one re-authentication."""
        async with self._lock:
            if self._token == stale:
                self._token = None
                self._failed_until = 0.0
                self._cloud.session.auth.invalidate()

    def _identity_get(self, path: str) -> Any:
        from keystoneauth1 import exceptions as ks_exceptions

        session = self._cloud.session
        url = ""
        try:
            endpoint = session.get_endpoint(service_type=IDENTITY,
                                            interface=self._cloud.interface,
                                            region_name=self._cloud.region_name)
            if not endpoint:
                raise AuthFailed(f"no '{IDENTITY}' endpoint (interface {self._cloud.interface})"
                                 " in the service catalog", AUTH, self.auth_url,
                                 authentication=False)
            root = str(endpoint).rstrip("/")
            for suffix in ("/v3", "/v2.0"):
                if root.endswith(suffix):
                    root = root[: -len(suffix)]
            url = f"{root}/v3/{path.lstrip('/')}"
            response = session.get(url, raise_exc=True, headers={"Accept": "application/json"})
            return response.json()
        except AuthFailed:
            raise
        except ks_exceptions.HttpError as exc:
            raise AuthFailed(f"Keystone answered {exc.http_status} to GET /v3/{path}",
                             keystone_reason(exc), redact_url(url or self.auth_url),
                             int(exc.http_status or 0), authentication=False) from exc
        except ks_exceptions.ClientException as exc:
            reason = keystone_reason(exc)
            raise AuthFailed(f"GET /v3/{path} failed: {type(exc).__name__} ({reason})", reason,
                             redact_url(url or self.auth_url), authentication=False) from exc
        except ValueError as exc:
            raise AuthFailed(f"GET /v3/{path}: the answer is not JSON", MALFORMED,
                             redact_url(url), authentication=False) from exc

    async def identity_get(self, path: str) -> Any:
        """GET a Keystone v3 path (e.g. `projects`) through the cloud's own session and
        catalog entry; the decoded JSON. Raises AuthFailed with the reason, URL and status
        (`authentication` True when no token could be had: that failure is Octavia's too)."""
        # The token first, shared with the Octavia client: one authentication, with its
        # back-off, whoever asks; the session then reuses it.
        await self.token()
        return await asyncio.to_thread(self._identity_get, path)
