"""`octavia-exporter healthcheck`: probe a running exporter the way it was configured.

A container HEALTHCHECK or a systemd watchdog script must not hard-wire a URL: the operator may
have moved the port or turned on TLS with `--web.config.file`. This reads the exporter's own
settings (flags, environment, `--config-file`, exactly as the server does) and asks `/healthz`
on the address the server listens on, over HTTPS when the web config has a `tls_server_config`.

In a container the settings are the command line of the exporter itself, which the health check
process does not inherit: `--args-from-pid 1` reads them from /proc/1/cmdline (the image's
ENTRYPOINT is the exporter, so it is PID 1). The environment is the container's, shared by both.

Exit status: 0 healthy, 1 not (the reason goes to stderr, which Docker and Podman keep in the
health log), 2 when the settings themselves are invalid.
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from exporter import config

HEALTH_PATH = "/healthz"
DEFAULT_TIMEOUT = 3.0  # well inside the image HEALTHCHECK's --timeout
# Wildcard listen addresses are reached through the loopback of the same family.
WILDCARD_TARGETS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def exporter_args_of(pid: int, proc: Path = Path("/proc")) -> list[str]:
    """The arguments an `octavia-exporter` process was started with (without the program)."""
    raw = (proc / str(pid) / "cmdline").read_bytes()
    argv = [part.decode() for part in raw.split(b"\0") if part]
    for index, arg in enumerate(argv):
        name = os.path.basename(arg)
        if name == "octavia-exporter":
            return argv[index + 1:]
        if arg == "exporter" and index > 0 and argv[index - 1] == "-m":
            return argv[index + 1:]
    raise ValueError(f"process {pid} is not octavia-exporter: {' '.join(argv)!r}")


def uses_tls(web_config_file: str | None) -> bool:
    """Whether the server serves HTTPS: the same file and key the server reads."""
    if not web_config_file:
        return False
    with open(web_config_file, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return isinstance(data, dict) and bool(data.get("tls_server_config"))


def target(settings: config.Settings) -> tuple[str, int]:
    host = WILDCARD_TARGETS.get(settings.listen_host, settings.listen_host)
    return host, settings.listen_port


def probe(host: str, port: int, tls: bool, timeout: float = DEFAULT_TIMEOUT) -> tuple[bool, str]:
    """GET /healthz; (healthy, what was seen)."""
    connection: http.client.HTTPConnection
    if tls:
        # This asks the process next to us whether it is alive, over loopback; the server's
        # certificate names the host Prometheus scrapes, not 127.0.0.1, so it is not verified.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    url = f"{'https' if tls else 'http'}://{host}:{port}{HEALTH_PATH}"
    try:
        connection.request("GET", HEALTH_PATH,
                           headers={"User-Agent": "octavia-exporter-healthcheck"})
        response = connection.getresponse()
        body = response.read(200).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{url}: {exc}"
    finally:
        connection.close()
    return response.status == 200, f"{url}: {response.status} {body}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octavia-exporter healthcheck",
        # Everything it does not know goes to the server's parser, untouched: no prefixes.
        allow_abbrev=False,
        description="Exit 0 when the exporter configured by the given settings (the server's "
        "own flags, environment and --config-file) answers /healthz, 1 otherwise.")
    parser.add_argument("--args-from-pid", type=int, metavar="PID",
                        help="take the settings from the command line of this running "
                        "exporter (in a container: 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:g})")
    return parser


def main(argv: Sequence[str]) -> int:
    options, server_args = build_parser().parse_known_args(argv)
    if options.args_from_pid is not None:
        try:
            server_args = exporter_args_of(options.args_from_pid) + server_args
        except (OSError, ValueError) as exc:
            print(f"octavia-exporter healthcheck: --args-from-pid: {exc}", file=sys.stderr)
            return 2
    try:
        settings = config.load(server_args)
        tls = uses_tls(settings.web_config_file)
    except config.ConfigError as exc:
        for problem in exc.problems:
            print(f"octavia-exporter healthcheck: {problem}", file=sys.stderr)
        return 2
    except (OSError, yaml.YAMLError) as exc:
        print(f"octavia-exporter healthcheck: web_config_file: {exc}", file=sys.stderr)
        return 2
    healthy, seen = probe(*target(settings), tls=tls, timeout=options.timeout)
    print(seen, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
