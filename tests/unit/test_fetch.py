"""fetch.in_turn: a load balancer's calls run one after the other in the caller's task and come
back in order; a call that raises, or a cancelled read, leaves no call started or unawaited."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from exporter.fetch import in_turn


async def test_each_call_starts_when_the_one_before_it_is_done() -> None:
    gates = [asyncio.Event() for _ in range(3)]
    started: list[int] = []

    async def call(n: int) -> int:
        started.append(n)
        await gates[n].wait()
        return n * 10

    read = asyncio.create_task(in_turn([call(0), call(1), call(2)]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [0]
    gates[2].set()  # a later call's answer cannot overtake: it has not been asked
    gates[1].set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [0]
    gates[0].set()
    assert await read == [0, 10, 20]
    assert started == [0, 1, 2]
    assert await in_turn([]) == []


async def test_a_call_that_raises_closes_the_calls_after_it() -> None:
    ran: list[str] = []

    async def answers() -> int:
        ran.append("first")
        return 1

    async def fails() -> int:
        ran.append("second")
        raise RuntimeError("bug")

    async def never() -> int:
        ran.append("third")
        return 3

    third = never()
    with pytest.raises(RuntimeError):
        await in_turn([answers(), fails(), third])
    assert ran == ["first", "second"]
    # Closed, so never reported as "never awaited" when collected.
    assert inspect.getcoroutinestate(third) == inspect.CORO_CLOSED


async def test_a_cancelled_read_closes_the_calls_not_yet_made() -> None:
    never = asyncio.Event()
    ran: list[str] = []

    async def waits() -> int:
        ran.append("first")
        await never.wait()
        return 1

    async def later() -> int:
        ran.append("second")
        return 2

    second = later()
    read = asyncio.create_task(in_turn([waits(), second]))
    for _ in range(3):
        await asyncio.sleep(0)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert ran == ["first"]
    assert inspect.getcoroutinestate(second) == inspect.CORO_CLOSED
