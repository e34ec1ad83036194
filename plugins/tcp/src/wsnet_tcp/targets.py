"""Ad-hoc targets: a listen side asks this node to connect to ``HOST:PORT``.

The host is resolved once.  Each address is checked against ``[tcp] targets`` (an address
entry matches the address, a name entry the name the target was given as) and against the
principal's ``[authz] connect`` grant; the connection then goes only to addresses that
passed, never to the name again, so a name that resolves differently a moment later (DNS
rebinding) cannot carry the connection past the check.
"""

from __future__ import annotations

import asyncio

from wsnet import (
    Allowlist,
    ChannelRefused,
    IPAddress,
    NodeAPI,
    Principal,
    ResetCode,
    Resolved,
    parse_ip,
    resolve,
)

from .spec import Address, parse_address


async def checked(
    node: NodeAPI, allowlist: Allowlist, principal: Principal, tunnel: str, target: object,
    timeout: float,
) -> list[Address]:  # fmt: skip
    """The addresses to try, in the resolver's order; ChannelRefused says why there are none."""
    try:
        asked = parse_address(target if isinstance(target, str) else "")
    except ValueError as exc:
        raise ChannelRefused(ResetCode.BAD_REQUEST, f"target: {exc}") from None
    where = f"tunnel {tunnel!r}: target {asked}"
    if not allowlist.entries:  # refused before any lookup: a peer cannot make us query DNS
        raise ChannelRefused(ResetCode.DENIED, f"{where} is not in [tcp] targets (empty)")
    found = await _resolve(asked, where, timeout)
    passed: list[Address] = []
    refusals: list[str] = []
    for ip in found.addresses:
        denial = _denial(node, allowlist, principal, found, ip, asked.port)
        if denial:
            refusals.append(f" is {denial}" if found.name == "" else f"{ip} is {denial}")
        else:
            passed.append(Address(str(ip), asked.port))
    if not passed:  # "target 10.0.0.5:22 is not in ..." or "target db:22: 10.0.0.5 is ..."
        sep = "" if found.name == "" else ": "
        raise ChannelRefused(ResetCode.DENIED, where + sep + "; ".join(refusals))
    return passed


async def _resolve(asked: Address, where: str, timeout: float) -> Resolved:
    try:
        return await asyncio.wait_for(resolve(asked.host, asked.port), timeout)
    except ValueError as exc:
        raise ChannelRefused(ResetCode.BAD_REQUEST, f"{where}: {exc}") from None
    except OSError as exc:  # gaierror, or TimeoutError from wait_for
        why = getattr(exc, "strerror", None) or "timed out"
        raise ChannelRefused(ResetCode.SERVICE_ERROR, f"{where}: cannot resolve: {why}") from None


def _denial(
    node: NodeAPI, allowlist: Allowlist, principal: Principal, found: Resolved, ip: IPAddress,
    port: int,
) -> str:  # fmt: skip
    """'' when ``ip`` (or the name it was found under) passes both checks, else why not."""
    if not allowlist.allows(port, ip, found.name):
        return "not in [tcp] targets"
    at = str(Address(str(ip), port))
    denial = node.authorize(principal, "connect", at)
    # A grant by name (db.internal:5432) covers whatever the name resolved to, as in
    # [tcp] targets: the operator trusts the name, and the connection goes to this ip.
    if denial and found.name:
        denial = denial if node.authorize(principal, "connect", f"{found.name}:{port}") else None
    return f"not granted to {principal.name!r}: {denial}" if denial else ""


def relay_denial(node: NodeAPI, principal: Principal, tunnel: str, dst: str, target: object) -> str:
    """Where a tcp channel request enters the mesh (wsnet_check_relay): why ``principal``
    may not open tunnel ``tunnel`` on ``dst`` (with ``target``, an ad-hoc one), or ''.

    No DNS here: an address literal is checked against ``connect`` as it is, a name as
    the name; the destination resolves it and checks the addresses with its own policy.
    """
    denial = node.authorize(principal, "open", f"tcp:{tunnel}@{dst}")
    if denial:
        return f"{principal.name!r} may not open 'tcp:{tunnel}@{dst}': {denial}"
    if target is None:
        return ""
    try:
        asked = parse_address(target if isinstance(target, str) else "")
    except ValueError:
        return ""  # malformed: the destination refuses it with BAD_REQUEST
    ip = parse_ip(asked.host)
    at = str(Address(str(ip), asked.port)) if ip is not None else f"{asked.host}:{asked.port}"
    denial = node.authorize(principal, "connect", at)
    return f"{principal.name!r} may not have {dst!r} connect to {at}: {denial}" if denial else ""
