"""``-- PROGRAM ARGS``: start a program and bridge to the port it listens on.

websockify moves the program's bind() with an LD_PRELOAD library (rebind.so): that
fails silently for static binaries, setuid programs and anything that binds through
another path, and surprises whoever debugs it.  Here the bridge picks a free loopback
port and tells the program: ``{port}`` in its arguments is replaced by the number, and
``WSNET_WRAP_PORT`` (and ``PORT``) in its environment hold it.  The program must be
told where to listen (``x11vnc -rfbport {port}``); most servers have such an option.

``wrap_mode``: ``exit`` (websockify's default) stops the node when the program exits,
``ignore`` leaves the bridge running (for programs that daemonise), ``respawn`` starts
it again after RESPAWN_DELAY seconds, doubled after each run shorter than STABLE seconds
(up to MAX_DELAY): a program that dies at once (a missing display, a port in use) is not
restarted, and logged, every second for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger("wsnet.websockify")
RESPAWN_DELAY = 1.0  # seconds: a program that dies at once is not restarted in a busy loop
MAX_DELAY = 60.0  # the longest wait between two starts
STABLE = 10.0  # a run this long resets the delay


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Wrapper:
    def __init__(self, argv: tuple[str, ...], mode: str, stop: Callable[[str], None]) -> None:
        self.argv, self.mode, self.stop = argv, mode, stop
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        self.port = free_loopback_port()
        await self._spawn()
        self._task = asyncio.ensure_future(self._watch())
        return self.port

    async def _spawn(self) -> None:
        args = [a.replace("{port}", str(self.port)) for a in self.argv]
        env = {**os.environ, "WSNET_WRAP_PORT": str(self.port), "PORT": str(self.port)}
        self.proc = await asyncio.create_subprocess_exec(*args, env=env)
        self.starts += 1
        log.info("websockify: started %s (pid %d) on port %d", args[0], self.proc.pid, self.port)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        delay = RESPAWN_DELAY
        while self.proc is not None:
            began = loop.time()
            status = await self.proc.wait()
            what = f"wrapped program {self.argv[0]} exited with status {status}"
            if self.mode == "exit":
                self.stop(what)
                return
            if self.mode == "ignore":
                log.info("websockify: %s (wrap_mode ignore)", what)
                return
            delay = RESPAWN_DELAY if loop.time() - began >= STABLE else delay
            while True:
                log.info("websockify: %s; respawning in %gs", what, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                try:
                    await self._spawn()
                    break
                except OSError as exc:  # the program was removed, say: try again later
                    what = f"wrapped program {self.argv[0]} cannot start: {exc.strerror or exc}"

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
