"""cancel_and_wait: the tasks end, their errors are consumed, the caller's cancel is not."""

from __future__ import annotations

import asyncio

import pytest

from wsnet.tasks import cancel_and_wait


async def _slow_to_die() -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)  # cleanup that takes a moment, like a link closing
        raise


async def test_tasks_end_and_their_errors_are_consumed() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    failing = asyncio.create_task(fails())
    await asyncio.sleep(0)
    slow = asyncio.create_task(_slow_to_die())
    await cancel_and_wait([failing, slow])
    assert slow.cancelled() and failing.done()


async def test_a_cancelled_caller_is_not_swallowed() -> None:
    """The shutdown bug: the caller went on as if never cancelled."""
    child = asyncio.create_task(_slow_to_die())

    async def caller() -> str:
        await cancel_and_wait([child])
        return "carried on"

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)  # the caller now waits for the child's cleanup
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert child.done()
