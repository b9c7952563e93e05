"""The golden exposition of tests/system/test_truth.py: what one cycle of the exporter shows of
the tests' simulated fleet (seed 7, 12 load balancers), without the lines that vary run to run.

The test only compares. When the exposition changes on purpose, regenerate the file with

    python -m tests.support.golden

and review the change with `git diff tests/system/golden/`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

from tests.support.exporter import SIMULATOR_SETTINGS, Exporter, build_exporter, start_simulator

GOLDEN = Path(__file__).resolve().parents[1] / "system" / "golden" / "seed7-12lbs.prom"
VOLATILE = ("octavia_poll_duration_seconds", "octavia_last_poll_success_timestamp_seconds",
            "octavia_loadbalancer_detail_timestamp_seconds")


def stable_text(exporter: Exporter) -> str:
    """The fleet part of `exporter`'s exposition, without the VOLATILE families' lines."""
    fleet_text = exporter.exposition.current.text.plain().decode()
    lines = [line for line in fleet_text.splitlines() if not line.startswith(VOLATILE)]
    return "\n".join(lines) + "\n"


async def render() -> str:
    """One cycle against a fresh simulator, as the test's fixtures build both."""
    with tempfile.TemporaryDirectory() as work:
        clouds_yaml = Path(work) / "clouds.yaml"
        simulator = await start_simulator(clouds_yaml)
        for name in [n for n in os.environ if n.startswith("OS_")]:
            del os.environ[name]
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        exporter = build_exporter(**SIMULATOR_SETTINGS)
        try:
            await exporter.cycle()
            if exporter.cycles != [True]:
                raise SystemExit("the cycle failed: nothing written")
            return stable_text(exporter)
        finally:
            await exporter.service.stop()
            await exporter.close()
            await simulator.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.golden",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=GOLDEN,
                        help=f"where to write it (default: {GOLDEN})")
    output = parser.parse_args(argv).output
    text = asyncio.run(render())
    output.write_text(text)
    print(f"wrote {output} ({len(text.splitlines())} lines): review it with git diff")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
