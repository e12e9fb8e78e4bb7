"""Our socket URLs and auth-token subprotocols against npm phoenix's ``Socket``.

Hypothesis-generated params (nested mappings and lists, unicode, spaces,
reserved characters, integer-like keys that JavaScript reorders) go to one
node process per test (``tests/js/url_check.mjs``), which builds
``new Socket(endpoint, {params, vsn})`` and prints ``endPointURL()`` and the
long-poll URL ``LongPoll`` derives from it; ours must be equal. phoenix.js
uses an ``http(s)`` endpoint verbatim for the websocket, where we map it to
``ws(s)``: that one difference is normalised here.
"""

from __future__ import annotations

import functools
import math
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phoenix_actors.protocol.url import (
    auth_token_protocols,
    decode_auth_token_protocol,
    endpoint_url,
)
from tests.node import NODE, run_node_script

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

T = TypeVar("T")
BATCH_SIZE = 200
SAFE_INT = 2**53  # node reads our JSON numbers as doubles

ENDPOINTS = [
    "ws://localhost:4000/socket",
    "wss://example.com/socket",
    "wss://example.com",
    "ws://127.0.0.1:4000/a/b/live",
    "ws://[::1]:4000/socket",
    "https://example.com/socket",
    "http://localhost:4000/socket",
]
RESERVED = "&=?#/+%[] ,;:@$!'()*~._-"
text = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(RESERVED), max_size=8)
keys = text | st.sampled_from(["1", "2", "10", "01", "0", "4294967294", "4294967295", "__proto__"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE_INT, SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3),
    max_leaves=8,
)
url_cases: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "endpoint": st.sampled_from(ENDPOINTS),
        "params": st.dictionaries(keys, values, max_size=5),
    },
    optional={"vsn": st.sampled_from(["1.0.0", "2.0.0", "2.0.0 beta&x"])},
)


def collect(strategy: st.SearchStrategy[T], n: int = BATCH_SIZE) -> list[T]:
    """``n`` hypothesis-generated examples, to check in one node process."""
    out: list[T] = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example: T) -> None:
        out.append(example)

    draw()
    return out


def _websocket_as_phoenix_js(url: str, endpoint: str) -> str:
    """phoenix.js leaves an http(s) endpoint's scheme alone; we map it to ws(s)."""
    if endpoint.startswith("https:"):
        return "https:" + url.removeprefix("wss:")
    if endpoint.startswith("http:"):
        return "http:" + url.removeprefix("ws:")
    return url


def _has_negative_zero(value: Any) -> bool:
    if isinstance(value, float):
        return value == 0 and math.copysign(1.0, value) < 0
    if isinstance(value, dict):
        return any(_has_negative_zero(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_negative_zero(v) for v in value)
    return False


def test_endpoint_urls_match_phoenix_js() -> None:
    # -0.0 becomes 0 on its way through JSON to node, so it says nothing here (unit-tested)
    cases = [c for c in collect(url_cases) if not _has_negative_zero(c["params"])]
    result = run_node_script("url_check.mjs", {"urls": cases})["urls"]
    for case, js in zip(cases, result, strict=True):
        assert "error" not in js, (case, js)
        options: dict[str, Any] = {"vsn": case["vsn"]} if "vsn" in case else {}
        ours = endpoint_url(case["endpoint"], case["params"], **options)
        assert _websocket_as_phoenix_js(ours, case["endpoint"]) == js["websocket"], case
        longpoll = endpoint_url(case["endpoint"], case["params"], transport="longpoll", **options)
        assert longpoll == js["longpoll"], case


def test_callable_params_match_phoenix_js_per_call() -> None:
    # phoenix.js re-evaluates a params function on every endPointURL(); a mapping snapshot
    # per call is what node sees
    cases = collect(url_cases, 20)
    result = run_node_script("url_check.mjs", {"urls": cases})["urls"]
    for case, js in zip(cases, result, strict=True):
        options: dict[str, Any] = {"vsn": case["vsn"]} if "vsn" in case else {}
        ours = endpoint_url(case["endpoint"], functools.partial(dict, case["params"]), **options)
        assert _websocket_as_phoenix_js(ours, case["endpoint"]) == js["websocket"], case


ascii_tokens = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)
latin1_tokens = st.text(
    alphabet=st.characters(min_codepoint=0x01, max_codepoint=0xFF), min_size=1, max_size=20
)


def test_auth_token_protocols_match_phoenix_js() -> None:
    tokens = collect(ascii_tokens)
    result = run_node_script("url_check.mjs", {"tokens": tokens})["tokens"]
    for token, js in zip(tokens, result, strict=True):
        assert auth_token_protocols(token) == js, token
        assert decode_auth_token_protocol(", ".join(js)) == (token, ["phoenix"])


def test_server_reads_phoenix_js_latin1_tokens() -> None:
    # btoa sends U+0080..U+00FF as single bytes; we send UTF-8 but read both
    tokens = collect(latin1_tokens, 100)
    result = run_node_script("url_check.mjs", {"tokens": tokens})["tokens"]
    for token, js in zip(tokens, result, strict=True):
        decoded, rest = decode_auth_token_protocol(", ".join(js))
        assert rest == ["phoenix"]
        # a Latin-1 string whose bytes happen to be UTF-8 reads as UTF-8 (e.g. "Ã©" -> "é")
        assert decoded == token or token.encode("latin-1").decode() == decoded, token


def test_phoenix_js_throws_for_tokens_beyond_latin1() -> None:
    result = run_node_script("url_check.mjs", {"tokens": ["☃"]})["tokens"]
    assert "error" in result[0]
    assert auth_token_protocols("☃") == ["phoenix", "base64url.bearer.phx.4piD"]
