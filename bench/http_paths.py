"""What carries the HTTP benchmark's requests from its clients to one upstream.

The upstream is nginx (one worker) serving static files: ``/1k`` (1,024 bytes) and
``/big`` (the download, a sparse file, so the page cache serves it).  The paths:

- ``direct``: the client connects to the upstream (the baseline);
- ``wsnet1``: node ``e`` (entry: an httpproxy listener, route ``/`` to node ``x``) and
  node ``x`` (exit: ``[httpproxy] targets``), one link, ``x`` dialling ``e``;
- ``wsnet2``: the same through a relay ``r`` with no plugin: ``e`` and ``x`` both dial ``r``;
- ``nginx``: nginx (one worker) as a plain reverse proxy, keep-alive to the upstream.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from wsnet.testing import free_port

from .procs import Proc, Procs, wait_for

SMALL = 1024  # the size of the requested object, bytes
SMALL_PATH = "/1k"
BIG_PATH = "/big"


@dataclass
class HttpPath:
    name: str
    port: int
    hops: int  # proxies between client and upstream
    procs: list[Proc] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check_alive(self) -> None:
        for p in self.procs:
            p.check_alive()


def nginx_binary() -> str | None:
    """``WSNET_BENCH_NGINX``, else nginx on PATH or in /usr/sbin (Debian's place)."""
    explicit = os.environ.get("WSNET_BENCH_NGINX")
    if explicit is not None:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def _nginx_conf(home: Path, port: int, body: str) -> Path:
    """One worker, no access log, every path of its own under ``home``.

    ``user`` is the current user: as root the worker then keeps the rights to read the
    temporary directory (mode 0700); otherwise nginx ignores the directive.
    """
    home.mkdir(exist_ok=True)
    temps = "\n".join(
        f"  {kind}_temp_path {home}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                        "uwsgi", "scgi")
    )  # fmt: skip
    conf = home / "nginx.conf"
    conf.write_text(f"""user {getpass.getuser()};
worker_processes 1;
daemon off;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temps}
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{port};
{body}
  }}
}}
""")
    return conf


def _spawn_nginx(procs: Procs, name: str, conf: Path) -> Proc:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx not installed (Debian package nginx)")
    return procs.spawn(name, [binary, "-e", str(conf.parent / "error.log"), "-c", str(conf)])


def start_upstream(procs: Procs, big: int) -> HttpPath:
    """The upstream nginx with ``/1k`` and a sparse ``/big`` of ``big`` bytes."""
    home = procs.dir / "http-upstream"
    www = home / "www"
    www.mkdir(parents=True)
    (www / SMALL_PATH[1:]).write_bytes(os.urandom(SMALL))
    with (www / BIG_PATH[1:]).open("wb") as f:
        f.truncate(big)
    port = free_port()
    body = f"    root {www};\n    sendfile on;\n    location / {{ }}"
    proc = _spawn_nginx(procs, "http-upstream", _nginx_conf(home, port, body))
    return _ready(HttpPath("direct", port, 0, [proc]))


def start_nginx_proxy(procs: Procs, upstream: int) -> HttpPath:
    """nginx as a reverse proxy: HTTP/1.1 and a keep-alive pool to the upstream; no
    temporary files (a 1 GiB response streams through its buffers, as wsnet's does)."""
    home = procs.dir / "http-nginx-proxy"
    port = free_port()
    body = f"""    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }}
  }}
  upstream up {{
    server 127.0.0.1:{upstream};
    keepalive 64;"""
    proc = _spawn_nginx(procs, "http-nginx-proxy", _nginx_conf(home, port, body))
    return _ready(HttpPath("nginx", port, 1, [proc]))


# ------------------------------------------------------------------ wsnet
def _node(procs: Procs, name: str, tables: list[str]) -> Proc:
    cfg = procs.dir / f"http-{name}.toml"
    cfg.write_text("\n\n".join(tables) + "\n")
    return procs.spawn(f"http-node-{name}", [sys.executable, "-m", "wsnet", "run", "--config",
                                             str(cfg)])  # fmt: skip


def _entry(listen: int, upstream: int) -> list[str]:
    return [
        f'[[httpproxy.listener]]\nlisten = "127.0.0.1:{listen}"',
        '[[httpproxy.listener.route]]\npath = "/"\nnode = "x"\n'
        f'upstream = "http://127.0.0.1:{upstream}/"',
    ]


def _head(name: str, plugins: str, link: int | None, dial: int | None) -> list[str]:
    out = [f'[node]\nname = "{name}"\nplugins = [{plugins}]', f"[control]\nport = {free_port()}"]
    out.append(f'[listen]\nhost = "127.0.0.1"\nport = {link}' if link else
               "[listen]\nenabled = false")  # fmt: skip
    if dial:
        out.append(f'[[dial]]\nurl = "ws://127.0.0.1:{dial}/wsnet"')
    return out


def start_wsnet(procs: Procs, upstream: int, hops: int) -> HttpPath:
    """``e`` -> ``x`` (hops 1) or ``e`` -> ``r`` -> ``x`` (hops 2)."""
    listen, link = free_port(), free_port()
    exit_ = [*_head("x", '"httpproxy"', None, link),
             f'[httpproxy]\ntargets = ["127.0.0.1:{upstream}"]']  # fmt: skip
    if hops == 1:
        nodes = [_node(procs, "e1", [*_head("e", '"httpproxy"', link, None),
                                     *_entry(listen, upstream)])]  # fmt: skip
    else:
        nodes = [
            _node(procs, "r2", _head("r", "", link, None)),
            _node(procs, "e2", [*_head("e", '"httpproxy"', None, link),
                                *_entry(listen, upstream)]),
        ]  # fmt: skip
    nodes.append(_node(procs, f"x{hops}", exit_))
    return _ready(HttpPath(f"wsnet{hops}", listen, hops, nodes), timeout=60)


# ------------------------------------------------------------------ readiness
def get_small(port: int, timeout: float = 3.0) -> bool:
    """One GET of ``/1k`` answered 200 with its 1,024 bytes (a blocking socket, no pool)."""
    req = f"GET {SMALL_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req)
            data = b""
            while len(data) < 1 << 20 and (chunk := s.recv(1 << 16)):
                data += chunk
    except OSError:
        return False
    head, _, body = data.partition(b"\r\n\r\n")
    return head.startswith(b"HTTP/1.1 200") and len(body) == SMALL


def _ready(path: HttpPath, timeout: float = 20) -> HttpPath:
    def ok() -> bool:
        path.check_alive()
        return get_small(path.port)

    wait_for(ok, timeout=timeout, what=f"{path.name} answering GET {SMALL_PATH}")
    return path
