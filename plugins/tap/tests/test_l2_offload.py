"""TSO/checksum offload on the L2 path: super-frames cross whole, and plain ports still work.

Each transfer is a real TCP connection between two namespaces through the TAPs,
and the receiver hashes what it got: a segment cut or checksummed wrongly by the
software fallback would stall the transfer or change the hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wsnet.testing import Netns, NodeFactory, NodeProcess, wait_until
from wsnet_switch.testing import (
    QUIET,
    SIZE,
    make_payload,
    mean_frame,
    port,
    transfer,
)

pytestmark = pytest.mark.netns


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, str]:
    return make_payload(tmp_path)


def pair(
    factory: NodeFactory, left: Netns, right: Netns, tap: str, subnet: str,
    a_opts: dict[str, Any], b_opts: dict[str, Any], a_switch: dict[str, Any] | None = None,
) -> tuple[NodeProcess, NodeProcess]:  # fmt: skip
    """Node a in ``left`` and b in ``right``, linked over the veth, each with a TAP."""
    for ns in (left, right):
        ns.run(*QUIET)
    config = {"switch": a_switch} if a_switch else {}
    a = factory("a", netns=left, plugins=["tap"], config=config)
    b = factory("b", netns=right, listen=False, dial=[a.url], plugins=["tap"])
    wait_until(lambda: "a" in b.peers(), what="link over the veth")
    a.ctl("addport", kind="tap", name=tap, address=f"{subnet}.1/24", **a_opts)
    b.ctl("addport", kind="tap", name=tap, address=f"{subnet}.2/24", **b_opts)
    return a, b


def test_super_frames_cross_whole(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    left, right = netns_pair
    a, b = pair(wsnet_node_factory, left, right, "wso0", "10.83.0", {}, {})
    assert port(a, "wso0")["offload"] and port(a, "link:b")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.83.0.2", path, tmp_path) == (SIZE, digest)
    # TSO frames went over the link whole: bigger on average (ACKs included) than 1514
    assert mean_frame(a, "link:b", "tx") > 3000
    assert mean_frame(b, "wso0", "tx") > 3000
    assert transfer(right, left, "10.83.0.1", path, tmp_path) == (SIZE, digest)


def test_plain_tap_gets_segmented_frames(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """a's TAP hands over 64 KiB super-frames; b's TAP takes only real frames."""
    left, right = netns_pair
    a, b = pair(wsnet_node_factory, left, right, "wso1", "10.84.0", {}, {"offload": "off"})
    assert not port(b, "wso1")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.84.0.2", path, tmp_path) == (SIZE, digest)
    # mean sizes include the ACKs going the other way: > 1514 needs super-frames
    assert mean_frame(a, "link:b", "tx") > 3000, "super-frames still cross the link whole"
    assert mean_frame(b, "wso1", "tx") <= 1514, "and are cut to MTU-sized frames at the TAP"
    assert transfer(right, left, "10.84.0.1", path, tmp_path) == (SIZE, digest)
    assert port(b, "wso1")["drops"] == 0


def test_link_without_offload_carries_plain_frames(
    netns_pair: tuple[Netns, Netns], wsnet_node_factory: NodeFactory,
    payload: tuple[Path, str], tmp_path: Path,
) -> None:  # fmt: skip
    """[switch] offload = false on one node: the link falls back to plain frames both ways."""
    left, right = netns_pair
    a, b = pair(
        wsnet_node_factory, left, right, "wso2", "10.85.0", {}, {}, a_switch={"offload": False}
    )
    assert not port(a, "link:b")["offload"] and not port(b, "link:a")["offload"]
    path, digest = payload
    assert transfer(left, right, "10.85.0.2", path, tmp_path) == (SIZE, digest)
    assert transfer(right, left, "10.85.0.1", path, tmp_path) == (SIZE, digest)
    assert mean_frame(a, "link:b", "tx") <= 1514
    assert mean_frame(b, "link:a", "tx") <= 1514
