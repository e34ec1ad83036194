"""The `wsnet run` flags of the ws/wss transport (``--ca-file``, ``--cert``, ``--user``,
``--proxy``...): each applies to every ``--dial`` URL.

They are derived from the option model (options.py): ``with_dial_flags`` gives a typer
command one option per declared flag, and ``apply_dial_flags`` checks what was given with
the config's checks (checks.py), errors naming the flag.  Importing this module loads
neither aiohttp nor the transport (every CLI call pays for the imports of cli.py).
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .credentials import PASSWORD_ENV
from .options import flag_fields, flag_of, info, types

if TYPE_CHECKING:
    from ...config import Config
    from .checks import Where

R = TypeVar("R")
FLAGS = "command line"  # the source named by a flag's error
PARAM = "dial_flags"  # the parameter of a with_dial_flags command that receives them


@dataclass(slots=True)
class DialFlags:
    """The transport flags given to `wsnet run`: option key -> value (ca_file, not
    --ca-file); a flag not given is absent."""

    values: dict[str, Any] = field(default_factory=dict)
    # Asked on the terminal once at start-up, kept for SIGHUP (no terminal then).
    prompted_password: str | None = field(default=None, repr=False)


def _param_name(f: dataclasses.Field[Any]) -> str:
    return f"dial_{f.name}"


def _typer_parameter(f: dataclasses.Field[Any]) -> inspect.Parameter:
    kind = types()[f.name]
    flag = info(f).flag
    names = f"{flag}/--no-{flag.removeprefix('--')}" if kind is bool else flag
    option = typer.Option(names, help=info(f).help)
    annotation: Any = Annotated[bool, option] if kind is bool else Annotated[kind | None, option]
    default = False if kind is bool else None
    return inspect.Parameter(_param_name(f), inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             annotation=annotation, default=default)  # fmt: skip


def with_dial_flags(command: Callable[..., R]) -> Callable[..., R]:
    """Decorate a typer command with a parameter ``dial_flags: DialFlags``: the command
    gets one option per declared flag, in that parameter's place (so in its help), and
    receives their values as a DialFlags (a bool flag counts as given when set)."""
    sig = inspect.signature(command, eval_str=True)
    if PARAM not in sig.parameters:
        raise TypeError(f"{command.__qualname__}: with_dial_flags needs a parameter {PARAM!r}")
    declared = flag_fields()
    params: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        params += [_typer_parameter(f) for f in declared] if p.name == PARAM else [p]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        values = {f.name: kwargs.pop(_param_name(f)) for f in declared}
        given = {k: v for k, v in values.items() if v is not None and v is not False}
        return command(*args, **{PARAM: DialFlags(given)}, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def apply_dial_flags(cfg: Config, flags: DialFlags, count: int) -> None:
    """Check the flags and add them to the last ``count`` dial entries of ``cfg`` (the
    --dial URLs).  The password is never a flag (ps shows argv): --password-file,
    $WSNET_PASSWORD, or asked once on the terminal.  Raises ConfigError naming the flag."""
    from .checks import Where, check
    from .options import DialOptions

    where = Where(FLAGS, "", flag_of)
    options = dict(flags.values)
    if not options:
        return
    _check_flags_alone(options, where, count)
    check(DialOptions(**options), where, password_needed=False)
    user = options.get("user")
    if user and "password_file" not in options and not os.environ.get(PASSWORD_ENV):
        if flags.prompted_password is None:
            flags.prompted_password = _prompt_password(where, user)
        options["password"] = flags.prompted_password
    for i in range(len(cfg.dial) - count, len(cfg.dial)):
        entry = cfg.dial[i]
        cfg.dial[i] = dataclasses.replace(entry, options={**entry.options, **options})


def _check_flags_alone(options: dict[str, Any], where: Where, count: int) -> None:
    """What only a flag can get wrong: no --dial to apply to, an empty value, a lone
    --password-file, a user name that HTTP Basic cannot carry."""
    if not count:
        raise where.error(next(iter(options)), "applies to --dial URLs and none is given "
                          "(in a config file, set it per [[dial]])")  # fmt: skip
    for key, value in options.items():
        if value == "":
            raise where.error(key, "expected a value, got ''")
    if "password_file" in options and "user" not in options:
        raise where.error("password_file", f"needs {where.name('user')}")
    user = options.get("user")
    if user is not None and (":" in user or not user.isprintable()):
        raise where.error("user", f"expected a user name without ':', got {user!r}")


def _prompt_password(where: Where, user: str) -> str:
    if not sys.stdin.isatty():
        raise where.error("user", f"no password for {user!r}: use --password-file or set "
                          f"{PASSWORD_ENV} (there is no terminal to ask on)")  # fmt: skip
    return getpass.getpass(f"password for {user}: ")
