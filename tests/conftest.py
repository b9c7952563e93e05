"""For every test: loopback only (tests/support/network.py), and under the strict mode
(tests/support/tools.py) no test is skipped, whatever asked for the skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import tools
from tests.support.network import NETWORK, LoopbackNetwork

TESTS = Path(__file__).resolve().parent
# Where every test is slow (measured with --durations, each 5 s or more or behind a bring-up of
# that order): the real OpenStack and the end-to-end stack start once a session, the image and
# release tests build, the others start a broker, a browser or a soak per test. Single slow
# tests elsewhere carry @pytest.mark.slow themselves. docs/development.md: the fast subset.
SLOW = ("integration", "e2e", "deploy/test_image.py", "deploy/test_release.py",
        "deploy/test_scrape_configs.py", "system/test_notifications.py",
        "system/test_overview.py", "system/test_soak.py", "unit/test_properties.py")


def pytest_configure(config: pytest.Config) -> None:
    for where in SLOW:
        # A path renamed away would silently drop its tests into the fast subset.
        assert (TESTS / where).exists(), f"tests/conftest.py SLOW names a missing {where}"
    NETWORK.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.resolve().relative_to(TESTS).as_posix()
        if any(where == slow or where.startswith(slow + "/") for slow in SLOW):
            item.add_marker(pytest.mark.slow)


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
