"""``/healthz`` and ``/readyz`` on the control listener, for systemd, Kubernetes and load
balancers (docs/security.md, "Health endpoints").

Both answer without credentials: a probe (kubelet, a load balancer, ``curl`` in a unit's
``ExecStartPost``) carries none.  So they reveal nothing a scanner could use: no URL, host,
peer or user name, only states and the position of a ``[[dial]]`` entry in the config.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

# (ready?, why not): what the runtime answers for /readyz.
Readiness = Callable[[], "tuple[bool, list[str]]"]
HEALTH_PATHS = ("/healthz", "/readyz")


@dataclass(frozen=True, slots=True)
class DialState:
    """One configured ``[[dial]]`` entry, by its position (1-based) and dialler state."""

    index: int
    state: str


def readiness(
    phase: str, dials: Sequence[DialState], unbound: Sequence[str]
) -> tuple[bool, list[str]]:
    """Ready when the node runs (``phase`` "running"), every configured dial's link is up
    and every listener is bound; else the reasons, one per problem."""
    reasons = [] if phase == "running" else [f"node is {phase}"]
    reasons += [f"listener {name} is not bound" for name in unbound]
    reasons += [f"[[dial]] #{d.index} is {d.state}" for d in dials if d.state != "up"]
    return not reasons, reasons


def add_routes(app: web.Application, ready: Readiness) -> None:
    """The two GET routes (HEAD too: aiohttp answers it for every GET)."""

    async def healthz(request: web.Request) -> web.Response:
        # The event loop answered: the process serves.  Nothing else is checked.
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ok, reasons = ready()
        body = {"ready": ok} if ok else {"ready": False, "reasons": reasons}
        return web.json_response(body, status=200 if ok else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


def is_health_request(request: web.Request) -> bool:
    return request.method in ("GET", "HEAD") and request.path in HEALTH_PATHS
