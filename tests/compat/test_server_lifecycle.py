"""The official phoenix.js client against our server: crashes, leaves, disconnects, auth.

Short phoenix.js schedules (``rejoinAfterMs``, ``reconnectAfterMs``,
``heartbeatIntervalMs``) keep each test well under a second of waiting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import ConnectInfo
from tests.jsclient import (  # noqa: F401 (fixtures)
    JsClientFactory,
    join,
    js_client_fixture,
    loopback_server_fixture,
    open_socket,
    push,
)

FAST: dict[str, Any] = {"rejoinAfterMs": [50], "reconnectAfterMs": [50]}


def test_crash_errors_the_channel_then_it_rejoins(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "crash"}, **FAST)
    first = join(js, "c", "room:lobby")
    first_ref = js.send("state")["channels"]["c"]["joinRef"]
    js.send("push", channel="c", event="crash", payload={}, timeout=60_000, push_id="crash")
    error = js.wait_for("channel_error", channel="c")
    assert error["payload"] == {"reason": "channel_crash"}
    msg = js.wait_for("msg", event="phx_error")
    assert (msg["join_ref"], msg["ref"]) == (first_ref, first_ref)
    rejoined = js.wait_for("join_reply", channel="c", after=first["seq"])
    assert (rejoined["status"], rejoined["response"]) == (
        "ok",
        {"joined": "lobby", "user_id": "crash"},
    )
    state = js.send("state")["channels"]["c"]
    assert state["state"] == "joined"
    assert state["joinRef"] != first_ref
    assert push(js, "c", "ping", {"back": True})["response"] == {"back": True}


def test_stop_replies_then_closes_the_channel(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, **FAST)
    join(js, "c", "room:lobby")
    join_ref = js.send("state")["channels"]["c"]["joinRef"]
    reply = push(js, "c", "stop", {})
    assert (reply["status"], reply["response"]) == ("ok", {"stopping": True})
    closed = js.wait_for("channel_close", channel="c")
    assert closed["payload"] == {}
    assert reply["seq"] < closed["seq"]
    msg = js.wait_for("msg", event="phx_close")
    assert (msg["join_ref"], msg["ref"]) == (join_ref, join_ref)
    assert js.send("state")["channels"]["c"]["state"] == "closed"


def test_leave_closes_the_channel(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url)
    join(js, "c", "room:lobby")
    join_ref = js.send("state")["channels"]["c"]["joinRef"]
    js.send("leave", channel="c")
    left = js.wait_for("leave_reply", channel="c")
    assert (left["status"], left["response"]) == ("ok", {})
    assert js.wait_for("channel_close", channel="c")["payload"] == "leave"
    # Phoenix answers the leave, then closes the channel with the join's ref.
    close = js.wait_for("msg", event="phx_close", topic="room:lobby")
    assert (close["join_ref"], close["ref"]) == (join_ref, join_ref)
    assert js.send("state")["sockets"]["s"]["channels"] == 0
    # The topic can be joined again afterwards.
    assert join(js, "again", "room:lobby")["status"] == "ok"


def test_duplicate_join_leaves_the_first_channel_object(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "dup"})
    join(js, "first", "room:lobby")
    second = join(js, "second", "room:lobby")
    assert second["status"] == "ok"
    js.wait_for("channel_close", channel="first")
    state = js.send("state")["channels"]
    assert state["first"]["state"] == "closed"
    assert state["second"]["state"] == "joined"
    assert push(js, "second", "ping", {"n": 2})["response"] == {"n": 2}
    assert js.select("channel_error") == []


def _forced_disconnect_then_rejoin(
    js_client: JsClientFactory, server: LoopbackServer, how: str
) -> None:
    js = js_client()
    open_socket(js, server.url, params={"user_id": "kick"}, **FAST)
    first = join(js, "c", "room:lobby")
    if how == "server":
        server.disconnect("user_socket:kick")
    else:
        js.send("push", channel="c", event="disconnect_me", payload={}, push_id="bye")
    closed = js.wait_for("close")
    assert closed["code"] == 1001
    assert js.wait_for("channel_error", channel="c")["payload"] == {
        "source": "transport",
        "reason": "connection_closed",
    }
    js.wait_for("open", after=closed["seq"])
    rejoined = js.wait_for("join_reply", channel="c", after=first["seq"])
    assert rejoined["status"] == "ok"
    assert push(js, "c", "ping", {"again": 1})["response"] == {"again": 1}


def test_server_disconnect_then_reconnect_and_rejoin(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    _forced_disconnect_then_rejoin(js_client, loopback_server, "server")


def test_disconnect_me_then_reconnect_and_rejoin(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    _forced_disconnect_then_rejoin(js_client, loopback_server, "push")


def test_disconnect_spares_other_users(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, socket="kick", params={"user_id": "kick"}, **FAST)
    open_socket(js, loopback_server.url, socket="stay", params={"user_id": "stay"}, **FAST)
    loopback_server.disconnect("user_socket:kick")
    js.wait_for("close", socket="kick")
    js.wait_for("open", socket="kick", count=2)
    assert js.select("close", socket="stay") == []


def test_heartbeats_are_answered(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, heartbeatIntervalMs=100, raw=True)
    third = js.wait_for("msg", topic="phoenix", count=3)
    replies = js.select("msg", topic="phoenix", after=0)[:3]
    assert third == replies[-1]
    for reply in replies:
        assert reply["event"] == "phx_reply"
        assert reply["payload"] == {"status": "ok", "response": {}}
        assert reply["join_ref"] is None
    sent = [json.loads(e["data"]) for e in js.select("raw_out") if '"heartbeat"' in e["data"]]
    assert [r["ref"] for r in replies] == [frame[1] for frame in sent[:3]]
    assert js.select("close") == []


def test_refused_connect_by_param(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    js.send("socket", url=loopback_server.url, params={"token": "bad"}, reconnectAfterMs=[60_000])
    js.send("connect")
    closed = js.wait_for("close")
    assert closed["code"] == 1006
    js.wait_for("error")
    assert js.select("open") == []


def test_auth_token_is_accepted_by_the_demo(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    """phoenix.js offers ``phoenix`` + the token; ``ws`` fails unless ``phoenix`` is echoed.

    The token's standard base64 has a ``+`` and padding (``bGV0bWVpbn5+fg==``); a ``/``
    would be refused by ``ws`` itself (not a token character in the header).
    """
    js = js_client()
    open_socket(js, loopback_server.url, authToken="letmein~~~", params={"user_id": "tok"})
    assert join(js, "c", "room:lobby")["response"] == {"joined": "lobby", "user_id": "tok"}


def test_auth_token_reaches_the_connect_hook(js_client: JsClientFactory) -> None:
    seen: list[str | None] = []

    def connect(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        seen.append(info.auth_token)
        if info.auth_token != "let me in":
            return None
        return {"user_id": params.get("user_id", "anon")}

    with LoopbackServer(connect=connect) as server:
        js = js_client()
        open_socket(js, server.url, socket="good", authToken="let me in", params={"user_id": "t"})
        js.send("socket", socket="bad", url=server.url, authToken="nope", reconnectAfterMs=[60_000])
        js.send("connect", socket="bad")
        assert js.wait_for("close", socket="bad")["code"] == 1006
        js.send("socket", socket="none", url=server.url, reconnectAfterMs=[60_000])
        js.send("connect", socket="none")
        assert js.wait_for("close", socket="none")["code"] == 1006
        assert js.select("open", socket="bad") == js.select("open", socket="none") == []
    assert sorted(seen, key=str) == sorted(["let me in", "nope", None], key=str)


def test_client_disconnect_then_connect_rejoins(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    open_socket(js, loopback_server.url, params={"user_id": "dc"}, **FAST)
    first = join(js, "c", "room:lobby")
    [info] = loopback_server.wait_for_sockets(1)
    assert (info.socket_id, info.vsn, info.topics) == ("user_socket:dc", "2.0.0", ("room:lobby",))
    js.send("disconnect", code=1000)
    closed = js.wait_for("close")
    assert (closed["code"], closed["wasClean"]) == (1000, True)
    js.wait_for("disconnected")
    loopback_server.wait_for_sockets(0)
    # The channel's untrack follows the socket's end (asynchronously, as Phoenix's tracker).
    loopback_server.wait_for(lambda: loopback_server.presence_list("room:lobby") == {})
    assert js.send("state")["channels"]["c"]["state"] == "errored"
    js.send("connect")
    rejoined = js.wait_for("join_reply", channel="c", after=first["seq"])
    assert rejoined["status"] == "ok"
    loopback_server.wait_for(lambda: set(loopback_server.presence_list("room:lobby")) == {"dc"})
