"""The JSON-RPC control dispatcher, called directly: no HTTP server, no sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsnet.control import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_BATCH,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Dispatcher,
    RpcError,
    bind,
    signature_text,
)
from wsnet.errors import ControlError, WsnetError
from wsnet.interfaces import ControlMethod

seen_calls: list[dict[str, Any]] = []


async def addport(kind: str, name: str, mtu: int = 1500, up: bool = True) -> dict[str, Any]:
    args = {"kind": kind, "name": name, "mtu": mtu, "up": up}
    seen_calls.append(args)
    return args


async def scale(factor: float, limit: int | None = None) -> list[Any]:
    return [factor, limit]


async def setif(name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, **options}


async def untyped(value, other=3):  # type: ignore[no-untyped-def]
    return [value, other]


async def nothing() -> str:
    return "ok"


async def refuse(code: int) -> None:
    raise ControlError("not allowed here", code)


async def wsnet_fail() -> None:
    raise WsnetError("no such port")


async def crash() -> None:
    raise ValueError("boom")


METHODS = {
    m.name: m
    for m in (
        ControlMethod("addport", addport),
        ControlMethod("scale", scale),
        ControlMethod("setif", setif),
        ControlMethod("untyped", untyped),
        ControlMethod("nothing", nothing),
        ControlMethod("refuse", refuse),
        ControlMethod("wsnet_fail", wsnet_fail),
        ControlMethod("crash", crash),
    )
}


def request(method: str, params: Any = None, rid: Any = 1, **extra: Any) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, **extra}
    if params is not None:
        body["params"] = params
    if rid is not ...:
        body["id"] = rid
    return json.dumps(body).encode()


async def call(body: bytes) -> Any:
    return await Dispatcher(METHODS).handle(body)


def bind_error(name: str, params: Any) -> RpcError:
    with pytest.raises(RpcError) as info:
        bind(METHODS[name], params)
    assert info.value.code == INVALID_PARAMS
    return info.value


# ------------------------------------------------------------------------ bind


def test_positional_params_convert_strings_from_the_command_line() -> None:
    bound = bind(METHODS["addport"], ["tap", "ethws0", "1400", "off"])
    assert bound == {"kind": "tap", "name": "ethws0", "mtu": 1400, "up": False}


def test_named_params_convert_and_defaults_stay_out() -> None:
    bound = bind(METHODS["addport"], {"name": "ethws0", "kind": "tap", "mtu": "9000"})
    assert bound == {"kind": "tap", "name": "ethws0", "mtu": 9000}  # handler default for up


def test_values_of_the_right_type_pass_unchanged() -> None:
    bound = bind(METHODS["addport"], {"kind": "tap", "name": "x", "mtu": 1280, "up": False})
    assert bound["mtu"] == 1280 and bound["up"] is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_bool_words(text: str, value: bool) -> None:
    assert bind(METHODS["addport"], ["tap", "x", 1, text])["up"] is value


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["tap", "x", "big"], "parameter 'mtu': expected int, got 'big'"),
        (["tap", "x", "1.5"], "parameter 'mtu': expected int, got '1.5'"),
        (["tap", "x", None], "parameter 'mtu': expected int, got None"),
        (["tap", "x", 1, "maybe"], "parameter 'up': expected bool, got 'maybe'"),
        (["tap", "x", 1, 1], "parameter 'up': expected bool, got 1"),
    ],
)
def test_conversion_failures_name_parameter_and_type(params: list[Any], message: str) -> None:
    assert bind_error("addport", params).message == message


def test_bool_is_not_accepted_for_an_int_parameter() -> None:
    bind_error("addport", {"kind": "tap", "name": "x", "mtu": True})


def test_float_and_optional_conversion() -> None:
    assert bind(METHODS["scale"], ["2.5"]) == {"factor": 2.5}
    assert bind(METHODS["scale"], [2, "7"]) == {"factor": 2.0, "limit": 7}
    assert bind(METHODS["scale"], {"factor": 1.0, "limit": None}) == {
        "factor": 1.0,
        "limit": None,
    }
    assert bind_error("scale", ["fast"]).message == "parameter 'factor': expected float, got 'fast'"


def test_unannotated_parameters_take_anything() -> None:
    assert bind(METHODS["untyped"], [[1, 2], {"a": 1}]) == {"value": [1, 2], "other": {"a": 1}}


def test_too_many_positional_params() -> None:
    err = bind_error("addport", ["a", "b", 1, True, "extra"])
    assert err.message == "takes at most 4 arguments (kind, name, mtu, up)"
    assert bind_error("nothing", [1]).message == "takes at most 0 arguments (none)"


def test_unknown_named_param_lists_the_known_ones() -> None:
    err = bind_error("addport", {"kind": "tap", "name": "x", "mtuu": 1})
    assert err.message == "unknown parameter 'mtuu' (takes: kind, name, mtu, up)"


def test_missing_param() -> None:
    assert bind_error("addport", ["tap"]).message == "missing parameter 'name'"
    assert bind_error("addport", None).message == "missing parameter 'kind'"


@pytest.mark.parametrize("params", ["tap", 5, True])
def test_params_of_the_wrong_shape(params: Any) -> None:
    assert bind_error("addport", params).message == "params must be an array or an object"


def test_var_keyword_handler_takes_extra_options_unconverted() -> None:
    bound = bind(METHODS["setif"], {"name": "eth0", "mtu": "1400", "promisc": "on"})
    assert bound == {"name": "eth0", "mtu": "1400", "promisc": "on"}
    assert bind(METHODS["setif"], ["eth0"]) == {"name": "eth0"}
    # positional binding never reaches **options
    assert bind_error("setif", ["eth0", "x"]).message == "takes at most 1 arguments (name)"


def test_signature_text_for_help() -> None:
    assert signature_text(METHODS["addport"]) == "kind name [mtu=1500] [up=True]"
    assert signature_text(METHODS["setif"]) == "name [**OPTION=VALUE]"
    assert signature_text(METHODS["nothing"]) == ""


# ------------------------------------------------------------------ dispatcher


async def test_successful_call_reply_shape_and_handler_sees_converted_args() -> None:
    seen_calls.clear()
    reply = await call(request("addport", ["tap", "ethws0", "1400"], rid="req-7"))
    expected = {"kind": "tap", "name": "ethws0", "mtu": 1400, "up": True}
    assert reply == {"jsonrpc": "2.0", "id": "req-7", "result": expected}
    assert seen_calls == [expected]


async def test_params_may_be_omitted() -> None:
    assert await call(request("nothing")) == {"jsonrpc": "2.0", "id": 1, "result": "ok"}


async def test_null_id_is_not_a_notification() -> None:
    assert await call(request("nothing", rid=None)) == {
        "jsonrpc": "2.0",
        "id": None,
        "result": "ok",
    }


async def test_notification_gets_no_reply_but_runs() -> None:
    seen_calls.clear()
    assert await call(request("addport", ["tap", "n"], rid=...)) is None
    assert len(seen_calls) == 1
    assert await call(request("crash", rid=...)) is None  # errors are not reported either


async def test_unknown_method_lists_available_ones() -> None:
    reply = await call(request("addprot", rid=3))
    assert reply["id"] == 3
    assert reply["error"]["code"] == METHOD_NOT_FOUND
    assert reply["error"]["message"].startswith("unknown method 'addprot' (available: addport, ")
    assert set(reply) == {"jsonrpc", "id", "error"}


async def test_invalid_params_error_shape() -> None:
    reply = await call(request("addport", {"kind": "tap"}, rid=9))
    assert reply == {
        "jsonrpc": "2.0",
        "id": 9,
        "error": {"code": INVALID_PARAMS, "message": "missing parameter 'name'"},
    }


async def test_parse_error() -> None:
    reply = await call(b"{not json")
    assert reply["id"] is None
    assert reply["error"]["code"] == PARSE_ERROR
    assert reply["error"]["message"].startswith("parse error: ")


@pytest.mark.parametrize(
    "body",
    [
        b"42",
        b'"addport"',
        b'{"method": "nothing", "id": 1}',
        b'{"jsonrpc": "1.0", "method": "nothing", "id": 1}',
        b'{"jsonrpc": "2.0", "method": 5, "id": 1}',
        b'{"jsonrpc": "2.0", "id": 1}',
    ],
)
async def test_invalid_request(body: bytes) -> None:
    reply = await call(body)
    assert reply == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": INVALID_REQUEST, "message": "not a JSON-RPC 2.0 request"},
    }


async def test_control_error_keeps_its_code() -> None:
    reply = await call(request("refuse", [-32010]))
    assert reply["error"] == {"code": -32010, "message": "not allowed here"}


async def test_wsnet_error_is_a_server_error() -> None:
    reply = await call(request("wsnet_fail"))
    assert reply["error"] == {"code": -32000, "message": "no such port"}


async def test_unexpected_exception_is_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    reply = await call(request("crash"))
    assert reply["error"] == {"code": INTERNAL_ERROR, "message": "internal error: ValueError: boom"}
    assert "control method crash failed" in caplog.text


async def test_batch_replies_in_order_without_notifications() -> None:
    body = (
        b"["
        + b",".join(
            [
                request("nothing", rid=1),
                request("nothing", rid=...),
                request("nope", rid=2),
                b"17",
            ]
        )
        + b"]"
    )
    replies = await call(body)
    assert [r.get("id") for r in replies] == [1, 2, None]
    assert replies[0]["result"] == "ok"
    assert replies[1]["error"]["code"] == METHOD_NOT_FOUND
    assert replies[2]["error"]["code"] == INVALID_REQUEST


async def test_batch_of_only_notifications_and_empty_batch() -> None:
    assert await call(b"[" + request("nothing", rid=...) + b"]") is None
    reply = await call(b"[]")
    assert reply["error"] == {"code": INVALID_REQUEST, "message": "empty batch"}


async def test_a_batch_beyond_max_batch_is_refused_whole() -> None:
    calls = [request("nothing", rid=i) for i in range(MAX_BATCH + 1)]
    reply = await call(b"[" + b",".join(calls) + b"]")
    assert reply["error"] == {
        "code": INVALID_REQUEST,
        "message": f"batch of {MAX_BATCH + 1} calls, at most {MAX_BATCH}",
    }
    replies = await call(b"[" + b",".join(calls[:MAX_BATCH]) + b"]")
    assert len(replies) == MAX_BATCH
