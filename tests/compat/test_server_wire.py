"""Server reactions phoenix.js never provokes by itself, written raw on its connection.

The driver's ``send_raw`` writes a frame on the phoenix.js socket's transport;
the answers are observed through ``msg`` (every decoded message) and the
phoenix.js channel objects. Expected reactions: PROTOCOL.md section 3.
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


def raw(js: JsClient, frame: list[Any], socket: str = "s") -> None:
    """Send one V2 JSON frame, bypassing phoenix.js."""
    js.send("send_raw", socket=socket, data=json.dumps(frame))


def test_server_side_duplicate_join_replies_then_closes_the_old_join(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "dup"})
    join(js, "c", "room:lobby")
    old_ref = js.send("state")["channels"]["c"]["joinRef"]
    mark = js.mark()
    raw(js, ["x1", "x1", "room:lobby", "phx_join", {}])
    reply = js.wait_for("msg", event="phx_reply", ref="x1", after=mark)
    assert (reply["join_ref"], reply["topic"]) == ("x1", "room:lobby")
    assert reply["payload"] == {"status": "ok", "response": {"joined": "lobby", "user_id": "dup"}}
    close = js.wait_for("msg", event="phx_close", after=mark)
    assert (close["join_ref"], close["ref"], close["topic"]) == (old_ref, old_ref, "room:lobby")
    assert reply["seq"] < close["seq"]  # Phoenix: the new join's reply, then the old close
    assert js.wait_for("channel_close", channel="c")["payload"] == {}
    # The new join owns the topic now.
    raw(js, ["x1", "x2", "room:lobby", "ping", {"new": True}])
    pong = js.wait_for("msg", event="phx_reply", ref="x2")
    assert pong["payload"] == {"status": "ok", "response": {"new": True}}


def test_frames_with_a_stale_join_ref_are_ignored(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    raw(js, ["stale", "x1", "room:lobby", "ping", {"stale": True}])
    barrier = push(js, "c", "ping", {"fresh": True})  # sent after, answered after
    assert barrier["response"] == {"fresh": True}
    assert js.select("msg", ref="x1") == []


def test_null_join_ref_frames_reach_the_channel(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    """Phoenix 1.8.12 fixed dropping null join_ref frames (PROTOCOL.md section 0)."""
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    raw(js, [None, "x1", "room:lobby", "ping", {"null": True}])
    reply = js.wait_for("msg", event="phx_reply", ref="x1")
    assert reply["payload"] == {"status": "ok", "response": {"null": True}}


def test_push_to_an_unjoined_topic_is_unmatched(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    raw(js, [None, "x1", "room:nowhere", "ping", {}])
    reply = js.wait_for("msg", event="phx_reply", ref="x1")
    assert reply["join_ref"] is None
    assert reply["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}


def test_leave_of_an_unjoined_topic_is_ok(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    raw(js, [None, "x1", "room:nowhere", "phx_leave", {}])
    reply = js.wait_for("msg", event="phx_reply", ref="x1")
    assert reply["payload"] == {"status": "ok", "response": {}}
    assert js.select("msg", event="phx_close") == []


def test_binary_push_frame_written_by_hand(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    """Kind 0 push: 1-byte lengths of join_ref, ref, topic, event, then the fields and bytes."""
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    join_ref: str = js.send("state")["channels"]["c"]["joinRef"]
    fields = [join_ref.encode(), b"x1", b"room:lobby", b"binary"]
    frame = bytes([0, *(len(f) for f in fields)]) + b"".join(fields) + b"\x00\xffdata"
    js.send("send_raw", data=b64(frame))
    reply = js.wait_for("msg", event="phx_reply", ref="x1")
    assert reply["join_ref"] == join_ref
    assert reply["payload"]["status"] == "ok"
    assert as_bytes(reply["payload"]["response"]) == b"\x00\xffdata"
