"""Dialling a peer and keeping the link up: exponential backoff with jitter.

A dialler never gives up: a peer that is not up yet, refuses us, or dies is
retried after ``initial`` seconds, doubling up to ``max``, each wait drawn
from [delay/2, delay] so that many clients restarting together spread out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from typing import Any
from urllib.parse import urlsplit

from .config import DialConfig, ReconnectConfig
from .events import DialFailed
from .node import Node
from .protocol import CloseCode
from .redact import redact_text, redact_url, url_secrets

log = logging.getLogger("wsnet.dialer")
STABLE_AFTER = 10.0  # a link that lasted this long resets the backoff
# Close codes that mean "the peer will not have us", even if its HELLO arrived first
# (both sides send HELLO at once, so the acceptor's verdict can follow its HELLO).
REFUSALS = frozenset(
    {
        CloseCode.VERSION_MISMATCH,
        CloseCode.BAD_NODE_NAME,
        CloseCode.DUPLICATE_NODE,
        CloseCode.NAME_NOT_GRANTED,
    }
)


class Backoff:
    """Delays for successive failures; pure, so it is tested without sleeping."""

    def __init__(self, cfg: ReconnectConfig, rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.delay = cfg.initial
        self._rng = rng or random.Random()

    def next(self) -> float:
        wait = self._rng.uniform(self.delay / 2, self.delay)
        self.delay = min(self.delay * self.cfg.factor, self.cfg.maximum)
        return wait

    def reset(self) -> None:
        self.delay = self.cfg.initial


class Dialer:
    def __init__(self, node: Node, cfg: DialConfig) -> None:
        self.node = node
        self.cfg = cfg
        self.state = "starting"
        self.last_error = ""
        self.attempts = 0
        self.link_id: int | None = None
        self.next_attempt = 0.0
        self.task: asyncio.Task[None] | None = None
        self._backoff = Backoff(node.config.reconnect)
        self._seen: set[str] = set()  # unexpected errors already logged with a traceback
        # What this dial may show: its URL with the password masked, and the secrets an
        # error text could echo (URL and proxy passwords) masked wherever they appear.
        self.shown_url = redact_url(cfg.url)
        self._secrets = [*url_secrets(cfg.url), *url_secrets(str(cfg.options.get("proxy", ""))),
                         str(cfg.options.get("password", ""))]  # fmt: skip

    async def run(self) -> None:
        """Keep the link up until cancelled.  Nothing that happens inside a link ends
        this loop: an unexpected exception is logged (with its traceback the first time
        it is seen) and the dial is retried with backoff, like any other failure."""
        while True:
            started = time.monotonic()
            try:
                up = await self._attempt()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                up = False
                self.state = "down"
                self.last_error = self._redact(f"internal error: {type(exc).__name__}: {exc}")
                self._report(exc)
            if up and time.monotonic() - started >= STABLE_AFTER:
                self._backoff.reset()
            wait = self._backoff.next()
            self.state = "backoff"
            self.next_attempt = time.time() + wait
            if self.last_error:
                self.node.emit(DialFailed(self.shown_url, self.last_error, round(wait, 2)))
                log.warning("dial %s: %s; retrying in %.1fs", self.shown_url, self.last_error, wait)
            await asyncio.sleep(wait)

    def _redact(self, text: str) -> str:
        return redact_text(text, self._secrets)

    def _report(self, exc: Exception) -> None:
        key = self._redact(f"{type(exc).__name__}: {exc}")
        if key in self._seen:
            log.error("dial %s: %s (again)", self.shown_url, key)
        else:
            self._seen.add(key)
            # The traceback's text passes the redacting log filter (logsetup).
            log.error("dial %s: unexpected error, retrying", self.shown_url, exc_info=exc)

    async def _attempt(self) -> bool:
        self.attempts += 1
        self.state = "connecting"
        scheme = urlsplit(self.cfg.url).scheme
        transport = self.node.transports.get(scheme)
        if transport is None:
            self.last_error = (
                f"no transport for {scheme}:// (have: {', '.join(self.node.transports)})"
            )
            return False
        try:
            sock = await transport.dial(self.cfg.url, self.cfg.options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.last_error = self._redact(_describe(exc))
            return False
        try:
            self.state = "up"
            self.last_error = ""
            link = await self.node.serve_link(
                sock.ws, initiator=True, remote=self.shown_url, expect_peer=self.cfg.peer
            )
            reason = self._redact(link.close_reason)
            if not link.was_up or link.close_code in REFUSALS:
                self.last_error = f"refused: {reason} (code {link.close_code})"
                return False
            self.last_error = f"link lost: {reason or 'closed'}"
            return True
        finally:
            self.state = "down"
            await sock.aclose()

    def info(self) -> dict[str, Any]:
        return {
            "url": self.shown_url,
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "retry_in": round(max(0.0, self.next_attempt - time.time()), 1)
            if self.state == "backoff"
            else None,
        }


# aiohttp names the TLS setting of a failed connect: "ssl:default", "ssl:True" or the
# repr of an SSLContext ("ssl:<ssl.SSLContext object at 0x7f...>"), noise in a log line.
_SSL_NOISE = re.compile(r" ssl:(?:default|True|False|None|<ssl\.SSLContext object at 0x[0-9a-f]+>)")


def _describe(exc: BaseException) -> str:
    text = _SSL_NOISE.sub("", str(exc)) or type(exc).__name__
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        text = f"HTTP {status}: {getattr(exc, 'message', '') or text}"
    return text
