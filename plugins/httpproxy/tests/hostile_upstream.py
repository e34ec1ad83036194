"""A hostile HTTP upstream for the breaker tests (raw asyncio, its own process).

``python hostile_upstream.py PORT``; the mode is the second path segment, /h/MODE:
- overrun      Content-Length 2, then 100 KB more: aiohttp quotes them in its error
- switch       101 Switching Protocols to a request that did not ask to upgrade
- anything else: 200 "ok" (Content-Length)
"""

from __future__ import annotations

import asyncio
import sys

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ANSWERS = {
    "overrun": OK + b"y" * 100_000,
    "switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n",
}


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while head := await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30):
            parts = head.split(b" ", 2)[1].decode().split("/")
            mode = parts[2] if len(parts) > 2 else ""
            writer.write(ANSWERS.get(mode, OK))
            await writer.drain()
            if mode in ANSWERS:
                await asyncio.sleep(2)  # then close: the answer was not HTTP to go on with
                break
    except (OSError, asyncio.IncompleteReadError, TimeoutError, IndexError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
