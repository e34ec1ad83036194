"""Cancelling tasks without swallowing the canceller's own cancellation.

``task.cancel(); with suppress(CancelledError): await task`` looks right and is not:
if the *awaiting* task is cancelled meanwhile (a node shutting down), the suppress
eats that cancellation too, and the caller carries on as if nothing happened.  A
link torn down at the moment of a SIGTERM did exactly that: its dialler kept
reconnecting and the node never exited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended.

    Their results, exceptions and CancelledErrors are consumed (their owners report
    them); a cancellation of the caller while it waits is re-raised once they ended.
    """
    pending = [t for t in tasks if not t.done()]
    for t in pending:
        t.cancel()
    if not pending:
        return
    # asyncio.wait, not gather: a cancelled gather cancels its children again, which
    # would cut short the clean-up they run after the first cancel.
    try:
        await asyncio.wait(pending)
    except asyncio.CancelledError:
        await asyncio.wait(pending)  # the caller is being cancelled: finish, then propagate
        raise
    finally:
        for t in pending:
            if t.done() and not t.cancelled():
                t.exception()  # retrieved: their owners report them, not the loop
