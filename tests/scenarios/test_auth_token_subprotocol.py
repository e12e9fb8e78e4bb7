"""An auth token whose standard base64 has a ``/``: phoenix.js cannot offer it, we can.

``docs/differences.md``, "An auth token whose base64 has a `/`". The token
travels as the subprotocol ``base64url.bearer.phx.<standard base64>``; a
``/`` is not an HTTP token character, so ``ws`` (like a browser's
``WebSocket``) throws before connecting. Our client sends it and the server
decodes it. Long-poll carries the same token in a header for both clients
(scenario ``longpoll_auth_token_header_reaches_whoami``).
"""

from __future__ import annotations

import base64

import pytest

from tests.node import NODE
from tests.scenarios.adapters import JsPlayer, PyPlayer
from tests.scenarios.catalog import SLASH_PLUS_TOKEN, A, opened_and_joined
from tests.scenarios.model import Push, Scenario, Wait

SCENARIO = Scenario(
    name="auth_token_with_a_slash_over_websocket",
    user_id="erin",
    auth_token=SLASH_PLUS_TOKEN,
    token_in_user_id=True,
    steps=(*opened_and_joined(), Push(A, "whoami"), Wait(("push", A, "whoami"))),
    expect=(),
)


def test_the_token_has_a_slash_and_a_plus_in_standard_base64() -> None:
    encoded = base64.b64encode(SLASH_PLUS_TOKEN.encode()).decode()
    assert "/" in encoded
    assert "+" in encoded
    assert not encoded.endswith("=")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_phoenix_js_throws_on_connect() -> None:
    with JsPlayer(SCENARIO) as js, pytest.raises(AssertionError) as raised:
        js.play()
    assert "connect failed: An invalid or duplicated subprotocol was specified" in str(raised.value)
    assert js.joins == {}


def test_phoenix_actors_connects_and_the_server_decodes_the_token() -> None:
    with PyPlayer(SCENARIO) as py:
        events = py.play()
    user = f"erin|{SLASH_PLUS_TOKEN}"
    assert ("join", A, "ok", {"joined": "a", "user_id": user}, "fresh") in events
    whoami = next(e for e in events if e[:3] == ("push", A, "whoami"))
    assert whoami[3] == "ok"
    assert whoami[4]["socket_id"] == f"user_socket:{user}"
