"""Settings from flags, environment variables and an optional YAML file, validated all at once.

Precedence: command-line flag > environment variable > YAML file > default. Every problem is
collected and reported together, each naming the setting, where the bad value came from, and what
would be valid, so an operator fixes a broken deployment in one round trip.
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from exporter import __version__
from exporter.model.plan import LISTS_SHARE

DEFAULT_PAGE_SIZE = 200
DEFAULT_PORT = 9879
DEFAULT_INTERVAL = 30.0
DEFAULT_TELEMETRY_PATH = "/metrics"
# Paths the server answers itself; the telemetry path may not shadow them.
RESERVED_PATHS = ("/", "/healthz", "/readyz")
ENV_PREFIX = "OCTAVIA_EXPORTER_"


class ConfigError(Exception):
    """Raised with every configuration problem found; str() lists them one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Settings:
    clouds: tuple[str, ...] = ()
    region_name: str | None = None
    interface: str | None = None
    cacert: str | None = None
    insecure: bool | None = None
    # "" = every interface, IPv4 and IPv6 alike (like Go's ":9879").
    listen_host: str = ""
    listen_port: int = DEFAULT_PORT
    web_config_file: str | None = None
    telemetry_path: str = DEFAULT_TELEMETRY_PATH
    interval: float = DEFAULT_INTERVAL
    request_timeout: float = 10.0
    cycle_timeout: float = 300.0
    concurrency: int = 4
    api_max_rate: float = 5.0
    adaptive_concurrency: bool = True
    detail_target: float = 900.0
    retries: int = 3
    max_staleness: float = 300.0
    # None: DEFAULT_PAGE_SIZE, and the API's maximum for the first lists (lists.ListReader).
    page_size: int | None = None
    lists_share: float = LISTS_SHARE
    startup_share: float = 1.0
    changes_feed: bool = True
    reconcile_interval: float = 0.0
    listener_stats: bool = True
    stats_via_amphorae: bool = True
    stats_interval: float = 0.0
    healthy_tree_interval: float = 0.0
    l7_rules_interval: float = 600.0
    shard: tuple[int, int] = (1, 1)
    status_series: str = "current"
    amphorae: bool = True
    amphora_stats: bool = False
    member_details: bool = False
    floating_ips: bool = True
    project_names_interval: float = 3600.0
    notifications_url: str | None = None
    notifications_exchange: str = "octavia"
    notifications_topic: str = "notifications"
    notifications_queue: str | None = None
    log_level: str = "info"
    log_format: str = "auto"
    max_body_bytes: int = 64 * 1024 * 1024
    once: bool = False
    demo: bool = False
    demo_lbs: int = 40
    # Messages about deprecated spellings used, logged once logging is set up.
    deprecations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    flag: str
    help: str
    kind: str  # str, float, int, bool, list, choice, address
    choices: tuple[str, ...] = ()
    env: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    # An old spelling still accepted for one release, hidden from --help, with a warning.
    deprecated: tuple[str, ...] = ()


OPTIONS: tuple[Option, ...] = (
    Option("clouds", "--os-cloud", "cloud name from clouds.yaml; repeat (or comma-separate) "
           "for several clouds in one process", "list", env="OS_CLOUD"),
    Option("region_name", "--os-region-name", "region of the load-balancer endpoint",
           "str", env="OS_REGION_NAME"),
    Option("interface", "--os-interface", "catalog interface", "choice",
           ("public", "internal", "admin"), env="OS_INTERFACE"),
    Option("cacert", "--os-cacert", "CA bundle for TLS to Keystone and Octavia", "str",
           env="OS_CACERT"),
    Option("insecure", "--insecure", "do not verify TLS certificates", "bool", env="OS_INSECURE"),
    Option("listen_address", "--web.listen-address", f"host:port to serve on "
           f"(default :{DEFAULT_PORT})", "address"),
    Option("web_config_file", "--web.config.file", "Prometheus web configuration file "
           "(exporter-toolkit format): TLS, client certificates, basic auth and response "
           "headers for every endpoint", "str"),
    Option("telemetry_path", "--web.telemetry-path", "path under which metrics are served "
           f"(default {DEFAULT_TELEMETRY_PATH})", "path"),
    Option("interval", "--interval", "seconds between the starts of two poll cycles "
           "(default 30)", "float", minimum=1.0),
    Option("request_timeout", "--request-timeout", "seconds before one API request is "
           "abandoned (default 10)", "float", minimum=0.1),
    Option("lists_share", "--lists-share", "the largest share of the time the full lists "
           "may hold the API: the reconciliation's pages are spaced to stay within it, and "
           "without the changes feed tier 1 runs every list duration / share when that is "
           "longer than --interval; 1 = pages back to back (default 0.04)", "float",
           minimum=0.01, maximum=1.0),
    Option("startup_share", "--startup-share", "the largest share of the time the first "
           "full lists after start may hold the API once the load-balancer list is in (that "
           "one is read back to back, so every load balancer's state is on /metrics soonest): "
           "1 = the other lists back to back too, all of tier 1 soonest; --lists-share's value "
           "= as polite as a reconciliation, other clients unhindered but tier 1 complete "
           "1 / share times later (default 1)", "float", minimum=0.01, maximum=1.0),
    Option("changes_feed", "--changes-feed", "after the first full lists, read only the rows "
           "written since the last cycle (sort=updated_at:desc) every --interval, and the full "
           "lists only to reconcile; --no-changes-feed reads the full lists every cycle "
           "(default true)", "bool"),
    Option("reconcile_interval", "--reconcile-interval", "seconds between the starts of two "
           "reconciliations (the full lists, paced within --lists-share, that catch deletions "
           "and anything the changes feed missed); 0 = 10 x --interval (default 0)", "float",
           minimum=0.0),
    Option("cycle_timeout", "--cycle-timeout", "seconds before the bulk lists of a cycle "
           "(tier 1) are abandoned (default 300)", "float", minimum=1.0),
    Option("concurrency", "--concurrency", "most API requests in flight per cloud: the ceiling "
           "of the adaptive limit, which starts at 1 (default 4)", "int", minimum=1),
    Option("api_max_rate", "--api-max-rate", "API requests per second per cloud, all tiers "
           "(token bucket); 0 = no limit (default 5)", "float", minimum=0.0),
    Option("adaptive_concurrency", "--adaptive-concurrency", "adapt the requests in flight to "
           "the API's latency, 429, 503 and timeouts; --no-adaptive-concurrency fixes them at "
           "--concurrency (default true)", "bool"),
    Option("detail_target", "--detail-target", "seconds per-load-balancer detail (members, "
           "stats) may age before OctaviaDetailStale fires; exported as "
           "octavia_detail_age_target_seconds (default 900)", "float", minimum=1.0),
    Option("retries", "--retries", "retries of a failed request on 5xx or connection errors "
           "(default 3)", "int", minimum=0),
    Option("max_staleness", "--max-staleness", "seconds the last good fleet data stays "
           "exported while polls fail (default 300)", "float", minimum=0.0),
    Option("page_size", "--page-size", "limit= for list calls: smaller pages let other clients' "
           "requests in between ours on a busy API; 0 = the API's maximum (default 200; "
           "with --no-changes-feed the API's maximum for the first lists after start)",
           "int", minimum=0),
    Option("listener_stats", "--listener-stats", "one stats call per listener (load-balancer "
           "stats are their sum); off: one call per load balancer and no listener traffic "
           "(default true)", "bool"),
    Option("stats_via_amphorae", "--stats-via-amphorae", "read listener stats from the "
           "load balancer's amphorae, one call each, when those are provably all it has had "
           "(created with it, unchanged since the lists, no more amphorae than listeners): "
           "Octavia's sums of the same rows for a fifth of the API time; off: always one call "
           "per listener (default true)", "bool"),
    Option("stats_interval", "--stats-interval", "seconds between stats refreshes of a load "
           "balancer; 0 = every cycle (default 0)", "float", minimum=0.0),
    Option("healthy_tree_interval", "--healthy-tree-interval", "seconds between status-tree "
           "refreshes of a healthy load balancer; 0 = every cycle (default 0)", "float",
           minimum=0.0),
    Option("l7_rules_interval", "--l7-rules-interval", "seconds between re-reads of the rules "
           "of an unchanged, ACTIVE L7 policy whose rules were all ACTIVE/ONLINE (a rule change "
           "moves its policy's updated_at, which the bulk list shows); 0 = every cycle "
           "(default 600)", "float", minimum=0.0),
    Option("shard", "--shard", "K/N: export only the load balancers whose id hashes to shard K "
           "of N (default 1/1)", "shard"),
    Option("status_series", "--status-series", "emit only the current state, or the full "
           "state set (default current)", "choice", ("current", "stateset")),
    Option("amphorae", "--amphorae", "collect amphorae (admin only; turned off on 403) "
           "(default true)", "bool"),
    Option("floating_ips", "--floating-ips", "one paginated Neutron floating IP list per "
           "cycle, joined to load balancers by VIP port (turned off when the catalog has no "
           "network service or Neutron answers 403) (default true)", "bool"),
    Option("project_names_interval", "--project-names-interval", "seconds between reads of "
           "the project names from Keystone (GET /v3/projects, or /v3/auth/projects for a "
           "project-scoped token), one call at most; 0 = no names (default 3600)", "float",
           minimum=0.0),
    Option("member_details", "--member-details", "read every pool's member list instead of "
           "status trees: adds member weight, admin state and backup, at one call per pool "
           "instead of one per load balancer (default false)", "bool"),
    Option("amphora_stats", "--amphora-stats", "one stats call per amphora per cycle "
           "(default false)", "bool"),
    Option("notifications_url", "--notifications-url", "amqp:// or amqps:// URL of Octavia's "
           "message bus: refresh a load balancer within seconds of its notification (default: "
           "off)", "str"),
    Option("notifications_exchange", "--notifications-exchange", "Octavia's control_exchange "
           "(default octavia)", "str"),
    Option("notifications_topic", "--notifications-topic", "[oslo_messaging_notifications] "
           "topics (default notifications)", "str"),
    Option("notifications_queue", "--notifications-queue", "name of the exporter's own queue "
           "(default: generated, exclusive, auto-delete)", "str"),
    Option("log_level", "--log.level", "only log messages with this severity or above "
           "(default info; warn is Prometheus's spelling of warning)", "choice",
           ("debug", "info", "warn", "warning", "error"),
           deprecated=("--log-level",)),
    Option("log_format", "--log.format", "log format; auto = console on a terminal, JSON "
           "otherwise (default auto)", "choice", ("auto", "json", "logfmt", "console"),
           deprecated=("--log-format",)),
    Option("max_body_bytes", "--max-body-bytes", "largest API response accepted "
           "(default 64 MiB)", "int", minimum=1024),
    Option("demo_lbs", "--demo-lbs", "load balancers in the --demo fleet (default 40)", "int",
           minimum=1),
)

YAML_KEYS = {o.key for o in OPTIONS}


def env_name(option: Option) -> str:
    return option.env or ENV_PREFIX + option.key.upper()


def version_text() -> str:
    """What --version prints: the first line in the form Prometheus exporters use."""
    return f"octavia-exporter, version {__version__} (python {platform.python_version()})"


def _deprecated_dest(option: Option) -> str:
    return f"{option.key}__deprecated"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octavia-exporter",
        description="Prometheus exporter for OpenStack Octavia. Polls the fleet in the "
        "background and serves the latest consistent snapshot on /metrics.",
    )
    parser.add_argument("--version", action="version", version=version_text())
    parser.add_argument("--config-file", help="YAML file with any of the settings below "
                        f"(env {ENV_PREFIX}CONFIG_FILE)")
    for option in OPTIONS:
        text = f"{option.help} [env {env_name(option)}]"
        if option.choices:
            text = f"{option.help}; one of: {', '.join(option.choices)} [env {env_name(option)}]"
        for old in option.deprecated:
            parser.add_argument(old, dest=_deprecated_dest(option), default=None,
                                help=argparse.SUPPRESS)
        if option.kind == "choice":
            parser.add_argument(option.flag, dest=option.key, default=None, help=text,
                                metavar="{" + ",".join(option.choices) + "}")
        elif option.kind == "list":
            parser.add_argument(option.flag, dest=option.key, action="append", help=text)
        elif option.kind == "bool":
            parser.add_argument(option.flag, dest=option.key, default=None,
                                action=argparse.BooleanOptionalAction, help=text)
        else:
            # Strings here; conversion happens in one place so flags, env and YAML get the same
            # validation and the same messages.
            parser.add_argument(option.flag, dest=option.key, default=None, help=text)
    parser.add_argument("--once", action="store_true",
                        help="read the lists and every load balancer's detail once, print "
                        "the exposition, exit 0 only if the lists were read")
    parser.add_argument("--demo", action="store_true",
                        help="start the embedded simulated cloud and export it")
    return parser


def _convert(option: Option, raw: Any, source: str) -> tuple[Any, str | None]:
    where = f"{option.key} ({source})"
    if option.kind == "list":
        items: list[str] = []
        values = raw if isinstance(raw, list | tuple) else [raw]
        for value in values:
            if not isinstance(value, str):
                return None, f"{where}: expected cloud names, got {value!r}"
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return tuple(dict.fromkeys(items)), None
    if option.kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        lowered = str(raw).strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True, None
        if lowered in ("0", "false", "no", "off", ""):
            return False, None
        return None, f"{where}: expected true or false, got {raw!r}"
    if option.kind in ("int", "float"):
        convert: Callable[[str], float] = int if option.kind == "int" else float
        try:
            number = convert(str(raw).strip())
        except ValueError:
            kind = "a whole number" if option.kind == "int" else "a number"
            return None, f"{where}: expected {kind}, got {raw!r}"
        if option.minimum is not None and number < option.minimum:
            return None, f"{where}: must be at least {option.minimum:g}, got {raw!r}"
        if option.maximum is not None and number > option.maximum:
            return None, f"{where}: must be at most {option.maximum:g}, got {raw!r}"
        return number, None
    if option.kind == "choice":
        value = str(raw).strip().lower()
        if value not in option.choices:
            return None, (f"{where}: must be one of {', '.join(option.choices)}, got {raw!r}")
        return value, None
    if option.kind == "shard":
        index, sep, count = str(raw).strip().partition("/")
        if (not sep or not index.isdigit() or not count.isdigit()
                or not 1 <= int(index) <= int(count)):
            return None, f"{where}: expected K/N with 1 <= K <= N (e.g. 2/3), got {raw!r}"
        return (int(index), int(count)), None
    if option.kind == "path":
        path = str(raw).strip()
        if not path.startswith("/") or path in RESERVED_PATHS or any(c in path for c in "?# "):
            return None, (f"{where}: expected a path starting with / other than "
                          f"{', '.join(RESERVED_PATHS)} (e.g. {DEFAULT_TELEMETRY_PATH}), "
                          f"got {raw!r}")
        return path.rstrip("/") or path, None
    if option.kind == "address":
        host, sep, port_text = str(raw).strip().rpartition(":")
        if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            return None, f"{where}: expected host:port or :port (e.g. :{DEFAULT_PORT}), got {raw!r}"
        return (host.strip("[]"), int(port_text)), None
    return str(raw), None


def _load_yaml(path: str, problems: list[str]) -> Mapping[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        problems.append(f"config-file: cannot read {path!r}: {exc.strerror}")
        return {}
    except yaml.YAMLError as exc:
        problems.append(f"config-file: {path!r} is not valid YAML: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        problems.append(f"config-file: {path!r} must be a mapping of setting: value")
        return {}
    for key in data:
        if key not in YAML_KEYS:
            close = difflib.get_close_matches(str(key), sorted(YAML_KEYS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"config-file: unknown setting '{key}' in {path!r}{hint} "
                            f"(valid: {', '.join(sorted(YAML_KEYS))})")
    return data


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Parse and validate everything; raise ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    problems: list[str] = []
    config_path = args.config_file or env.get(ENV_PREFIX + "CONFIG_FILE")
    from_file = _load_yaml(config_path, problems) if config_path else {}

    values: dict[str, Any] = {}
    deprecations: list[str] = []
    for option in OPTIONS:
        raw = getattr(args, option.key)
        source = f"flag {option.flag}"
        old_value = getattr(args, _deprecated_dest(option), None) if option.deprecated else None
        if old_value is not None:
            old = option.deprecated[0]
            deprecations.append(f"{old} is deprecated and will be removed in the next "
                                f"release; use {option.flag}")
            if raw is None:
                raw, source = old_value, f"flag {old}"
        if raw is None and env.get(env_name(option)) not in (None, ""):
            raw, source = env[env_name(option)], f"env {env_name(option)}"
        if raw is None and option.key in from_file:
            raw, source = from_file[option.key], f"config file {config_path}"
        if raw is None:
            continue
        value, problem = _convert(option, raw, source)
        if problem:
            problems.append(problem)
        else:
            values[option.key] = value

    address = values.pop("listen_address", None)
    if address is not None:
        values["listen_host"], values["listen_port"] = address
    settings = Settings(once=args.once, demo=args.demo, deprecations=tuple(deprecations),
                        **values)
    if settings.once and settings.demo:
        problems.append("once/demo: --once and --demo cannot be combined; pick one")
    if settings.notifications_url is not None:
        if not settings.notifications_url.startswith(("amqp://", "amqps://")):
            problems.append("notifications_url: must start with amqp:// or amqps:// (e.g. "
                            "amqp://user:password@rabbit:5672/), got a different scheme")
        if len(settings.clouds) > 1:
            problems.append("notifications_url: notifications are tied to one cloud; run one "
                            "exporter per cloud to use them")
    if settings.cycle_timeout < settings.request_timeout:
        problems.append(f"cycle_timeout: must be at least request_timeout "
                        f"({settings.request_timeout:g}), got {settings.cycle_timeout:g}")
    if problems:
        raise ConfigError(problems)
    return settings
