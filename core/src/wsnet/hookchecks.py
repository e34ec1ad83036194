"""What each ``wsnet_register_*`` hook must return, checked where the plugin is known.

A plugin that returns a wrong object (a string instead of a list, a tuple instead of a
ControlMethod, a sync handler, a route on a core path) would otherwise fail later, deep in
the core, as a traceback naming nothing (``AttributeError: 'str' object has no attribute
'name'``) or at the first call.  Used by ``HookCalls._items``; every problem is one line
that ``HookCalls`` prefixes with ``plugin 'NAME' failed in HOOK:``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from . import interfaces as i

# The paths the control listener serves itself (control.CORE_PATHS, without importing it).
CORE_PATHS = ("/", "/rpc", "/healthz", "/readyz")

# hook name -> the class its items must be instances of (for ports: subclasses of)
EXPECT: dict[str, type] = {
    "wsnet_register_services": i.Service,
    "wsnet_register_ports": i.Port,
    "wsnet_register_authenticators": i.Authenticator,
    "wsnet_register_transports": i.Transport,
    "wsnet_register_observers": i.Observer,
    "wsnet_register_control_methods": i.ControlMethod,
    "wsnet_register_components": i.Component,
    "wsnet_register_http_routes": i.HttpRoute,
}


class WrongResult(Exception):
    """What a plugin returned is not what its hook promises (the message says how)."""


def items_of(hook: str, result: object) -> list[Any]:
    """The items of one plugin's ``result`` of ``hook``; WrongResult says what is wrong.

    Iterating may raise the plugin's own exception (a generator): the caller names it."""
    if result is None:
        return []
    cls = EXPECT[hook]
    if isinstance(result, str | bytes) or not isinstance(result, Iterable):
        raise WrongResult(f"returned {_shown(result)}, not an iterable of {cls.__name__}")
    items = list(result)
    for item in items:
        if cls is i.Port:
            ok = isinstance(item, type) and issubclass(item, i.Port)
        else:
            ok = isinstance(item, cls)
        if not ok:
            sub = " subclass" if cls is i.Port else ""
            article = "an" if cls.__name__[0] in "AEIOUH" else "a"
            raise WrongResult(f"returned {_shown(item)}, not {article} {cls.__name__}{sub}")
        _check(item)
    return items


# The attribute that names an item (what a clash, a log line or an OPEN uses).
_NAMED = (
    (i.Service, "name"), (i.Authenticator, "name"), (i.Port, "kind"), (i.ControlMethod, "name"),
)  # fmt: skip


def _check(item: object) -> None:
    for cls, attr in _NAMED:
        holder = item if isinstance(item, type) else type(item)  # a Port is a class
        value = getattr(item, attr, None)
        if issubclass(holder, cls) and not (isinstance(value, str) and value):
            raise WrongResult(f"{holder.__name__} has no {attr} (a non-empty string), "
                              f"got {value!r}")  # fmt: skip
    if isinstance(item, i.Transport):
        schemes = getattr(item, "schemes", None)
        if not (isinstance(schemes, tuple | list) and schemes
                and all(isinstance(x, str) and x for x in schemes)):  # fmt: skip
            raise WrongResult(f"transport {type(item).__name__}: schemes must be a tuple of "
                              f"URL schemes, got {schemes!r}")  # fmt: skip
    if isinstance(item, i.ControlMethod) and not _is_async(item.handler):
        raise WrongResult(f"control method {item.name!r}: the handler is not an async function")
    if isinstance(item, i.HttpRoute):
        if not item.path.startswith("/"):
            raise WrongResult(f"HTTP route {item.name!r}: the path {item.path!r} "
                             "does not start with '/'")  # fmt: skip
        if item.path in CORE_PATHS:
            raise WrongResult(f"HTTP route {item.name!r}: the path {item.path!r} is the core's "
                             f"({', '.join(CORE_PATHS)})")  # fmt: skip


def _is_async(handler: object) -> bool:
    # A bound method, a functools.partial or an object whose __call__ is async all count.
    call = getattr(handler, "__call__", None)  # noqa: B004 - the async __call__ itself
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_NUMBER = (int, float)


def metric_problem(item: object) -> str | None:
    """Why ``item`` cannot be exported as a metric family, or None.  One malformed family
    (a label missing, a value that is text) made the whole /metrics answer 500."""
    if not isinstance(item, i.Metric):
        return f"{_shown(item)} is not a Metric"
    if not (isinstance(item.name, str) and _NAME.match(item.name)):
        return f"metric {item.name!r}: not a valid metric name"
    if item.type not in ("counter", "gauge", "histogram") or item.merge not in ("sum", "max"):
        return f"metric {item.name}: type {item.type!r} or merge {item.merge!r} unknown"
    if not all(isinstance(label, str) and _NAME.match(label) for label in item.labels):
        return f"metric {item.name}: labels {item.labels!r} are not label names"
    for sample in item.samples:
        if not _labelled(sample, 2, len(item.labels)) or not _is_number(sample[1]):
            return f"metric {item.name}: sample {sample!r} is not (label values, number)"
    for hist in item.histograms:
        ok = _labelled(hist, 3, len(item.labels)) and _is_number(hist[2])
        if not ok or len(hist[1]) != len(item.buckets) + 1 or not all(map(_is_number, hist[1])):
            return f"metric {item.name}: histogram {hist!r} does not fit its buckets"
    return None


def _labelled(row: object, size: int, labels: int) -> bool:
    return (
        isinstance(row, tuple)
        and len(row) == size
        and isinstance(row[0], tuple)
        and len(row[0]) == labels
        and all(isinstance(v, str) for v in row[0])
    )


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBER)
