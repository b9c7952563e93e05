"""The project-name cache with a scripted Keystone: refresh cadence in cycles, the fallback
remembered, failures keeping the names, malformed answers refused."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.model.capabilities import Capabilities
from exporter.octavia.errors import AuthFailed
from exporter.octavia.projects import ProjectNames, cycles_between, parse_projects


class ScriptedKeystone:
    """Answers each path from a queue of bodies or AuthFailed; records every call."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = {path.replace("_", "/"): list(queue) for path, queue in answers.items()}
        self.calls: list[str] = []

    async def identity_get(self, path: str) -> Any:
        self.calls.append(path)
        answer = self.answers[path].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def body(**names: str) -> dict[str, Any]:
    return {"projects": [{"id": pid, "name": name} for pid, name in names.items()],
            "links": {}}


def refused(status: int) -> AuthFailed:
    return AuthFailed(f"Keystone answered {status}", "forbidden", "http://ks/v3/x", status,
                      authentication=False)


def test_cycles_between() -> None:
    assert cycles_between(3600, 30) == 120
    assert cycles_between(3600, 7) == 515
    assert cycles_between(1, 30) == 1
    assert cycles_between(30, 30) == 1
    assert cycles_between(30, 0) == 1


@pytest.mark.parametrize("bad", [None, {}, {"projects": {}}, {"projects": [1]},
                                 {"projects": [{"id": "p"}]}, {"projects": [{"name": "x"}]}])
def test_parse_projects_refuses_what_is_not_a_project_list(bad: Any) -> None:
    with pytest.raises(ValueError):
        parse_projects(bad)


async def test_refresh_once_per_period_and_keep_names_on_failure() -> None:
    errors: list[tuple[str, str, str]] = []
    failure = AuthFailed("boom", "server_error", "http://ks/v3/projects", 500,
                         authentication=False)
    keystone = ScriptedKeystone(projects=[body(p1="one"), failure, body(p1="uno", p2="two")])
    names = ProjectNames("c", keystone, Capabilities(), every=2,
                         on_error=lambda *args: errors.append(args))
    seen = [dict(await names.read()) for _ in range(6)]
    assert keystone.calls == ["projects"] * 3  # cycles 1, 3 and 5
    assert seen == [{"p1": "one"}] * 4 + [{"p1": "uno", "p2": "two"}] * 2
    assert errors == [("server_error", "http://ks/v3/projects", "boom")]


async def test_fallback_is_remembered_and_double_refusal_switches_off() -> None:
    caps = Capabilities()
    keystone = ScriptedKeystone(projects=[refused(403)],
                                auth_projects=[body(p="mine"), refused(403)])
    names = ProjectNames("c", keystone, caps)
    assert await names.read() == {"p": "mine"}
    assert await names.read() == {}
    assert keystone.calls == ["projects", "auth/projects", "auth/projects"]
    assert caps.project_names is False
    assert await names.read() == {} and len(keystone.calls) == 3


async def test_malformed_answer_keeps_the_names() -> None:
    errors: list[tuple[str, str, str]] = []
    keystone = ScriptedKeystone(projects=[body(p="x"), {"projects": "no"}])
    names = ProjectNames("c", keystone, Capabilities(),
                         on_error=lambda *args: errors.append(args))
    assert await names.read() == {"p": "x"}
    assert await names.read() == {"p": "x"}
    assert [e[0] for e in errors] == ["malformed"]


async def test_no_token_is_not_counted_twice() -> None:
    """Tier 1 fails on the same authentication and counts it; the names stay."""
    errors: list[tuple[str, str, str]] = []
    no_token = AuthFailed("Keystone unreachable", "connection_refused", "http://ks/v3")
    keystone = ScriptedKeystone(projects=[body(p="x"), no_token, body(p="y")])
    names = ProjectNames("c", keystone, Capabilities(), every=10,
                         on_error=lambda *args: errors.append(args))
    assert await names.read() == {"p": "x"}
    for _ in range(9):
        await names.read()
    assert await names.read() == {"p": "x"}
    assert errors == []
    # Without a token nothing was read: the next cycle tries again, not the next period.
    assert await names.read() == {"p": "y"}
    assert keystone.calls == ["projects"] * 3


async def test_an_unexpected_failure_is_counted_not_raised() -> None:
    errors: list[tuple[str, str, str]] = []
    keystone = ScriptedKeystone(projects=[body(p="x"), ConnectionResetError()])
    names = ProjectNames("c", keystone, Capabilities(),
                         on_error=lambda *args: errors.append(args))
    assert await names.read() == {"p": "x"}
    assert await names.read() == {"p": "x"}
    assert [e[0] for e in errors] == ["auth"]
