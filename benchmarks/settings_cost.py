"""What exporting the configured settings costs: series, exposition bytes and parsed objects.

In one process, on the simulator's fleet (built in memory from a fixed FleetSpec, no network):
the load-balancer, listener, pool and health-monitor lists as the simulator serves them (its own
list views, `fields=` of exporter/octavia/lists.py, Octavia's default order, a JSON round trip
per page as the HTTP client would see it) are read by the exporter's own tier-1 reader
(`ListReader.read`, behind a client that hands it those pages) into a snapshot, and rendered
by the exporter's own families and writer (`render_families`, compression level 1 as served)
into the Prometheus text format. Three variants:

- `settings`: the lists as the product reads them now;
- `stripped`: the same lists without the settings fields (`SETTINGS_FIELDS`), as an API
  without them would answer; rendered by the same code, so the settings labels are still
  there, with "" values, and the settings gauges have no samples;
- `none`: the `stripped` snapshot rendered without the settings labels and families at all
  (`SETTINGS_LABELS`, `SETTINGS_FAMILIES` taken out of the product's families): the exposition
  as it would be if the settings were not exported.

For `settings` and `stripped` it also measures, with tracemalloc, the memory the parsed
snapshot retains (the parser's shared-value caches warmed by one untraced read of each first,
so neither variant pays for them). Both variants are the same classes, so every object has its
settings slots in both; their size (slots x pointer size) is printed beside, computed.

    python -m benchmarks.settings_cost --lbs 10000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import struct
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from exporter.export import families
from exporter.export.families import Family
from exporter.export.render import render_families
from exporter.model.capabilities import Capabilities
from exporter.model.snapshot import FleetSnapshot, HealthMonitor, Listener, LoadBalancer, Pool
from exporter.octavia import lists
from exporter.octavia.client import OctaviaClient
from exporter.simulator.app import Simulator
from exporter.simulator.fleet import Fleet, FleetSpec
from exporter.simulator.pagination import select_fields
from exporter.simulator.views import view
from exporter.telemetry import Telemetry

SEED = 42
# A fixed clock, so that timestamps (and so the exposition's bytes) do not move between runs.
START_TIME = 1_800_000_000
PAGE_SIZE = 1000  # the simulator's default page cap

# The list fields the settings come from (added to the lists' fields= with them), per list.
SETTINGS_FIELDS: dict[str, tuple[str, ...]] = {
    "loadbalancers": ("vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids", "additional_vips"),
    "listeners": ("timeout_client_data", "timeout_member_connect", "timeout_member_data",
                  "timeout_tcp_inspect", "allowed_cidrs", "tls_versions", "alpn_protocols",
                  "hsts_max_age", "hsts_include_subdomains", "hsts_preload"),
    "pools": ("session_persistence", "tls_enabled", "tls_versions", "alpn_protocols"),
    "healthmonitors": ("delay", "timeout", "max_retries", "max_retries_down", "http_method",
                       "url_path", "expected_codes"),
}
PRODUCT_FIELDS: dict[str, tuple[str, ...]] = {
    "loadbalancers": lists.LB_FIELDS, "listeners": lists.LISTENER_FIELDS,
    "pools": lists.POOL_FIELDS, "healthmonitors": lists.HM_FIELDS,
}
# Where they are exported: labels of the info families, and families of their own.
SETTINGS_LABELS: dict[str, tuple[str, ...]] = {
    "octavia_loadbalancer": ("vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids"),
    "octavia_listener": ("allowed_cidrs", "timeout_member_connect", "timeout_member_data",
                         "timeout_tcp_inspect", "tls_versions", "alpn_protocols",
                         "hsts_max_age", "hsts_include_subdomains", "hsts_preload"),
    "octavia_pool": ("session_persistence", "tls_enabled", "tls_versions", "alpn_protocols"),
    "octavia_healthmonitor": ("http_method", "url_path", "expected_codes", "max_retries",
                              "max_retries_down"),
}
SETTINGS_FAMILIES = (
    "octavia_loadbalancer_additional_vip", "octavia_listener_timeout_client_data_seconds",
    "octavia_healthmonitor_delay_seconds", "octavia_healthmonitor_timeout_seconds",
)
# The snapshot attributes the settings fields are parsed into, per class.
SETTINGS_SLOTS: dict[type, tuple[str, ...]] = {
    LoadBalancer: ("vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids", "additional_vips"),
    Listener: ("timeouts", "allowed_cidrs", "tls_versions", "alpn_protocols", "hsts"),
    Pool: ("session_persistence", "tls_enabled", "tls_versions", "alpn_protocols"),
    HealthMonitor: ("probe", "http_method", "url_path", "expected_codes"),
}
BUILDERS: tuple[Callable[[Sequence[FleetSnapshot], bool], Iterator[Family]], ...] = (
    families.loadbalancer_families, families.listener_families, families.pool_families,
    families.healthmonitor_families,
)


class SimulatedLists:
    """Stands in for OctaviaClient where ListReader reads the lists: each page is what the
    simulator's list handler would answer (its views, `fields=`, Octavia's default order),
    through JSON, without `strip`'s fields."""

    cloud = "simulator"

    def __init__(self, fleet: Fleet, strip: Mapping[str, Sequence[str]]) -> None:
        self._fleet = fleet
        self._strip = strip
        self.rows: dict[str, int] = {}

    async def url(self, endpoint: str, path: str, service: str = "load-balancer") -> str:
        return f"http://127.0.0.1/{path}"

    async def list_all(self, endpoint: str, path: str, collection: str,
                       fields: Sequence[str] = (), page_size: int | None = None,
                       on_page: Callable[[list[Any]], bool | None] | None = None,
                       **_: Any) -> list[Any]:
        dropped = set(self._strip.get(collection, ()))
        asked = [f for f in fields if f not in dropped]
        table = self._fleet.table(collection)
        ordered = sorted(table.values(), key=self._fleet.key)
        size = page_size or PAGE_SIZE
        items: list[Any] = []
        self.rows[collection] = len(ordered)
        for start in range(0, len(ordered), size):
            rows = [select_fields(view(self._fleet, collection, obj), asked)
                    for obj in ordered[start:start + size]]
            page: list[Any] = json.loads(json.dumps(rows))
            if on_page is None:
                items.extend(page)
            elif on_page(page) is False:
                break
        return items


def read_lists(fleet: Fleet, strip: Mapping[str, Sequence[str]]) -> FleetSnapshot:
    """The exporter's tier-1 reader over the simulated lists (no amphorae, no floating IPs:
    they carry no settings)."""
    client = SimulatedLists(fleet, strip)
    reader = lists.ListReader(cast(OctaviaClient, client), Telemetry(),
                              Capabilities(amphorae=False, floating_ips=False),
                              page_size=PAGE_SIZE, feed=False)
    return asyncio.run(reader.read(None))


def traced_read(fleet: Fleet, strip: Mapping[str, Sequence[str]]) -> tuple[FleetSnapshot, int]:
    """The snapshot and the bytes it retains (traced memory after the read, less before)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        snapshot = read_lists(fleet, strip)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return snapshot, after - before


def settings_families(snapshot: FleetSnapshot) -> list[Family]:
    return [f for build in BUILDERS for f in build([snapshot], False)]


def without_settings(found: Iterable[Family]) -> Iterator[Family]:
    """The product's families with the settings labels and families taken out."""
    seen: set[str] = set()
    for family in found:
        if family.name in SETTINGS_FAMILIES:
            seen.add(family.name)
            continue
        dropped = SETTINGS_LABELS.get(family.name)
        if dropped is None:
            yield family
            continue
        seen.add(family.name)
        missing = set(dropped) - set(family.labels)
        if missing:
            raise LookupError(f"{family.name} has no label {sorted(missing)}")
        keep = [i for i, label in enumerate(family.labels) if label not in dropped]
        yield dataclasses.replace(
            family, labels=[family.labels[i] for i in keep], key=None,
            samples=(([values[i] for i in keep], value) for values, value in family.samples))
    absent = (set(SETTINGS_LABELS) | set(SETTINGS_FAMILIES)) - seen
    if absent:
        raise LookupError(f"no family {sorted(absent)}")


@dataclass
class Variant:
    name: str
    series: int
    plain_bytes: int
    gzip_bytes: int
    parsed_bytes: int | None


def measure(name: str, found: Iterable[Family], parsed_bytes: int | None) -> Variant:
    rendered = render_families(found, level=1)
    served = sum(len(part) for part in rendered.text.gzip_parts(b""))
    return Variant(name, rendered.lines, rendered.text.size, served, parsed_bytes)


def settings_slots(snapshot: FleetSnapshot) -> int:
    """Pointers the settings attributes take in the snapshot's objects."""
    by_class = {LoadBalancer: snapshot.loadbalancers, Listener: snapshot.listeners,
                Pool: snapshot.pools, HealthMonitor: snapshot.healthmonitors}
    total = 0
    for cls, attrs in SETTINGS_SLOTS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        if not set(attrs) <= names:
            raise LookupError(f"{cls.__name__} has no {sorted(set(attrs) - names)}")
        total += len(attrs) * len(by_class[cls])
    return total


def check_fields() -> None:
    for collection, stripped in SETTINGS_FIELDS.items():
        missing = set(stripped) - set(PRODUCT_FIELDS[collection])
        if missing:
            raise LookupError(f"the {collection} list asks for no {sorted(missing)}")


def commit() -> str:
    """The checkout's short commit, "+dirty" when exporter/ or this script differ from it."""
    here = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    if not head:
        return "no git"
    dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "exporter",
                            "benchmarks/settings_cost.py"],
                           capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def run(lbs: int, seed: int = SEED, trace: bool = True) -> dict[str, Any]:
    """Every figure of one run, as a JSON-ready dict."""
    check_fields()
    started = time.monotonic()
    fleet = Simulator(FleetSpec(lbs=lbs, seed=seed, start_time=START_TIME)).fleet
    strip = SETTINGS_FIELDS
    full_bytes: int | None = None
    bare_bytes: int | None = None
    if trace:
        # Warm the parser's caches of shared values (statuses, settings tuples, interned
        # strings) with both variants, so that neither traced read pays for them.
        read_lists(fleet, {})
        read_lists(fleet, strip)
        full, full_bytes = traced_read(fleet, {})
        bare, bare_bytes = traced_read(fleet, strip)
    else:
        full, bare = read_lists(fleet, {}), read_lists(fleet, strip)
    variants = [
        measure("settings", settings_families(full), full_bytes),
        measure("stripped", settings_families(bare), bare_bytes),
        measure("none", without_settings(settings_families(bare)), None),
    ]
    slots = settings_slots(full)
    return {
        "benchmark": "settings_cost", "lbs": lbs, "seed": seed, "start_time": START_TIME,
        "exporter": commit(),
        "objects": {kind: len(getattr(full, kind)) for kind in SETTINGS_FIELDS},
        "additional_vips": sum(len(lb.additional_vips) for lb in full.loadbalancers.values()),
        "variants": [dataclasses.asdict(v) for v in variants],
        "settings_slots": slots,
        "settings_slot_bytes": slots * struct.calcsize("P"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}",
    }


def mb(count: int | None) -> str:
    return "" if count is None else f"{count / 1e6:.2f}"


def table(result: dict[str, Any]) -> str:
    by_name = {v["name"]: v for v in result["variants"]}
    full, bare, none = by_name["settings"], by_name["stripped"], by_name["none"]
    rows = ["| variant | series | plain (MB) | gzip (MB) | parsed snapshot (MB) |",
            "|---|---|---|---|---|"]
    for v in result["variants"]:
        rows.append(f"| {v['name']} | {v['series']:,} | {mb(v['plain_bytes'])} | "
                    f"{mb(v['gzip_bytes'])} | {mb(v['parsed_bytes'])} |")

    def gap(a: dict[str, Any], b: dict[str, Any], label: str) -> str:
        parsed = ("" if a["parsed_bytes"] is None or b["parsed_bytes"] is None
                  else mb(a["parsed_bytes"] - b["parsed_bytes"]))
        return (f"| {label} | {a['series'] - b['series']:+,} | "
                f"{mb(a['plain_bytes'] - b['plain_bytes'])} | "
                f"{mb(a['gzip_bytes'] - b['gzip_bytes'])} | {parsed} |")

    rows.append(gap(full, none, "settings - none"))
    rows.append(gap(full, bare, "settings - stripped"))
    objects = ", ".join(f"{n:,} {kind}" for kind, n in result["objects"].items())
    return (f"{result['lbs']:,} load balancers, seed {result['seed']} ({objects}; "
            f"{result['additional_vips']:,} additional VIPs); exporter {result['exporter']}; "
            f"{result['machine']}; {result['seconds']} s.\n"
            "Families: load balancer, listener, pool, health monitor (Prometheus text; gzip "
            "as served, level 1).\n\n" + "\n".join(rows) + "\n\n"
            f"Settings slots, in both snapshots: {result['settings_slots']:,} pointers, "
            f"{mb(result['settings_slot_bytes'])} MB (computed).")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=10_000, help="load balancers in the fleet")
    parser.add_argument("--seed", type=int, default=SEED, help="the fleet's seed")
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the tracemalloc reads (series and bytes only, faster)")
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    result = run(args.lbs, args.seed, trace=not args.no_trace)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
