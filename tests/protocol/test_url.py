"""Socket URLs, auth-token subprotocols and topic parts (phoenix.js socket.js / ajax.js)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, RemoteProtocolError
from phoenix_actors.protocol.url import (
    auth_token_protocols,
    decode_auth_token_protocol,
    endpoint_url,
    topic_parts,
)

# ---------------------------------------------------------------- endpoint_url


def test_appends_websocket_and_vsn_last() -> None:
    url = endpoint_url("ws://localhost:4000/socket", {"token": "abc"})
    assert url == "ws://localhost:4000/socket/websocket?token=abc&vsn=2.0.0"


def test_no_params_gives_only_vsn() -> None:
    assert (
        endpoint_url("wss://example.com/socket") == "wss://example.com/socket/websocket?vsn=2.0.0"
    )
    assert endpoint_url("wss://example.com/socket", {}) == endpoint_url("wss://example.com/socket")


def test_endpoint_without_path() -> None:
    assert endpoint_url("wss://example.com") == "wss://example.com/websocket?vsn=2.0.0"


def test_custom_vsn() -> None:
    assert endpoint_url("ws://h/s", vsn="1.0.0") == "ws://h/s/websocket?vsn=1.0.0"


@pytest.mark.parametrize(
    ("endpoint", "websocket", "longpoll"),
    [
        ("ws://h/s", "ws://h/s/websocket", "http://h/s/longpoll"),
        ("wss://h/s", "wss://h/s/websocket", "https://h/s/longpoll"),
        ("http://h/s", "ws://h/s/websocket", "http://h/s/longpoll"),
        ("https://h:8443/s", "wss://h:8443/s/websocket", "https://h:8443/s/longpoll"),
        ("HTTPS://h/s", "wss://h/s/websocket", "https://h/s/longpoll"),
        ("ws://[::1]:4000/a/b", "ws://[::1]:4000/a/b/websocket", "http://[::1]:4000/a/b/longpoll"),
    ],
)
def test_schemes_map_per_transport(endpoint: str, websocket: str, longpoll: str) -> None:
    assert endpoint_url(endpoint) == websocket + "?vsn=2.0.0"
    assert endpoint_url(endpoint, transport="longpoll") == longpoll + "?vsn=2.0.0"


def test_values_are_encoded_like_encode_uri_component() -> None:
    params = {"q": "a b&c=d?e#f/g+h%i", "safe": "AZaz09-_.!~*'()", "u": "é☃😀"}
    assert endpoint_url("ws://h/s", params) == (
        "ws://h/s/websocket?q=a%20b%26c%3Dd%3Fe%23f%2Fg%2Bh%25i"
        "&safe=AZaz09-_.!~*'()&u=%C3%A9%E2%98%83%F0%9F%98%80&vsn=2.0.0"
    )


def test_nested_mappings_and_lists_use_bracket_keys() -> None:
    params = {"user": {"id": 1, "tags": ["a", "b"], "meta": {"x": True}}}
    assert endpoint_url("ws://h/s", params) == (
        "ws://h/s/websocket?user%5Bid%5D=1&user%5Btags%5D%5B0%5D=a"
        "&user%5Btags%5D%5B1%5D=b&user%5Bmeta%5D%5Bx%5D=true&vsn=2.0.0"
    )


def test_scalars_print_as_javascript_does() -> None:
    params: dict[str, Any] = {
        "t": True,
        "f": False,
        "i": -3,
        "x": 1.0,
        "y": 0.1,
        "z": 1e21,
        "w": 1.5e-7,
        "v": 123456789012345680000.0,
        "nan": float("nan"),
        "inf": float("-inf"),
        "neg0": -0.0,
    }
    query = endpoint_url("ws://h/s", params).split("?", 1)[1]
    assert query == (
        "t=true&f=false&i=-3&x=1&y=0.1&z=1e%2B21&w=1.5e-7&v=123456789012345680000"
        "&nan=NaN&inf=-Infinity&neg0=0&vsn=2.0.0"
    )


def test_none_and_empty_containers_leave_empty_segments() -> None:
    # phoenix.js serializes null (typeof "object") and {} / [] as nothing, keeping the "&"
    assert endpoint_url("ws://h/s", {"a": None}) == "ws://h/s/websocket?&vsn=2.0.0"
    assert endpoint_url("ws://h/s", {"a": 1, "b": {}, "c": [], "d": 2}) == (
        "ws://h/s/websocket?a=1&&&d=2&vsn=2.0.0"
    )


def test_keys_under_an_empty_key_stay_bare() -> None:
    # phoenix.js builds `${parentKey}[${key}]` only when parentKey is truthy
    url = endpoint_url("ws://h/s", {"": {"a": 1, "b": [2]}})
    assert url == "ws://h/s/websocket?a=1&b%5B0%5D=2&vsn=2.0.0"


def test_integer_like_keys_come_first_as_in_javascript_objects() -> None:
    params = {"b": 1, "10": 2, "a": 3, "2": 4, "01": 5, "4294967295": 6, "4294967294": 7}
    query = endpoint_url("ws://h/s", params).split("?", 1)[1]
    assert query == "2=4&10=2&4294967294=7&b=1&a=3&01=5&4294967295=6&vsn=2.0.0"


def test_params_callable_is_evaluated_on_every_call() -> None:
    tokens = iter(["one", "two"])
    url = "ws://h/s"
    assert endpoint_url(url, lambda: {"token": next(tokens)}).startswith(
        "ws://h/s/websocket?token=one&"
    )
    assert endpoint_url(url, lambda: {"token": next(tokens)}).startswith(
        "ws://h/s/websocket?token=two&"
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "/socket",
        "//example.com/socket",
        "example.com/socket",
        "ftp://example.com/socket",
        "ws:/example.com/socket",
        "ws://",
        "ws://h/socket/",
        "ws://h/",
        "ws://h/socket?token=1",
        "ws://h/socket?",
        "ws://h/socket#frag",
        "ws://h/so cket",
        "ws://h:99999/socket",
        "ws://h:port/socket",
        "",
    ],
)
def test_bad_endpoints_raise_naming_endpoint(endpoint: str) -> None:
    with pytest.raises(InvalidArgumentError, match="endpoint"):
        endpoint_url(endpoint)


def test_endpoint_of_wrong_type_raises_type_error() -> None:
    with pytest.raises(InvalidTypeError, match="endpoint"):
        endpoint_url(b"ws://h/s")  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [["a", 1], "token=abc", 5, lambda: ["a"]])
def test_params_not_a_mapping_raise_naming_params(params: Any) -> None:
    with pytest.raises(InvalidTypeError, match="params"):
        endpoint_url("ws://h/s", params)


@pytest.mark.parametrize(
    "params", [{1: "a"}, {"a": {2: "b"}}, {"a": b"bytes"}, {"a": object()}, {"a": {"b": {1, 2}}}]
)
def test_bad_keys_and_values_raise_naming_params(params: Any) -> None:
    with pytest.raises(InvalidTypeError, match="params"):
        endpoint_url("ws://h/s", params)


def test_lone_surrogate_raises_invalid_argument() -> None:
    # encodeURIComponent throws URIError on a lone surrogate
    with pytest.raises(InvalidArgumentError, match="params"):
        endpoint_url("ws://h/s", {"a": "\ud800"})


def test_bad_vsn_and_transport() -> None:
    with pytest.raises(InvalidArgumentError, match="vsn"):
        endpoint_url("ws://h/s", vsn="")
    with pytest.raises(InvalidArgumentError, match="transport"):
        endpoint_url("ws://h/s", transport="sse")  # type: ignore[arg-type]


param_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=6), param_values, max_size=5))
def test_any_params_give_a_plain_ascii_url_with_vsn_last(params: dict[str, Any]) -> None:
    url = endpoint_url("wss://example.com/socket", params)
    assert url.isascii()
    assert not any(c in url for c in " #[]")
    base, _, query = url.partition("?")
    assert base == "wss://example.com/socket/websocket"
    assert query.endswith("vsn=2.0.0")
    assert "/" not in query  # so the long-poll rewrite of "/websocket" cannot touch the query


# ---------------------------------------------------------------- auth token


def test_auth_token_protocols_use_standard_base64_without_padding() -> None:
    # "/" and "+": the standard alphabet, not the URL-safe one the prefix suggests
    assert auth_token_protocols("ab?>") == ["phoenix", "base64url.bearer.phx.YWI/Pg"]
    assert auth_token_protocols("a") == ["phoenix", "base64url.bearer.phx.YQ"]
    assert auth_token_protocols("ab>") == ["phoenix", "base64url.bearer.phx.YWI+"]


def test_auth_token_non_ascii_is_sent_as_utf8() -> None:
    encoded = auth_token_protocols("é")[1].removeprefix("base64url.bearer.phx.")
    assert base64.b64decode(encoded + "==") == "é".encode()


@pytest.mark.parametrize(("token", "error"), [("", InvalidArgumentError), (None, InvalidTypeError)])
def test_auth_token_bad_input(token: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="token"):
        auth_token_protocols(token)


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=40))
def test_auth_token_round_trips_through_the_header(token: str) -> None:
    header = ", ".join(auth_token_protocols(token))
    assert decode_auth_token_protocol(header) == (token, ["phoenix"])


def test_decode_header_trims_and_drops_empty_entries() -> None:
    header = " , base64url.bearer.phx.YWJj ,phoenix,, other "
    assert decode_auth_token_protocol(header) == ("abc", ["phoenix", "other"])


def test_decode_header_accepts_padding() -> None:
    assert decode_auth_token_protocol("base64url.bearer.phx.YQ==") == ("a", [])


def test_decode_header_without_token() -> None:
    assert decode_auth_token_protocol("phoenix") == (None, ["phoenix"])
    assert decode_auth_token_protocol("") == (None, [])


def test_decode_header_with_two_tokens_takes_neither() -> None:
    # Phoenix only uses the token when exactly one entry carries it
    header = "phoenix, base64url.bearer.phx.YQ, base64url.bearer.phx.Yg"
    assert decode_auth_token_protocol(header) == (
        None,
        ["phoenix", "base64url.bearer.phx.YQ", "base64url.bearer.phx.Yg"],
    )


def test_decode_header_reads_latin1_tokens_from_btoa() -> None:
    # phoenix.js btoa("é") sends the single byte 0xE9, which is not UTF-8
    assert decode_auth_token_protocol("phoenix, base64url.bearer.phx.6Q") == ("é", ["phoenix"])


@pytest.mark.parametrize(
    "bad", ["base64url.bearer.phx.Y", "base64url.bearer.phx.a-b_", "base64url.bearer.phx.Y Q"]
)
def test_decode_header_bad_base64_is_a_remote_error(bad: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_auth_token_protocol(f"phoenix, {bad}")


# ---------------------------------------------------------------- topic_parts


@pytest.mark.parametrize(
    ("topic", "parts"),
    [
        ("room:lobby", ["room", "lobby"]),
        ("room", ["room"]),
        ("a:b:c", ["a", "b", "c"]),
        ("", [""]),
        (":x:", ["", "x", ""]),
    ],
)
def test_topic_parts_split_on_colons(topic: str, parts: list[str]) -> None:
    assert topic_parts(topic) == parts


def test_topic_parts_needs_a_str() -> None:
    with pytest.raises(InvalidTypeError, match="topic"):
        topic_parts(5)  # type: ignore[arg-type]
