"""For every test: loopback only (tests/support/network.py), and under the strict mode
(tests/support/tools.py) no test is skipped, whatever asked for the skip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import tools
from tests.support.network import NETWORK, LoopbackNetwork


def pytest_configure(config: pytest.Config) -> None:
    NETWORK.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # What a session fixture's teardown did: no test is left to fail for it.
    violations = NETWORK.take()
    if violations:
        session.config.get_terminal_writer().line(
            "left loopback after the last test: " + "; ".join(violations), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    NETWORK.uninstall()


def pytest_report_header(config: pytest.Config) -> str:
    mode = "on: a missing tool fails" if tools.strict() else "off: a missing tool skips"
    return f"strict mode ({tools.STRICT_VARIABLE}): {mode}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.skipped and tools.strict() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = (f"skipped under the strict mode ({tools.STRICT_VARIABLE} is set), "
                           f"which allows no skip: {reason}")
    return report


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    # A session fixture's setup counts against the first test that uses it.
    yield
    violations = NETWORK.take()
    if violations:
        pytest.fail("left loopback: " + "; ".join(violations), pytrace=False)


@pytest.fixture
def loopback_resolver() -> LoopbackNetwork:
    """The resolver every name of this process goes through; `looked_up` lists the names it
    answered during this test."""
    NETWORK.looked_up.clear()
    return NETWORK
