"""The official phoenix.js client against our server: connect, join, push, broadcast, binary.

Each test starts a fresh :class:`LoopbackServer` (demo channels) and one node
process running ``tests/js/driver.mjs``; every wait has a deadline.
"""

from __future__ import annotations

import json
from typing import Any

from phoenix_actors.server import LoopbackServer
from tests.jsclient import (  # noqa: F401 (fixtures)
    JsClient,
    JsClientFactory,
    as_bytes,
    b64,
    join,
    js_client_fixture,
    loopback_server_fixture,
    open_socket,
    push,
)

V1: dict[str, Any] = {"vsn": "1.0.0"}


def _shout_listeners(js: JsClient, server: LoopbackServer, names: tuple[str, ...]) -> None:
    """Open one socket per name (user_id=name), join room:lobby on it, listen for shout."""
    for name in names:
        open_socket(js, server.url, socket=name, params={"user_id": name})
        join(js, name, "room:lobby", socket=name)
        js.send("on", channel=name, event="shout")


def test_v2_connect_and_join_ok(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "alice"}, raw=True)
    reply = join(js, "c", "room:lobby", {"hello": "world"})
    assert reply["status"] == "ok"
    assert reply["response"] == {"joined": "lobby", "user_id": "alice"}
    state = js.send("state")
    assert state["channels"]["c"]["state"] == "joined"
    join_ref = state["channels"]["c"]["joinRef"]
    # V2 frames are 5-arrays; the join reply carries the join's ref as join_ref and ref.
    frames = [json.loads(e["data"]) for e in js.select("raw_in")]
    assert all(isinstance(f, list) and len(f) == 5 for f in frames)
    assert [join_ref, join_ref, "room:lobby", "phx_reply"] in [f[:4] for f in frames]


def test_v1_connect_and_join_ok(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    opened = js.send("socket", url=loopback_server.url, params={"user_id": "v1"}, raw=True, **V1)
    assert opened["endPointURL"].endswith("/socket/websocket?user_id=v1&vsn=1.0.0")
    js.send("connect")
    js.wait_for("open")
    reply = join(js, "c", "room:lobby")
    assert reply["status"] == "ok"
    assert reply["response"] == {"joined": "lobby", "user_id": "v1"}
    pong = push(js, "c", "ping", {"n": 1})
    assert (pong["status"], pong["response"]) == ("ok", {"n": 1})
    # A V1 server sends objects with exactly topic, event, payload and ref.
    frames = [json.loads(e["data"]) for e in js.select("raw_in")]
    assert frames
    for frame in frames:
        assert isinstance(frame, dict)
        assert set(frame) == {"topic", "event", "payload", "ref"}


def test_join_refused_with_reply(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, rejoinAfterMs=[60_000])
    reply = join(js, "c", "room:lobby", {"reject": True})
    assert (reply["status"], reply["response"]) == ("error", {"reason": "rejected"})
    assert js.send("state")["channels"]["c"]["state"] == "errored"


def test_private_room_needs_the_password(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "bob"}, rejoinAfterMs=[60_000])
    wrong = join(js, "c1", "room:private", {"password": "guess"})
    assert (wrong["status"], wrong["response"]) == ("error", {"reason": "unauthorized"})
    right = join(js, "c2", "room:private", {"password": "secret"})
    assert (right["status"], right["response"]) == ("ok", {"joined": "private", "user_id": "bob"})


def test_unmatched_topic_join_errors(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, rejoinAfterMs=[60_000])
    reply = join(js, "c", "nowhere:1")
    assert (reply["status"], reply["response"]) == ("error", {"reason": "unmatched topic"})
    msg = js.wait_for("msg", topic="nowhere:1", event="phx_reply")
    assert msg["join_ref"] is None


def test_push_replies_ok_error_and_empty(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    payload = {"text": "héllo", "list": [1, 2.5, None, True], "nested": {"a": "b"}}
    ok = push(js, "c", "ping", payload)
    assert (ok["status"], ok["response"]) == ("ok", payload)
    error = push(js, "c", "error_reply", {})
    assert (error["status"], error["response"]) == ("error", {"reason": "asked"})
    unknown = push(js, "c", "nope", {})
    assert unknown["status"] == "error"
    assert unknown["response"] == {"reason": "unknown event", "event": "nope"}
    js.send("on", channel="c", event="pushed")
    empty = push(js, "c", "push_back", {"x": 1})
    assert (empty["status"], empty["response"]) == ("ok", {})
    pushed = js.wait_for("event", event="pushed")
    assert pushed["payload"] == {"x": 1}
    assert pushed["seq"] < empty["seq"]  # the server push came before the reply
    assert pushed["join_ref"] == js.send("state")["channels"]["c"]["joinRef"]


def test_push_many_arrives_in_order_before_the_reply(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    js.send("on", channel="c", event="seq")
    reply = push(js, "c", "push_many", {"n": 25})
    assert (reply["status"], reply["response"]) == ("ok", {"sent": 25})
    events = js.select("event", event="seq")
    assert [e["payload"] for e in events] == [{"i": i} for i in range(1, 26)]
    assert events[-1]["seq"] < reply["seq"]


def test_push_times_out_when_the_server_does_not_reply(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    timeout = push(js, "c", "noreply", {}, timeout=150)
    assert (timeout["status"], timeout["response"]) == ("timeout", {})
    # The channel is still usable afterwards.
    assert push(js, "c", "ping", {"after": True})["status"] == "ok"


def test_slow_blocks_the_channel_async_reply_does_not(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    js.send("push", channel="c", event="slow", payload={"ms": 200}, push_id="slow")
    js.send("push", channel="c", event="ping", payload={}, push_id="after_slow")
    slow = js.wait_for("push_reply", push_id="slow")
    after_slow = js.wait_for("push_reply", push_id="after_slow")
    assert slow["response"] == {"ms": 200}
    assert slow["seq"] < after_slow["seq"]
    js.send("push", channel="c", event="async_reply", payload={"ms": 200}, push_id="async")
    js.send("push", channel="c", event="ping", payload={}, push_id="after_async")
    late = js.wait_for("push_reply", push_id="async")
    early = js.wait_for("push_reply", push_id="after_async")
    assert (late["status"], late["response"]) == ("ok", {"ms": 200})
    assert early["seq"] < late["seq"]


def test_shout_reaches_every_subscriber_including_the_sender(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _shout_listeners(js, loopback_server, ("a", "b"))
    js.send("push", channel="a", event="shout", payload={"text": "hi"})
    for name in ("a", "b"):
        event = js.wait_for("event", channel=name, event="shout")
        assert event["payload"] == {"text": "hi"}
        msg = js.wait_for("msg", socket=name, event="shout")
        assert (msg["ref"], msg["join_ref"]) == (None, None)  # a broadcast


def test_shout_others_skips_the_sender(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _shout_listeners(js, loopback_server, ("a", "b"))
    js.send("push", channel="a", event="shout_others", payload={"text": "psst"})
    barrier = push(js, "a", "ping", {})  # after the broadcast went out, on a's connection
    event = js.wait_for("event", channel="b", event="shout")
    assert event["payload"] == {"text": "psst"}
    assert barrier["status"] == "ok"
    assert js.select("event", channel="a", event="shout") == []


def test_server_broadcast_reaches_subscribers(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:news")
    js.send("on", channel="c", event="headline")
    loopback_server.broadcast("room:news", "headline", {"title": "hello"})
    loopback_server.broadcast("room:other", "headline", {"title": "not for us"})
    event = js.wait_for("event", event="headline")
    assert event["payload"] == {"title": "hello"}
    msg = js.wait_for("msg", event="headline")
    assert (msg["join_ref"], msg["ref"]) == (None, None)
    assert push(js, "c", "ping", {})["status"] == "ok"
    assert len(js.select("event", event="headline")) == 1


def test_binary_push_and_reply(js_client: JsClientFactory, loopback_server: LoopbackServer) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, raw=True)
    join(js, "c", "room:lobby")
    data = bytes(range(256)) * 3
    for event in ("ping", "binary"):
        mark = js.mark()
        reply = push(js, "c", event, b64(data))
        assert reply["status"] == "ok"
        assert as_bytes(reply["response"]) == data
        binary_in = [e for e in js.select("raw_in", after=mark) if isinstance(e["data"], dict)]
        assert [as_bytes(e["data"])[0] for e in binary_in] == [1]  # kind 1: reply
    refused = push(js, "c", "binary", {"not": "bytes"})
    assert (refused["status"], refused["response"]) == (
        "error",
        {"reason": "expected binary payload"},
    )


def _whoami(js: JsClient, url: str, *, user: str, **options: Any) -> dict[str, object]:
    open_socket(js, url, params={"user_id": user, "extra": "x"}, **options)
    join(js, "c", "room:me")
    reply = push(js, "c", "whoami", {})
    assert reply["status"] == "ok"
    response: dict[str, object] = reply["response"]
    assert response["user_id"] == user
    assert response["socket_id"] == f"user_socket:{user}"
    assert response["topic"] == "room:me"
    assert response["join_ref"] == js.send("state")["channels"]["c"]["joinRef"]
    assert response["transport"] == "websocket"
    assert isinstance(response["serializer"], str)
    return response


def test_whoami_v2(js_client: JsClientFactory, loopback_server: LoopbackServer) -> None:
    me = _whoami(js_client(), loopback_server.url, user="two")
    assert me["params"] == {"user_id": "two", "extra": "x", "vsn": "2.0.0"}


def test_whoami_v1(js_client: JsClientFactory, loopback_server: LoopbackServer) -> None:
    v1 = _whoami(js_client(), loopback_server.url, user="one", **V1)
    v2 = _whoami(js_client(), loopback_server.url, user="two")
    assert v1["params"] == {"user_id": "one", "extra": "x", "vsn": "1.0.0"}
    assert v1["serializer"] != v2["serializer"]


def test_user_id_is_random_when_absent(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    reply = join(js, "c", "room:lobby")
    user_id = reply["response"]["user_id"]
    assert isinstance(user_id, str)
    assert len(user_id) == 8
