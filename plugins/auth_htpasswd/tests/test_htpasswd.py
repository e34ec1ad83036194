"""Links that log in with HTTP Basic against files made by Apache's own htpasswd tool."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from wsnet.testing import NodeFactory, NodeProcess, wait_until
from wsnet.testing_run import run_config_file
from wsnet.transport.ws.credentials import basic_authorization

pytestmark = pytest.mark.skipif(
    shutil.which("htpasswd") is None, reason="Apache's htpasswd (apache2-utils) is not installed"
)

USERS = {  # user: (htpasswd flag, password)
    "alice": ("-B", "bcrypt pw"),
    "bob": ("-m", "pa:ss:word"),  # ':' inside a password (an etherws bug until 0.5)
    "carol": ("-s", "sha1 pw"),
    "dave": ("-2", "sha256 pw"),
    "erin": ("-5", "sha512 pw"),
}


def htpasswd(path: Path, flag: str, user: str, password: str) -> None:
    create = [] if path.exists() else ["-c"]
    res = subprocess.run(["htpasswd", "-b", *create, flag, str(path), user, password],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    if res.returncode != 0 and flag in ("-2", "-5"):
        pytest.skip(f"this htpasswd has no {flag}: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.htpasswd"
    for user, (flag, password) in USERS.items():
        htpasswd(path, flag, user, password)
    return path


def server(factory: NodeFactory, users: Path) -> NodeProcess:
    # wsnet-log turns every NodeEvent into a log line: the AuthFailure events become visible.
    return factory(
        "a", plugins=["auth_htpasswd", "log"], config={"auth_htpasswd": {"file": str(users)}}
    )


def client(
    factory: NodeFactory, name: str, url: str, tmp: Path, user: str, password: str
) -> NodeProcess:
    secret = tmp / f"{name}.pw"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    entry = {"url": url, "user": user, "password_file": str(secret)}
    return factory(name, listen=False, config={"dial": [entry]})


def test_every_hash_kind_logs_in_and_names_the_principal(
    wsnet_node_factory: NodeFactory, users_file: Path, tmp_path: Path
) -> None:
    a = server(wsnet_node_factory, users_file)
    clients = {
        user: client(wsnet_node_factory, user, a.url, tmp_path, user, pw)
        for user, (_, pw) in USERS.items()
    }
    wait_until(lambda: len(a.peers()) == len(USERS), timeout=20, what="all clients linked")
    principals = {link["peer"]: link.get("principal") for link in a.ctl("links")}
    for user in clients:  # a principal claims its own name (docs/security.md, "Trust model")
        assert user in str(principals[user]), principals


def test_wrong_password_is_401_and_retried(
    wsnet_node_factory: NodeFactory, users_file: Path, tmp_path: Path
) -> None:
    a = server(wsnet_node_factory, users_file)
    c = client(wsnet_node_factory, "alice", a.url, tmp_path, "alice", "not it")
    wait_until(lambda: "401 Unauthorized: wrong user or password" in c.log(), timeout=15,
               what="the dialler's refusal")  # fmt: skip
    assert a.peers() == set()
    failures = [line for line in a.log().splitlines() if "auth.failure" in line]
    assert failures and "alice" in failures[0], "an AuthFailure event naming the user"
    assert "not it" not in a.log() and "not it" not in c.log(), "no password in any log"
    dials = c.ctl("dials")
    assert "401" in str(dials)
    # the right password in the file: the next retry gets in, nothing restarted
    (tmp_path / "alice.pw").write_text("bcrypt pw\n")
    wait_until(lambda: "alice" in a.peers(), timeout=30, what="login after the fix")


async def test_missing_credentials_get_a_basic_challenge(
    wsnet_node_factory: NodeFactory, users_file: Path
) -> None:
    a = server(wsnet_node_factory, users_file)
    async with aiohttp.ClientSession() as http, http.get(a.url) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith('Basic realm="wsnet"')
    headers = {"Authorization": basic_authorization("carol", "wrong")}
    async with aiohttp.ClientSession() as http, http.get(a.url, headers=headers) as resp:
        assert resp.status == 401
    assert "wrong user or password for 'carol'" in a.log()


def test_file_edit_adds_a_user_and_keeps_links(
    wsnet_node_factory: NodeFactory, users_file: Path, tmp_path: Path
) -> None:
    a = server(wsnet_node_factory, users_file)
    old = client(wsnet_node_factory, "carol", a.url, tmp_path, "carol", "sha1 pw")
    wait_until(lambda: "carol" in a.peers(), what="existing link")
    new = client(wsnet_node_factory, "frank", a.url, tmp_path, "frank", "new pw")
    wait_until(lambda: "401" in new.log(), what="frank refused before the edit")
    time.sleep(0.05)  # a different mtime even on coarse clocks
    htpasswd(users_file, "-B", "frank", "new pw")
    wait_until(lambda: "frank" in a.peers(), timeout=30, what="frank after the edit")
    assert "carol" in a.peers(), "the existing link survived the edit"
    assert old.log().count("link 1 up") == 1


def test_unsupported_hash_stops_start_up_with_its_line(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    path = tmp_path / "bad.htpasswd"
    path.write_text("# users\nok:{SHA}AsWT/Zr4JUuFnUJqdrbNQoR/vsE=\nold:abJnggxhB/yWI\n")
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[node]\nplugins = ["auth_htpasswd"]\n[auth_htpasswd]\nfile = "{path}"\n')
    res = run_config_file(cfg)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"wsnet: error: {cfg}: [auth_htpasswd] file: '{path}' line 3 (user 'old'): "
        "DES crypt is not supported (8-character passwords); use htpasswd -B"
    )


def test_user_flag_takes_the_password_from_the_environment(
    wsnet_node_factory: NodeFactory, users_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = server(wsnet_node_factory, users_file)
    monkeypatch.setenv("WSNET_PASSWORD", "pa:ss:word")
    wsnet_node_factory("bob", listen=False, extra_args=["--dial", a.url, "--user", "bob"])
    wait_until(lambda: "bob" in a.peers(), what="bob via --user and WSNET_PASSWORD")
    monkeypatch.delenv("WSNET_PASSWORD")
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "run", "--dial", a.url, "--user", "bob", "--listen",
         "none"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 2
    assert "--user: no password for 'bob': use --password-file or set WSNET_PASSWORD" in (
        res.stderr
    )


def test_user_flag_prompts_on_a_terminal(
    wsnet_node_factory: NodeFactory, users_file: Path, tmp_path: Path
) -> None:
    """No password file, no $WSNET_PASSWORD, but a terminal: getpass asks on it."""
    a = server(wsnet_node_factory, users_file)
    env = {k: v for k, v in os.environ.items() if k != "WSNET_PASSWORD"}
    argv = [sys.executable, "-m", "wsnet", "run", "--name", "bob", "--listen", "none",
            "--ctl-port", "0", "--dial", a.url, "--user", "bob"]  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: wsnet with the pty as its controlling terminal
        os.execvpe(argv[0], argv, env)
    try:
        seen = _read_until(fd, b"password for bob: ", timeout=20)
        assert seen.endswith(b"password for bob: "), seen
        os.write(fd, b"pa:ss:word\n")
        wait_until(lambda: "bob" in a.peers(), timeout=20, what="bob's link after the prompt")
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 1024)
            except OSError:  # the child exited: EIO on the master
                break
    return out
