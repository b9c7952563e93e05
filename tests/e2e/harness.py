"""Processes, ports, polling and small HTTP clients for the end-to-end tests.

Everything binds 127.0.0.1. Every process is started by `Processes.start()` and stopped by PID
(terminate, then kill after a timeout) in reverse start order; on Linux each child also gets
PR_SET_PDEATHSIG so that it dies with the test run even if pytest itself is killed.
Waiting is always polling with a deadline (`wait_until`), never a bare sleep.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from tests.support.ports import free_port

HOST = "127.0.0.1"
T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not become true before its deadline."""


class PromQLError(AssertionError):
    """Prometheus rejected a query (it does not parse, or cannot be evaluated)."""


class ProcessDied(RuntimeError):
    """A process the tests started has exited on its own."""


# Errors no amount of waiting fixes: wait_until raises them at once.
FATAL = (PromQLError, ProcessDied)


def wait_until(
    probe: Callable[[], T | None],
    what: str,
    timeout: float = 30.0,
    interval: float = 0.2,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something truthy; return that. Exceptions count as "not
    yet" (the last one is reported), except FATAL ones, which are raised at once.
    Raises WaitTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
        except FATAL:
            raise
        except Exception as exc:  # the service may not be up yet
            last_error = exc
            result = None
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


def http(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """One HTTP request; JSON in and (when the answer is JSON) out."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, ctype = response.status, response.read(), response.headers.get(
                "Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    if "json" in ctype:
        return status, json.loads(raw)
    return status, raw.decode("utf-8", "replace")


# Loaded here, in the parent: the child between fork and exec should do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM this child when the process that started it dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes]
    stopped: bool = False  # stopped on purpose: its exit is not a failure

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM this PID; SIGKILL it if it has not exited after `timeout` seconds."""
        self.stopped = True
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


@dataclass
class Processes:
    """The processes one test session started, and their logs."""

    workdir: Path
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        """Start `args` with exactly the environment `env`, output to <workdir>/<name>.log."""
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                preexec_fn=_die_with_parent if _LIBC is not None else None,
            )
        proc = Proc(name, args, log, popen)
        self.started.append(proc)
        return proc

    def check_alive(self) -> None:
        dead = [p for p in self.started if not p.alive() and not p.stopped]
        if dead:
            raise ProcessDied(
                ", ".join(f"{p.name} exited with {p.popen.returncode}" for p in dead))

    def logs(self, lines: int = 40) -> str:
        out = []
        for proc in self.started:
            state = "running" if proc.alive() else f"exited {proc.popen.returncode}"
            out.append(f"----- {proc.name} (pid {proc.pid}, {state}): {' '.join(proc.args)}\n"
                       f"{proc.tail(lines)}")
        return "\n".join(out)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


class PrometheusAPI:
    """The parts of Prometheus's HTTP API a Grafana data source uses, plus targets/rules."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        items: list[tuple[str, str]] = []
        for key, value in params.items():
            for one in value if isinstance(value, list) else [value]:
                items.append((key, str(one)))
        url = f"{self.base_url}{path}"
        if items:
            url += "?" + urllib.parse.urlencode(items)
        status, body = http("GET", url, timeout=10.0)
        if not isinstance(body, dict):
            raise AssertionError(f"GET {path} {params}: HTTP {status}: {body}")
        return body

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; raises AssertionError with Prometheus's error when it is rejected."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = self.get("/api/v1/query", **params)
        if body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return result

    def label_values(self, label: str, match: str, window: float = 300.0) -> list[str]:
        """What Grafana's label_values(<match>, <label>) sends (Grafana ≥ 7.5 on Prometheus ≥
        2.24): GET /api/v1/label/<label>/values?match[]=<match>&start=&end=."""
        now = time.time()
        body = self.get(f"/api/v1/label/{label}/values", **{
            "match[]": match, "start": f"{now - window:.3f}", "end": f"{now:.3f}"})
        if body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')}")
        values: list[str] = body["data"]
        return values

    def targets(self) -> list[dict[str, Any]]:
        active: list[dict[str, Any]] = self.get("/api/v1/targets")["data"]["activeTargets"]
        return active

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self.get("/api/v1/rules")["data"]["groups"]
        return groups

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.get("/api/v1/alerts")["data"]["alerts"]
        return alerts


class Webhook:
    """An Alertmanager webhook receiver on 127.0.0.1, served by aiohttp in its own thread.

    Every POSTed JSON body is recorded in `received`, in arrival order.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}/alertmanager"
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="e2e-webhook", daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.received.append(body)
        return web.Response(text="ok")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            app = web.Application()
            app.router.add_post("/alertmanager", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, HOST, self.port)
            self._loop.run_until_complete(site.start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10) or self._error is not None:
            raise RuntimeError(f"webhook receiver did not start: {self._error!r}")

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def notifications(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)
