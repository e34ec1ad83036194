"""The ws/wss transport's dial options: the one declaration of each of them.

``DialOptions`` is the option model.  Each field's metadata (``OptionInfo``) says how the
option is given besides a ``[[dial]]`` key of the same name: its `wsnet run` flag (which
applies to every ``--dial`` URL), whether `ctl dial` / `addport client` accept it at run
time, whether it makes the node read a file.  The typer options of `wsnet run`
(flags.py), the parameters of the ``dial`` control method (ctl_dial.py), the config
checks (checks.py) and the list of known ``[[dial]]`` keys are all derived from it, so a
field added here is a config key, a run flag and a `ctl dial` parameter at once.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONNECT_TIMEOUT = 15.0  # seconds for TCP, TLS and a proxy's CONNECT together
HANDSHAKE_TIMEOUT = 10.0  # [[dial]] handshake_timeout: seconds to wait for the upgrade response
_META = "wsnet_dial_option"


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """How one dial option is given besides its ``[[dial]]`` key.

    ``flag``: the `wsnet run` flag ("" for none; an option with a flag is also accepted at
    run time).  ``run_time``: `ctl dial` and `addport client` accept it.  ``reads_file``:
    its value is a path the node reads (refused at run time without the ``METHOD:files``
    grant, see builtin/core_methods.py)."""

    flag: str = ""
    help: str = ""
    run_time: bool = True
    reads_file: bool = False


def _option(default: Any, flag: str = "", help: str = "", **info: Any) -> Any:
    """A dataclass field carrying its OptionInfo (typed Any, as ``field()`` itself is)."""
    meta = {_META: OptionInfo(flag, help, **info)}
    # What a command line cannot carry (password, headers with a token) stays out of repr.
    shown = info.get("run_time", True)
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=meta, repr=shown)
    return field(default=default, metadata=meta, repr=shown)


@dataclass(frozen=True, slots=True)
class DialOptions:
    """The options of one ws:// or wss:// dial (a ``[[dial]]`` entry's keys besides
    ``url`` and ``peer``; docs/configuration.md documents each).  Types are checked
    (checks.py) before an instance is made; ``password`` is None when not given (the
    password then comes from ``password_file`` or $WSNET_PASSWORD)."""

    ca_file: str = _option("", "--ca-file", "CA bundle to verify wss:// --dial servers",
                           reads_file=True)  # fmt: skip
    insecure: bool = _option(False, "--insecure", "do not verify wss:// --dial servers "
                             "(tests only)")  # fmt: skip
    cert_file: str = _option("", "--cert", "client certificate for --dial (mTLS)", reads_file=True)
    key_file: str = _option("", "--key", "client key for --dial (mTLS)", reads_file=True)
    user: str = _option("", "--user", "HTTP Basic user for --dial; password: --password-file, "
                        "$WSNET_PASSWORD or a prompt")  # fmt: skip
    password: str | None = _option(None, run_time=False)  # never on a command line (ps)
    password_file: str = _option("", "--password-file", "file holding the --user password "
                                 "(first line)", reads_file=True)  # fmt: skip
    proxy: str = _option("", "--proxy", "http://[user:pass@]host:port proxy for --dial, or "
                         "'none' (default: $https_proxy / $http_proxy)")  # fmt: skip
    headers: Mapping[str, str] = _option({}, run_time=False)
    handshake_timeout: float = _option(HANDSHAKE_TIMEOUT, "--handshake-timeout", "seconds to "
                                       "wait for a --dial server's upgrade response")  # fmt: skip

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> DialOptions:
        """The options of ``options`` (a DialConfig's, checked at start-up) this transport
        knows; other keys belong to other plugins and are left out."""
        known = {f.name for f in fields()}
        return cls(**{k: v for k, v in options.items() if k in known})


def fields() -> tuple[dataclasses.Field[Any], ...]:
    """The declared options, in declaration order (read at call time: see tests)."""
    return dataclasses.fields(DialOptions)


def info(f: dataclasses.Field[Any]) -> OptionInfo:
    found: OptionInfo = f.metadata[_META]
    return found


def types() -> dict[str, Any]:
    """Each option's type, for converting command-line words (``insecure=true``)."""
    return typing.get_type_hints(DialOptions)


def run_time_fields() -> list[dataclasses.Field[Any]]:
    """The options `ctl dial` and `addport client` accept."""
    return [f for f in fields() if info(f).run_time]


def flag_fields() -> list[dataclasses.Field[Any]]:
    """The options `wsnet run` has a flag for."""
    return [f for f in fields() if info(f).flag]


def file_options() -> tuple[str, ...]:
    """The options whose value is a file the node reads."""
    return tuple(f.name for f in fields() if info(f).reads_file)


def flag_of(key: str) -> str:
    """The run flag of option ``key`` (``cert_file`` is ``--cert``)."""
    return next((info(f).flag for f in fields() if f.name == key), key)
