"""A hook implementation that is a class (``wsnet_node_plugin = MyPlugin``) on any pluggy.

pluggy up to 1.6 took a class as a hook implementation and called it with the arguments its
``__init__`` names; 1.7 binds only functions and methods and refuses a class.  wsnet
documents the class form, so ``plugins._Manager.register`` registers such a plugin as a
``Shim``: the same hooks, each class replaced by a function (``hook_function``) whose
parameters are the class's and which returns the instance.  pluggy reads argument names
from a function's code (1.7) or signature (1.6): a real function with real parameters
satisfies both.  The registered name is the plugin's and the shim's repr is the plugin's,
so every message (pluggy's, hookcalls', hookchecks') names the real plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .errors import PluginError

# The names the generated function uses besides its parameters (see hook_function).
_CLS = "_wsnet_cls_"
_DEFAULTS = "_wsnet_defaults_"


class Shim:
    """What pluggy registers in place of ``plugin``: its hooks as plain attributes."""

    def __init__(self, plugin: object, hooks: dict[str, object]) -> None:
        self.plugin = plugin  # not a hook name: the manager claims wsnet_* names only
        vars(self).update(hooks)

    def __repr__(self) -> str:  # pluggy's "unknown hook ... in plugin %r" names the plugin
        return repr(self.plugin)


def real(plugin: object) -> object:
    """The plugin itself, also when it was registered as a Shim."""
    return plugin.plugin if isinstance(plugin, Shim) else plugin


class _Default:
    """Shows as the expression that reads default number ``index`` (see hook_function)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"{_DEFAULTS}[{self.index}]"


def hook_function(hook: str, cls: type, project: str) -> Callable[..., object]:
    """A function, named as ``cls``, that takes what ``cls.__init__`` takes (without self),
    with the same kinds and defaults, and returns ``cls(...)`` of them; ``hook`` names it in
    errors.  Marker options set on the class (``@hookimpl(tryfirst=True)``) are its own."""
    try:
        # __init__'s, as pluggy 1.6 read them (not __new__'s or a metaclass's)
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # type: ignore[misc]
    except (TypeError, ValueError) as exc:  # a C type whose signature is unknown
        raise PluginError(f"{hook} = {cls.__qualname__}: cannot read the parameters of its "
                          f"__init__: {exc}") from None  # fmt: skip
    if clash := {_CLS, _DEFAULTS} & {p.name for p in params}:
        raise PluginError(f"{hook} = {cls.__qualname__}: parameter {clash.pop()!r} is reserved")
    # str(Signature) writes the '/', '*' and defaults right; each default reads its value.
    head = inspect.Signature(
        [
            p.replace(annotation=p.empty, default=p.empty if p.default is p.empty else _Default(i))
            for i, p in enumerate(params)
        ]
    )
    source = f"def _hook{head}:\n    return {_CLS}({', '.join(map(_passed, params))})\n"
    namespace: dict[str, Any] = {_CLS: cls, _DEFAULTS: [p.default for p in params]}
    exec(source, namespace)  # a real function: pluggy 1.7 reads names from __code__
    function: Callable[..., object] = namespace["_hook"]
    # pluggy's messages show __name__ and the signature: the class's, annotations too.  No
    # dot in __qualname__: pluggy would take a first parameter named cls for a method's.
    function.__name__ = function.__qualname__ = cls.__name__
    function.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    function.__module__ = cls.__module__
    function.__doc__ = f"Makes {cls.__qualname__} (the class given as {hook})."
    opts = vars(cls).get(f"{project}_impl")
    if isinstance(opts, dict):
        setattr(function, f"{project}_impl", opts)
    return function


def _passed(param: inspect.Parameter) -> str:
    """How the generated function hands ``param`` on to the class."""
    if param.kind is param.VAR_POSITIONAL:
        return f"*{param.name}"
    if param.kind is param.VAR_KEYWORD:
        return f"**{param.name}"
    if param.kind is param.KEYWORD_ONLY:
        return f"{param.name}={param.name}"
    return param.name
