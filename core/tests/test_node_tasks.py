"""Node.cancel_tasks waits for the node's tasks and never swallows its caller's own
cancellation (it suppressed BaseException while waiting: issue 14, "Fix on the way")."""

from __future__ import annotations

import asyncio

import pytest

from wsnet.config import Config
from wsnet.node import Node
from wsnet.plugins import Plugins, new_manager


async def _stubborn(done: list[str]) -> None:
    """A task that takes a moment to finish after it is cancelled (it cleans up)."""
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.sleep(0.2))
        done.append("cleaned up")
        raise


async def test_cancel_tasks_waits_and_lets_its_caller_be_cancelled() -> None:
    node = Node(Config(name="n"), Plugins(new_manager(), []))
    done: list[str] = []
    node.spawn(_stubborn(done), name="stubborn")
    await asyncio.sleep(0)
    closing = asyncio.create_task(node.cancel_tasks())
    await asyncio.sleep(0.05)
    closing.cancel()  # e.g. the shutdown itself is cancelled by a second signal
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert done == ["cleaned up"], "the node's task ended before the caller was released"


async def test_cancel_tasks_ends_every_task() -> None:
    node = Node(Config(name="n"), Plugins(new_manager(), []))
    tasks = [node.spawn(asyncio.sleep(60)) for _ in range(3)]
    await node.cancel_tasks()
    assert all(t.cancelled() for t in tasks)
