"""The official phoenix.js client against our server's fault injection and restarts.

phoenix.js must see each fault the way it would see it from Phoenix: a missing
heartbeat reply is a heartbeat timeout, a dropped reply a push timeout, a close
code a close code; and it must recover (reconnect, rejoin) afterwards.
"""

from __future__ import annotations

from typing import Any

from phoenix_actors.server import LoopbackServer
from tests.jsclient import (  # noqa: F401 (fixtures)
    JsClient,
    JsClientFactory,
    join,
    js_client_fixture,
    loopback_server_fixture,
    open_socket,
    push,
)

FAST: dict[str, Any] = {"rejoinAfterMs": [50], "reconnectAfterMs": [50]}


def _joined(js: JsClient, server: LoopbackServer, **options: Any) -> int:
    """Open socket ``s`` as user ``f``, join ``room:lobby`` as ``c``; return the reply's seq."""
    open_socket(js, server.url, params={"user_id": "f"}, **FAST, **options)
    reply = join(js, "c", "room:lobby")
    assert reply["status"] == "ok"
    seq: int = reply["seq"]
    return seq


def _recovers(js: JsClient, *, after: int) -> None:
    """The socket reopens, the channel rejoins and answers pushes again."""
    js.wait_for("open", after=after)
    assert js.wait_for("join_reply", channel="c", after=after)["status"] == "ok"
    assert push(js, "c", "ping", {"back": 1})["response"] == {"back": 1}


def test_unanswered_heartbeat_closes_1000_then_reconnects(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, heartbeatIntervalMs=100, reconnectAfterMs=[300])
    join(js, "c", "room:lobby")
    loopback_server.faults.stop_heartbeats()
    error = js.wait_for("channel_error", channel="c")
    assert error["payload"] == {"source": "transport", "reason": "heartbeat_timeout"}
    closed = js.wait_for("close")
    # phoenix.js closed with 1000 "heartbeat timeout"; the event reports the server's
    # answering close frame, which echoes the code (RFC 6455 5.5.1; the reason is optional).
    assert closed["code"] == 1000
    loopback_server.faults.reset()  # well before the reconnect, 300 ms after the close
    _recovers(js, after=closed["seq"])


def test_dropped_reply_is_a_push_timeout(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _joined(js, loopback_server)
    loopback_server.faults.drop_replies(1)
    lost = push(js, "c", "ping", {"n": 1}, timeout=150)
    assert (lost["status"], lost["response"]) == ("timeout", {})
    assert push(js, "c", "ping", {"n": 2})["response"] == {"n": 2}


def test_delayed_reply_outlives_a_short_push_timeout(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _joined(js, loopback_server)
    loopback_server.faults.delay_replies(0.3)
    late = push(js, "c", "ping", {"n": 1}, timeout=100)
    assert late["status"] == "timeout"
    on_time = push(js, "c", "ping", {"n": 2}, timeout=3000)
    assert on_time["response"] == {"n": 2}
    loopback_server.faults.reset()


def test_dropped_join_times_out_then_the_rejoin_succeeds(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "f"}, **FAST)
    loopback_server.faults.drop_next_frames(1)
    first = join(js, "c", "room:lobby", timeout=200)
    assert first["status"] == "timeout"
    second = js.wait_for("join_reply", channel="c", after=first["seq"])
    assert (second["status"], second["response"]) == ("ok", {"joined": "lobby", "user_id": "f"})
    # phoenix.js sent a phx_leave for the timed-out join; the server answered it
    # (ok on a topic not joined) and did not disturb the new join.
    assert push(js, "c", "ping", {})["status"] == "ok"


def test_close_all_code_and_reason_reach_the_client(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _joined(js, loopback_server)
    loopback_server.faults.close_all(1011, "boom")
    closed = js.wait_for("close")
    assert (closed["code"], closed["reason"], closed["wasClean"]) == (1011, "boom", True)
    _recovers(js, after=closed["seq"])


def test_abort_all_is_an_unclean_close(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _joined(js, loopback_server)
    loopback_server.faults.abort_all()
    closed = js.wait_for("close")
    assert (closed["code"], closed["wasClean"]) == (1006, False)
    _recovers(js, after=closed["seq"])


def test_restart_closes_1012_and_clients_come_back(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    _joined(js, loopback_server)
    port = loopback_server.port
    loopback_server.restart()
    assert loopback_server.port == port
    closed = js.wait_for("close")
    assert closed["code"] == 1012
    _recovers(js, after=closed["seq"])


def test_presence_follows_a_forced_disconnect(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    for user in ("ann", "ben"):
        open_socket(js, loopback_server.url, socket=user, params={"user_id": user}, **FAST)
        js.send("channel", socket=user, channel=user, topic="room:lobby", params={})
        js.send("presence", channel=user)
        js.send("join", channel=user)
    js.wait_for(lambda e: e["type"] == "presence_sync" and set(e["list"]) == {"ann", "ben"})
    mark = js.mark()
    loopback_server.disconnect("user_socket:ben")
    left = js.wait_for("presence_leave", channel="ann", key="ben", after=mark)
    assert left["current"]["metas"] == []
    back = js.wait_for("presence_join", channel="ann", key="ben", after=left["seq"])
    assert back["current"] is None
    synced = js.wait_for(
        lambda e: e["type"] == "presence_sync" and set(e["list"]) == {"ann", "ben"},
        after=back["seq"] - 1,
        channel="ann",
    )
    server_view = loopback_server.presence_list("room:lobby")
    assert synced["list"] == server_view
