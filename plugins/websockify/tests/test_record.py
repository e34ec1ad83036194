"""``record`` in a shared directory: never through a planted symbolic link, never over an
existing recording (numbers start again at 1 after a restart), mode 0600 (keystrokes,
passwords); a full disk stops the recording, not the session."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

from wsfy_client import roundtrip
from wsfy_support import BridgeNode

from wsnet.testing import wait_until


def test_recordings_skip_existing_files_and_links(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    outside = tmp_path / "victim"
    outside.write_text("not yours\n")
    (rec / "s.1").write_text("yesterday's session\n")
    (rec / "s.2").symlink_to(outside)
    _, port = bridge_node(target=f"127.0.0.1:{echo_port}", record=str(rec / "s"))
    for _ in range(2):
        r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 1000))
        assert r.received == r.sent
    wait_until(lambda: (rec / "s.4").is_file() and len((rec / "s.4").read_text().splitlines())
               >= 3, what="the second recording")  # fmt: skip
    assert (rec / "s.1").read_text() == "yesterday's session\n"
    assert outside.read_text() == "not yours\n"
    for n in (3, 4):
        path = rec / f"s.{n}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text().splitlines()[0])["wsnet_websockify_record"] == 1


def test_a_full_disk_ends_the_recording_not_the_session(
    bridge_node: BridgeNode, echo_port: int, tmp_path: Path
) -> None:
    node, port = bridge_node(target=f"127.0.0.1:{echo_port}", record=str(tmp_path / "s"),
                             start=False)  # fmt: skip
    # RLIMIT_FSIZE: a write past 1 MiB fails with EFBIG (Python ignores SIGXFSZ), as on a
    # full disk; the node's own log stays far below it
    node.argv = ["prlimit", "--fsize=1048576", "--", *node.argv]
    node.start()
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 4 * 1024 * 1024))
    assert r.received == r.sent
    log = wait_until(lambda: "recording" in node.log() and node.log(), what="a warning")
    assert f"recording {tmp_path / 's'}.1 stopped: File too large" in log, log[-2000:]
    assert log.count("recording") == 1
    r = asyncio.run(roundtrip(f"ws://127.0.0.1:{port}/websockify", 1000))  # the next one too
    assert r.received == r.sent
