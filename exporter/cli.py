"""`octavia-exporter`: the command line → the settings → the process's Runtime.

Everything the process runs is built, started and taken down by runtime/process.py; this reads
the arguments, sets up logging with the runtime's redactor, and turns configuration problems
into a message and exit status 2.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import structlog

from exporter import config, logs
from exporter.runtime.process import Runtime

log = structlog.get_logger("exporter.cli")


def _config_error(problems: Sequence[str]) -> int:
    print("octavia-exporter: configuration error"
          f"{'s' if len(problems) > 1 else ''}:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Run 'octavia-exporter --help' for every setting.", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["healthcheck"]:
        # A subcommand rather than a flag: it takes the server's settings as its own arguments.
        from exporter.web import healthcheck

        return healthcheck.main(args[1:])
    try:
        settings = config.load(args)
    except config.ConfigError as exc:
        return _config_error(exc.problems)
    runtime = Runtime(settings)
    logs.configure(settings.log_level, settings.log_format, redactor=runtime.redactor)
    for message in settings.deprecations:
        log.warning("deprecated_flag", message=message)
    try:
        return asyncio.run(runtime.run())
    except config.ConfigError as exc:
        return _config_error(exc.problems)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
