"""Loopback only: every name the tests' own process resolves is answered here, and every
connection it opens must go to loopback.

`LoopbackNetwork.install()` replaces `socket.getaddrinfo` and `socket.gethostbyname` (through
which aiohttp's default resolver, urllib3 and so keystoneauth, and asyncio all resolve) and
wraps `socket.socket.connect`, `connect_ex` and `sendto`:

- IP literals resolve as themselves; `localhost` resolves to the loopback address of the
  family asked for;
- names under `.invalid` (RFC 6761: never registered) fail with EAI_NONAME, as an unknown name
  does: the way the "dns" failure reason is tested, with no resolver off the machine asked;
- any other name fails the same way, and is recorded as a violation, as is a connection (or a
  datagram) to an address that is not loopback; the test that caused it fails.

Processes the tests start (Prometheus, Chromium, the OpenStack services) are not covered: each
is started bound to or pointed at 127.0.0.1.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from typing import Any

INVALID_SUFFIX = ".invalid"


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _name(host: Any) -> str | None:
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("idna")
    return host if isinstance(host, str) else None


def _is_localhost(name: str) -> bool:
    return name.lower().rstrip(".") == "localhost"


class LoopbackNetwork:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.violations: list[str] = []
        self.looked_up: list[str] = []  # every name answered here, in order
        self._originals: dict[str, Any] = {}

    def _record(self, what: str) -> None:
        with self._lock:
            self.violations.append(what)

    def take(self) -> list[str]:
        """The violations since the last call, cleared."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken

    # -- resolution ----------------------------------------------------------------------

    def _no_such_name(self, name: str) -> socket.gaierror:
        with self._lock:
            self.looked_up.append(name)
        if not name.lower().rstrip(".").endswith(INVALID_SUFFIX):
            self._record(f"resolved {name!r}")
        return socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                    proto: int = 0, flags: int = 0) -> list[Any]:
        real = self._originals["getaddrinfo"]
        name = _name(host)
        if name is None or name == "" or _literal(name) is not None:
            return list(real(host, port, family, type, proto, flags))
        if _is_localhost(name):
            with self._lock:
                self.looked_up.append(name)
            loopback = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            return list(real(loopback, port, family, type, proto, flags))
        raise self._no_such_name(name)

    def gethostbyname(self, host: str) -> str:
        if _literal(host) is not None:
            return str(self._originals["gethostbyname"](host))
        if _is_localhost(host):
            return "127.0.0.1"
        raise self._no_such_name(host)

    # -- connections ---------------------------------------------------------------------

    def _check(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = _name(address[0]) if isinstance(address, tuple) and address else None
        if host is None:
            return
        literal = _literal(host)
        if literal is None and _is_localhost(host):
            return
        if literal is None or not _local(literal):
            self._record(f"connected to {address!r}")
            raise OSError(errno.ENETUNREACH, f"the tests stay on loopback: {address!r}")

    def install(self) -> None:
        if self._originals:
            return
        guard = self
        self._originals = {
            "getaddrinfo": socket.getaddrinfo, "gethostbyname": socket.gethostbyname,
            "connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
            "sendto": socket.socket.sendto,
        }
        connect, connect_ex, sendto = (self._originals[k] for k in ("connect", "connect_ex",
                                                                    "sendto"))

        def guarded_connect(sock: socket.socket, address: Any) -> None:
            guard._check(sock, address)
            connect(sock, address)

        def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check(sock, address)
            return int(connect_ex(sock, address))

        def guarded_sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            if args:
                guard._check(sock, args[-1])
            return int(sendto(sock, data, *args))

        socket.getaddrinfo = self.getaddrinfo  # type: ignore[assignment]
        socket.gethostbyname = self.gethostbyname
        socket.socket.connect = guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
        socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if not self._originals:
            return
        socket.getaddrinfo = self._originals["getaddrinfo"]
        socket.gethostbyname = self._originals["gethostbyname"]
        socket.socket.connect = self._originals["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._originals["connect_ex"]  # type: ignore[method-assign]
        socket.socket.sendto = self._originals["sendto"]  # type: ignore[method-assign]
        self._originals = {}


NETWORK = LoopbackNetwork()
