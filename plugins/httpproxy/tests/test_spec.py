"""Routes as pure functions: matching, rewriting, names, client networks."""

from __future__ import annotations

import ipaddress

import pytest

from wsnet_httpproxy.spec import SpecError, default_name, make_route, parse_expose, select


def test_longest_prefix_on_segment_boundaries_and_host_first() -> None:
    routes = (
        make_route("/", "G", "http://h/"),
        make_route("/px", "G", "http://h/x"),
        make_route("/px/deep", "G", "http://h/d"),
        make_route("/px", "G", "http://h/v", host="app.example"),
    )
    assert select(routes, "other", "/px/a").name == "px"  # type: ignore[union-attr]
    assert select(routes, "other", "/px/deep/a").name == "px-deep"  # type: ignore[union-attr]
    assert select(routes, "other", "/pxy").name == "root"  # type: ignore[union-attr]
    assert select(routes, "app.example", "/px/deep").name == "app.example-px"  # type: ignore[union-attr]
    assert select(routes[1:3], "h", "/nope") is None


def test_upstream_path_keeps_what_follows_the_prefix() -> None:
    r = make_route("/px", "G", "http://h:1/x")
    assert [r.upstream_path(p) for p in ("/px", "/px/", "/px/a/b")] == ["/x", "/x/", "/x/a/b"]
    root = make_route("/", "G", "http://h:1")
    assert [root.upstream_path(p) for p in ("/", "/a")] == ["/", "/a"]
    assert make_route("/a/", "G", "http://h/b/").upstream_path("/a/c") == "/b/c"


def test_names_networks_and_errors() -> None:
    assert default_name("/", "") == "root" and default_name("/a/b", "") == "a-b"
    r = make_route("/", "G", "http://h/", allow=["10.0.0.0/8"], deny=["10.1.0.0/16"])
    assert r.client_allowed(ipaddress.ip_address("10.2.3.4"))
    assert not r.client_allowed(ipaddress.ip_address("10.1.3.4"))
    assert not r.client_allowed(ipaddress.ip_address("192.168.1.1"))
    assert parse_expose("/px=G:http://127.0.0.1:9921/x") == ("/px", "G", "http://127.0.0.1:9921/x")
    for args, key in (
        (("px", "G", "http://h/"), "path"),
        (("/", "G H", "http://h/"), "node"),
        (("/", "G", "http://u:p@h/"), "upstream"),
        (("/", "G", "ws://h/"), "upstream"),
    ):
        with pytest.raises(SpecError) as info:
            make_route(*args)
        assert info.value.key == key
