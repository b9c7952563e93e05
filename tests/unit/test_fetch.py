"""fetch.together: a load balancer's calls run concurrently and come back in order, and a bug
in the call awaited first does not leave the others running unowned."""

from __future__ import annotations

import asyncio

import pytest

from exporter.fetch import together


async def test_results_come_back_in_the_order_of_the_calls() -> None:
    gates = [asyncio.Event() for _ in range(3)]
    started: list[int] = []

    async def call(n: int) -> int:
        started.append(n)
        await gates[n].wait()
        return n * 10

    read = asyncio.create_task(together([call(0), call(1), call(2)]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert sorted(started) == [0, 1, 2]  # all in flight at once
    for gate in reversed(gates):  # answered last to first
        gate.set()
    assert await read == [0, 10, 20]
    assert await together([]) == []
    assert await together([call(2)]) == [20]


async def test_a_call_that_raises_cancels_the_others() -> None:
    never = asyncio.Event()
    cancelled: list[bool] = []

    async def fails() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("bug")

    async def waits() -> int:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return 1

    with pytest.raises(RuntimeError):
        await together([fails(), waits()])
    for _ in range(5):
        await asyncio.sleep(0)
    assert cancelled == [True]


async def test_a_later_call_that_raises_cancels_and_awaits_the_others() -> None:
    never = asyncio.Event()
    cancelled: list[str] = []

    async def answers() -> int:
        await asyncio.sleep(0)
        return 1

    async def waits() -> int:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append("third")
            raise
        return 1

    async def fails() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await together([answers(), fails(), waits()])
    assert cancelled == ["third"]  # not left running unowned
