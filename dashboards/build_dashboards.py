#!/usr/bin/env python3
"""Build the Grafana dashboards in dashboards/*.json.

The JSON files are committed and importable as they are; the `builder` package beside this
script is how they are made (builder/panels.py: the shared helpers; one module per dashboard).
tests/rules/test_dashboards_lint.py fails when a committed file differs from the output.

    python dashboards/build_dashboards.py           # rewrite dashboards/*.json
    python dashboards/build_dashboards.py --check   # exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DASHBOARDS_DIR = Path(__file__).resolve().parent
# Run as a script, this directory is on sys.path already; loaded from its path (as the tests
# do), it is not, and `builder` must still be found beside this file.
if str(DASHBOARDS_DIR) not in sys.path:
    sys.path.insert(0, str(DASHBOARDS_DIR))

from builder import BUILDERS, generate, render  # noqa: E402

__all__ = ["BUILDERS", "generate", "main", "render"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = DASHBOARDS_DIR / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale: {', '.join(stale)}: run python dashboards/build_dashboards.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
