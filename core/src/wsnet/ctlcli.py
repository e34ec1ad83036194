"""The options every command that calls a control API shares (`wsnet ctl`, plugin commands).

One decorator, ``ctl_command``, gives a typer command ``--ctlurl``, ``--ctluser``,
``--ctlpassword-file``, ``--ca-file``, ``--insecure`` and ``--timeout`` with the same
environment variables everywhere, and hands the command a ready ``CtlClient``; a CtlError
raised in the command becomes one line on stderr (``wsnet tcp: MESSAGE``) and exit status 1.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from .ctl import DEFAULT_URL, PASSWORD_ENV, URL_ENV, USER_ENV, CtlClient, CtlError, CtlOptions
from .redact import redact_text
from .transport.ws.credentials import read_password_file

R = TypeVar("R")
_KW = inspect.Parameter.KEYWORD_ONLY

# (name, annotation, default): appended to the command's own parameters.
_SHARED: tuple[tuple[str, Any, Any], ...] = (
    ("ctlurl", Annotated[str, typer.Option(
        envvar=URL_ENV, help="control API: URL, HOST:PORT, or PORT of 127.0.0.1")], DEFAULT_URL),
    ("ctluser", Annotated[str | None, typer.Option(
        envvar=USER_ENV, help=f"user for HTTP Basic auth; password from --ctlpassword-file, "
                              f"${PASSWORD_ENV} or a prompt")], None),
    ("ctlpassword_file", Annotated[str | None, typer.Option(
        help="file holding the --ctluser password (first line)")], None),
    ("ca_file", Annotated[str | None, typer.Option(
        help="CA bundle to verify an https control API")], None),
    ("insecure", Annotated[bool, typer.Option(
        help="do not verify an https control API's certificate")], False),
    ("timeout", Annotated[float, typer.Option(help="seconds to wait for each reply")], 60.0),
)  # fmt: skip
SHARED_NAMES = tuple(name for name, _, _ in _SHARED)
_CONTEXT = "wsnet_ctl_context"


def ctl_command(func: Callable[..., R]) -> Callable[..., R]:
    """Decorate a typer command that takes ``ctl: CtlClient`` (put it under
    ``@app.command()``): the command gets the shared control-API options instead of
    ``ctl``, and a CtlError it raises is printed as one line, exit status 1.

    Raises TypeError at import time if ``func`` has no ``ctl`` parameter or one of
    its own parameters has the name of a shared option."""
    sig = inspect.signature(func, eval_str=True)
    if "ctl" not in sig.parameters:
        raise TypeError(f"{func.__qualname__}: ctl_command needs a parameter 'ctl: CtlClient'")
    own = [p for p in sig.parameters.values() if p.name != "ctl"]
    clash = sorted({p.name for p in own} & {*SHARED_NAMES, _CONTEXT})
    if clash:
        raise TypeError(f"{func.__qualname__}: parameter {clash[0]!r} is a shared ctl option")
    shared = [inspect.Parameter(n, _KW, annotation=a, default=d) for n, a, d in _SHARED]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        values = {name: kwargs.pop(name) for name in SHARED_NAMES}
        context: typer.Context = kwargs.pop(_CONTEXT)
        try:
            return func(*args, ctl=client(**values), **kwargs)
        except CtlError as exc:
            typer.echo(f"{_prog(context)}: {redact_text(str(exc))}", err=True)
            raise typer.Exit(1) from None

    # typer passes its Context to a parameter so annotated: for the prefix of errors.
    params = [*own, *shared, inspect.Parameter(_CONTEXT, _KW, annotation=typer.Context)]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    if sig.return_annotation is not inspect.Signature.empty:
        wrapper.__annotations__["return"] = sig.return_annotation
    return wrapper


def client(
    ctlurl: str = DEFAULT_URL,
    ctluser: str | None = None,
    ctlpassword_file: str | None = None,
    ca_file: str | None = None,
    insecure: bool = False,
    timeout: float = 60.0,
) -> CtlClient:
    """A CtlClient from the shared options' values (asks for the password if needed)."""
    user = ctluser or ""
    password = password_for(user, ctlpassword_file or "")
    return CtlClient(ctlurl, CtlOptions(user, password, ca_file or "", insecure), timeout)


def password_for(user: str, password_file: str = "") -> str:
    """From ``password_file``, else $WSNET_CTLPASSWORD, else asked on the terminal: never
    from argv (ps shows argv).  Raises CtlError if there is none."""
    if not user:
        if password_file:
            raise CtlError("--ctlpassword-file needs --ctluser (or $WSNET_CTLUSER)")
        return ""
    if password_file:
        try:
            return read_password_file(password_file)
        except ValueError as exc:
            raise CtlError(f"--ctlpassword-file {exc}") from None
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    import getpass

    missing = CtlError(f"no password for {user!r} (set ${PASSWORD_ENV}, give "
                       "--ctlpassword-file, or run on a terminal)")  # fmt: skip
    if not _has_terminal():
        raise missing  # getpass would read stdin with echo on, and warn
    try:
        return getpass.getpass(f"control API password for {user}: ")
    except (EOFError, KeyboardInterrupt):
        raise missing from None


def _has_terminal() -> bool:
    """Whether getpass can ask without echo (it opens /dev/tty, as this does)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _prog(context: typer.Context) -> str:
    """``wsnet tcp`` for ``wsnet tcp list``: the name errors are prefixed with."""
    return " ".join(context.command_path.split()[:2]) or "wsnet"
