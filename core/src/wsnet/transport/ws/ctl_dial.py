"""The parameters of the ``dial`` control method (`wsnet ctl dial URL NAME=VALUE...`).

They are the run-time options of the option model (options.py), so `ctl dial`, `wsnet ctl
help` and the dispatcher's type conversion (``insecure=true`` is True) follow it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from .options import run_time_fields, types

F = TypeVar("F", bound=Callable[..., Any])


def dial_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per run-time option, with its type and default."""
    hints = types()
    kind = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(f.name, kind, default=f.default, annotation=hints[f.name])
        for f in run_time_fields()
    ]


def with_dial_options(handler: F) -> F:
    """Give a control handler ``(url, peer="", **options)`` the run-time options as its
    named parameters: the dispatcher then converts and checks their types, `help` lists
    them, and the handler gets in ``options`` those given with a value other than the
    default (a default is the same as not giving the option)."""
    sig = inspect.signature(handler)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params = [*own, *dial_parameters()]
    defaults = {p.name: p.default for p in dial_parameters()}

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {k: v for k, v in kwargs.items() if k not in defaults or v != defaults[k]}
        return await handler(*args, **given)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    hints = typing.get_type_hints(handler)  # resolved where the handler was written
    wrapper.__annotations__ = {**hints, **{p.name: p.annotation for p in dial_parameters()}}
    return wrapper  # type: ignore[return-value]
