"""TCP targets for the tests (a real process): prints its port, then serves until killed.

Modes (second argument): ``echo`` (default), ``once`` (echo one connection, then exit: a
program wrapped with respawn), ``greet`` (send a banner, close: "Target closed"),
``flood`` (send without end: a browser that stops reading), ``stall`` (never read).
"""

from __future__ import annotations

import asyncio
import sys

MODE = sys.argv[2] if len(sys.argv) > 2 else "echo"
BANNER = b"RFB 003.008\n"
done = asyncio.Event()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        if MODE == "greet":
            writer.write(BANNER)
            await writer.drain()
        elif MODE == "flood":
            block = b"x" * 65536
            while True:
                writer.write(block)
                await writer.drain()
        elif MODE == "stall":
            await asyncio.sleep(3600)
        else:
            while data := await reader.read(256 * 1024):
                writer.write(data)
                await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        if MODE == "once":
            done.set()


async def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        if MODE == "once":
            await done.wait()
        else:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
