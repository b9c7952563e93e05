"""Tools the tests need from the machine, and the one strict mode.

A test that needs something the machine lacks (a binary, RabbitMQ, the OpenStack virtualenv)
calls `unavailable`: under the strict mode that is a failure, otherwise a skip. The strict mode
is on when `CI` is set (any value but "", "0", "false", "no"); `bash scripts/test.sh` sets it,
so the suite's own command fails, never skips, when something is missing. A plain `pytest` run
without it skips, so a subset runs on a machine that has not installed everything.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

STRICT_VARIABLE = "CI"


def strict() -> bool:
    value = os.environ.get(STRICT_VARIABLE, "").strip().lower()
    return value not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Fail the test under the strict mode, skip it otherwise."""
    if strict():
        pytest.fail(f"{reason} ({STRICT_VARIABLE} is set: a missing requirement is an error, "
                    "not a skip)", pytrace=False)
    pytest.skip(reason)


def require_binary(*names: str, install: str) -> str:
    """The path of the first of `names` found on PATH; otherwise `unavailable`, saying how to
    `install` it."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    unavailable(f"{' or '.join(names)} not found on PATH ({install})")


def require_file(path: str, install: str) -> str:
    """`path`, when it exists; otherwise `unavailable`."""
    if not os.path.exists(path):
        unavailable(f"{path} does not exist ({install})")
    return path
