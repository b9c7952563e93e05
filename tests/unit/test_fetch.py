"""fetch.in_turn: a load balancer's calls are made one after the other in the caller's task
and come back in order; after a call that raises, or when the read is cancelled, the later
calls are never made (so none is left created and never awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from exporter.octavia.fetch import in_turn


async def test_each_call_is_made_when_the_one_before_it_is_done() -> None:
    gates = [asyncio.Event() for _ in range(3)]
    started: list[int] = []

    def call(n: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            started.append(n)
            await gates[n].wait()
            return n * 10
        return run

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


async def test_a_call_that_raises_stops_the_read_before_the_next_call() -> None:
    made: list[str] = []

    async def answers() -> int:
        made.append("first")
        return 1

    async def fails() -> int:
        made.append("second")
        raise RuntimeError("bug")

    def never() -> asyncio.Future[int]:
        made.append("third")
        raise AssertionError("made after a call that raised")

    with pytest.raises(RuntimeError):
        await in_turn([answers, fails, never])
    assert made == ["first", "second"]


async def test_a_cancelled_read_makes_no_further_call() -> None:
    never = asyncio.Event()
    made: list[str] = []

    async def waits() -> int:
        made.append("first")
        await never.wait()
        return 1

    async def later() -> int:
        made.append("second")
        return 2

    read = asyncio.create_task(in_turn([waits, later]))
    for _ in range(3):
        await asyncio.sleep(0)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert made == ["first"]
