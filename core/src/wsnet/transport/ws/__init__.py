"""The default transport: ws:// and wss:// links, and everything about dialling them.

One place for the transport's options and their checks, whichever way they are given:

- ``options``: the option model (``DialOptions``), one declaration per option, from which
  the rest is derived;
- ``checks``: type and value checks of a ``[[dial]]`` table, of the run flags and of a
  run-time dial, errors naming the file and key (or the flag);
- ``flags``: the `wsnet run` flags that apply to every ``--dial`` URL;
- ``ctl_dial``: the parameters of the ``dial`` control method (`wsnet ctl dial`);
- ``transport``: ``WsTransport`` (aiohttp); ``connector`` and ``proxy``: HTTP proxy CONNECT
  traversal; ``credentials``: HTTP Basic for the dialled server; ``tls``: the client TLS
  context; ``dial_errors``: why a dial failed, in one line;
- ``plugin``: the hooks that make it a built-in plugin (``builtin:ws_transport``).

This module imports nothing, so that the command line can read ``options`` and ``flags``
without loading aiohttp.
"""
