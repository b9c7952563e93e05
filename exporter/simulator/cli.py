"""``octavia-simulator``: serve a simulated Keystone + Octavia on loopback until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from dataclasses import fields

from exporter.simulator.app import Simulator, run_forever_hint
from exporter.simulator.capacity import SERVICE_KEYS
from exporter.simulator.model import FleetSpec

_SPEC_HELP = {
    "projects": "projects owning load balancers (one of them is 'demo')",
    "listeners_per_lb": "listeners per load balancer",
    "pools_per_lb": "pools per load balancer",
    "members_per_pool": "average members per pool",
    "healthmonitor_share": "share of load balancers whose pools have a health monitor",
    "amphorae_per_lb": "0 = provider without amphorae, 1 = SINGLE, 2 = ACTIVE_STANDBY",
    "error_share": "share of load balancers in provisioning ERROR",
    "degraded_share": "share of load balancers with failing members (DEGRADED)",
    "pending_share": "share of load balancers in a PENDING_* state",
    "no_listener_share": "share of load balancers without listeners",
    "unattached_pool_share": "share of load balancers with a pool no listener uses",
    "l7policy_share": "share of load balancers with an L7 redirect policy",
    "admin_down_share": "share of load balancers administratively down",
    "spare_amphorae": "READY amphorae not attached to any load balancer",
    "start_time": "epoch seconds the fleet's clock starts at (default: now)",
    "floatingip_share": "share of load balancers with one floating IP (Neutron)",
    "two_floatingip_share": "share of load balancers with two floating IPs",
    "unattached_floatingip_share": "unattached floating IPs, as a share of the load balancers",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="octavia-simulator",
        description="Serve a simulated Keystone v3 + Octavia v2 API (and Neutron's floating "
                    "IPs) on 127.0.0.1.",
    )
    parser.add_argument("--lbs", type=int, default=FleetSpec.lbs, help="load balancers")
    parser.add_argument("--seed", type=int, default=FleetSpec.seed, help="random seed")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    parser.add_argument("--write-clouds-yaml", metavar="FILE",
                        help="write a clouds.yaml for the simulator to FILE")
    parser.add_argument("--tick", type=float, default=0.0, metavar="SECONDS",
                        help="step the scenario every SECONDS (0 = frozen)")
    parser.add_argument("--hm-writes", type=float, default=0.0, metavar="N",
                        help="write N status changes a second as Octavia's health manager "
                             "does (a member flips, its pool, listeners and load balancer "
                             "roll up; 0 = none), the same sequence for a seed")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="latency added to every API answer")
    parser.add_argument("--page-cap", type=int, default=1000,
                        help="Octavia's pagination_max_limit")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="token lifetime (s)")
    parser.add_argument("--region", action="append", dest="regions", metavar="NAME",
                        help="a region (repeatable; default RegionOne)")
    parser.add_argument("--no-neutron", action="store_false", dest="neutron",
                        help="leave Neutron (network) out of the catalog and unserved")
    parser.add_argument("--neutron-page-cap", type=int, default=-1, metavar="N",
                        help="Neutron's pagination_max_limit (-1 = none, Neutron's default)")
    parser.add_argument("--capacity-workers", type=int, default=0, metavar="N",
                        help="serve N Octavia requests at a time, the rest queueing (a real "
                             "API's worker slots; 0 = unlimited, the default)")
    parser.add_argument("--service-ms", action="append", default=[], metavar="KEY=MS",
                        type=_service_ms,
                        help="service time of one request for the capacity model (repeatable): "
                             + ", ".join(SERVICE_KEYS))
    parser.add_argument("--capacity-jitter", type=float, default=0.0, metavar="SHARE",
                        help="spread service times uniformly by ± SHARE (0..1)")
    for f in fields(FleetSpec):
        if f.name in ("seed", "lbs"):
            continue
        kind = float if f.type in ("float", "float | None") else int
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default,
                            help=_SPEC_HELP.get(f.name))
    return parser


def _service_ms(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not key.endswith("_ms"):
        key += "_ms"
    if not sep or key not in SERVICE_KEYS:
        raise argparse.ArgumentTypeError(
            f"expected KEY=MS with KEY one of {', '.join(SERVICE_KEYS)}, not {text!r}")
    try:
        ms = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{key}: {value!r} is not a number") from None
    if ms < 0:
        raise argparse.ArgumentTypeError(f"{key} must be >= 0")
    return key, ms


def spec_from_args(args: argparse.Namespace) -> FleetSpec:
    values = {f.name: getattr(args, f.name) for f in fields(FleetSpec)}
    return FleetSpec(**values)


async def serve(args: argparse.Namespace) -> None:
    sim = Simulator(
        spec_from_args(args),
        tick_interval=args.tick,
        token_ttl=args.token_ttl,
        page_cap=args.page_cap,
        latency_ms=args.latency_ms,
        regions=args.regions or ("RegionOne",),
        neutron=args.neutron,
        neutron_page_cap=args.neutron_page_cap,
        capacity_workers=args.capacity_workers,
        service_ms=dict(args.service_ms),
        capacity_jitter=args.capacity_jitter,
    )
    await sim.start(port=args.port)
    for region in sim.regions.values():
        region.scenario.set_hm_writes(args.hm_writes)
    if args.write_clouds_yaml:
        sim.write_clouds_yaml(args.write_clouds_yaml)
    counts = sim.fleet.counts()
    print(f"octavia-simulator serving {counts['loadbalancers']} load balancers, "
          f"{counts['members']} members, {counts['floatingips']} floating IPs "
          f"(seed {args.seed})", flush=True)
    print(run_forever_hint(sim), flush=True)
    if args.write_clouds_yaml:
        print(f"clouds.yaml: {args.write_clouds_yaml} (clouds: simulator, simulator-member, "
              "simulator-appcred)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.lbs < 0:
        print("--lbs must be >= 0", file=sys.stderr)
        return 2
    if args.capacity_workers < 0:
        print("--capacity-workers must be >= 0 (0 = unlimited)", file=sys.stderr)
        return 2
    if args.hm_writes < 0:
        print("--hm-writes must be >= 0 (0 = none)", file=sys.stderr)
        return 2
    if not 0.0 <= args.capacity_jitter < 1.0:
        print("--capacity-jitter must be within 0..1", file=sys.stderr)
        return 2
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
