"""/healthz and /readyz on the control listener: real nodes, real sockets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from login_helpers import htpasswd_file
from wsnet.ctl import CtlOptions
from wsnet.testing import NodeFactory, wait_until


def get(url: str) -> tuple[int, Any]:
    """(status, parsed JSON body) of a GET without credentials."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if body.startswith(b"{") else body


def test_readyz_follows_the_configured_dial_and_needs_no_credentials(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    hub = wsnet_node_factory("hub")
    users = htpasswd_file(tmp_path / "ctl.htpasswd", {"admin": "s3cret-pw"})
    edge = wsnet_node_factory(
        "edge", listen=False, dial=[hub.url],
        config={"control": {"htpasswd": str(users)}},
        ctl_options=CtlOptions(user="admin", password="s3cret-pw"),
    )  # fmt: skip
    base = edge.ctlurl.removesuffix("/rpc")
    assert get(base + "/healthz") == (200, {"status": "ok"})
    wait_until(lambda: get(base + "/readyz") == (200, {"ready": True}), what="edge ready")
    # The rest of the control API still wants credentials.
    assert get(base + "/")[0] == 401

    hub.stop()
    _, body = wait_until(
        lambda: (r := get(base + "/readyz"))[0] == 503 and r, timeout=20, what="edge not ready"
    )
    assert body["ready"] is False
    assert len(body["reasons"]) == 1 and body["reasons"][0].startswith("[[dial]] #1 is ")
    assert hub.url not in json.dumps(body) and "hub" not in json.dumps(body)  # no topology
    assert get(base + "/healthz") == (200, {"status": "ok"})  # alive, only not ready

    hub.start()
    wait_until(lambda: get(base + "/readyz") == (200, {"ready": True}), timeout=20,
               what="edge ready again")  # fmt: skip


def test_a_node_without_dials_is_ready_and_post_is_not_a_probe(
    wsnet_node_factory: NodeFactory,
) -> None:
    node = wsnet_node_factory("solo")
    base = node.ctlurl.removesuffix("/rpc")
    assert get(base + "/readyz") == (200, {"ready": True})
    req = urllib.request.Request(base + "/readyz", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 405
