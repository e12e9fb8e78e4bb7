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


def test_a_frame_that_is_not_json_closes_1011(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, reconnectAfterMs=[60_000])
    js.send("send_raw", data="this is not json")
    closed = js.wait_for("close")
    assert closed["code"] == 1011


def test_a_short_v2_array_closes_1011(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, reconnectAfterMs=[60_000])
    raw(js, [None, "x1", "phoenix", "heartbeat"])
    assert js.wait_for("close")["code"] == 1011


def test_an_unsupported_vsn_is_refused(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    js.send("socket", url=loopback_server.url, vsn="2.1.0", reconnectAfterMs=[60_000])
    js.send("connect")
    assert js.wait_for("close")["code"] == 1006
    assert js.select("open") == []


def test_an_oversized_frame_closes_1009(js_client: JsClientFactory) -> None:
    with LoopbackServer(max_frame_size=1000) as server:
        js = js_client()
        open_socket(js, server.url, reconnectAfterMs=[60_000])
        join(js, "c", "room:lobby")
        assert push(js, "c", "ping", {"fits": "x" * 500})["status"] == "ok"
        js.send("push", channel="c", event="ping", payload={"big": "x" * 2000})
        assert js.wait_for("close")["code"] == 1009


def test_an_idle_connection_is_closed_1002(js_client: JsClientFactory) -> None:
    with LoopbackServer(idle_timeout=0.3) as server:
        js = js_client()
        # phoenix.js would send its first heartbeat after 60 s: the server times out first.
        open_socket(js, server.url, heartbeatIntervalMs=60_000, reconnectAfterMs=[60_000])
        assert js.wait_for("close")["code"] == 1002
