"""Channel semantics over real loopback: literal frames in, exact frames out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from phoenix_actors.server import LoopbackServer
from tests.server.rawclient import Raw, binary_parts, connect, run

OK_EMPTY = {"status": "ok", "response": {}}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


async def joined(c: Raw, topic: str = "room:lobby", ref: str = "1") -> list[Any]:
    """Join and read the reply, presence_state and our own presence_diff."""
    reply = await c.join(topic, ref)
    assert reply[4]["status"] == "ok", reply
    state = await c.recv()
    assert state[3] == "presence_state"
    diff = await c.recv()
    assert diff[3] == "presence_diff"
    return [reply, state, diff]


def test_heartbeat_is_answered_with_a_null_join_ref(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await c.send(None, "7", "phoenix", "heartbeat", {})
            assert await c.recv() == [None, "7", "phoenix", "phx_reply", OK_EMPTY]

    run(body)


def test_join_replies_then_pushes_presence_state_then_the_diff(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=u1&vsn=2.0.0") as c:
            reply, state, diff = await joined(c, "room:lobby", "3")
            assert reply == [
                "3",
                "3",
                "room:lobby",
                "phx_reply",
                {"status": "ok", "response": {"joined": "lobby", "user_id": "u1"}},
            ]
            assert state[:3] == ["3", None, "room:lobby"]
            (entry,) = state[4].values()
            assert list(state[4]) == ["u1"]
            assert entry["user"] == {"name": "user-u1"}
            (meta,) = entry["metas"]
            assert set(meta) == {"online_at", "phx_ref"}
            assert isinstance(meta["online_at"], int)
            assert diff == [
                None,
                None,
                "room:lobby",
                "presence_diff",
                {"joins": {"u1": {"metas": [meta], "user": {"name": "user-u1"}}}, "leaves": {}},
            ]

    run(body)


def test_join_without_user_id_gets_a_random_8_char_id(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            reply = await c.join("room:x", "1")
            user_id = reply[4]["response"]["user_id"]
            assert len(user_id) == 8

    run(body)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("room:lobby", {"reject": True}, "rejected"),
        ("room:private", {}, "unauthorized"),
        ("room:private", {"password": "nope"}, "unauthorized"),
    ],
)
def test_refused_joins(server: LoopbackServer, topic: str, payload: Any, reason: str) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            assert await c.join(topic, "1", payload) == [
                "1",
                "1",
                topic,
                "phx_reply",
                {"status": "error", "response": {"reason": reason}},
            ]
            # a refused join is not a channel: events get unmatched topic
            await c.send("1", "2", topic, "ping", {})
            assert await c.recv() == [
                None,
                "2",
                topic,
                "phx_reply",
                {"status": "error", "response": {"reason": "unmatched topic"}},
            ]

    run(body)


def test_private_room_with_the_password_joins(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=p&vsn=2.0.0") as c:
            reply = await c.join("room:private", "1", {"password": "secret"})
            assert reply[4] == {"status": "ok", "response": {"joined": "private", "user_id": "p"}}

    run(body)


def test_unroutable_join_and_unjoined_events(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            unmatched = {"status": "error", "response": {"reason": "unmatched topic"}}
            await c.send("1", "1", "nowhere", "phx_join", {})
            assert await c.recv() == [None, "1", "nowhere", "phx_reply", unmatched]
            await c.send("5", "2", "room:never", "ping", {})
            assert await c.recv() == [None, "2", "room:never", "phx_reply", unmatched]
            await c.send("5", "3", "room:never", "phx_leave", {})
            assert await c.recv() == ["5", "3", "room:never", "phx_reply", OK_EMPTY]

    run(body)


def test_simple_events(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=ev&vsn=2.0.0") as c:
            await joined(c)
            t = "room:lobby"
            await c.send("1", "2", t, "ping", {"a": [1, 2]})
            assert await c.recv() == [
                "1",
                "2",
                t,
                "phx_reply",
                {"status": "ok", "response": {"a": [1, 2]}},
            ]
            await c.send("1", "3", t, "error_reply", {})
            assert await c.recv() == [
                "1",
                "3",
                t,
                "phx_reply",
                {"status": "error", "response": {"reason": "asked"}},
            ]
            await c.send("1", "4", t, "nope", {})
            assert await c.recv() == [
                "1",
                "4",
                t,
                "phx_reply",
                {"status": "error", "response": {"reason": "unknown event", "event": "nope"}},
            ]
            await c.send("1", "5", t, "noreply", {})
            await c.send("1", "6", t, "ping", {})
            assert (await c.recv())[1] == "6"  # nothing came for "5"
            await c.send("1", "7", t, "push_back", {"event": "boo", "x": 1})
            assert await c.recv() == ["1", None, t, "boo", {"event": "boo", "x": 1}]
            assert await c.recv() == ["1", "7", t, "phx_reply", OK_EMPTY]
            await c.send("1", "8", t, "push_back", {})
            assert await c.recv() == ["1", None, t, "pushed", {}]
            assert (await c.recv())[1] == "8"
            await c.send("1", "9", t, "push_many", {"n": 3})
            frames = [await c.recv() for _ in range(4)]
            assert frames == [
                ["1", None, t, "seq", {"i": 1}],
                ["1", None, t, "seq", {"i": 2}],
                ["1", None, t, "seq", {"i": 3}],
                ["1", "9", t, "phx_reply", {"status": "ok", "response": {"sent": 3}}],
            ]
            await c.send("1", "10", t, "push_many", {})
            frames = await c.recv_until(lambda f: f[3] == "phx_reply")
            assert len(frames) == 11
            assert frames[-1][4]["response"] == {"sent": 10}

    run(body)


def test_binary_frames(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c)
            await c.push_binary("1", "2", "room:lobby", "ping", b"\x00\xffraw")
            frame = await c.recv()
            assert isinstance(frame, bytes)
            assert binary_parts(frame) == (1, ["1", "2", "room:lobby", "ok"], b"\x00\xffraw")
            await c.push_binary("1", "3", "room:lobby", "binary", b"\x01\x02")
            assert binary_parts(await c.recv()) == (1, ["1", "3", "room:lobby", "ok"], b"\x01\x02")
            await c.send("1", "4", "room:lobby", "binary", {"not": "bytes"})
            assert await c.recv() == [
                "1",
                "4",
                "room:lobby",
                "phx_reply",
                {"status": "error", "response": {"reason": "expected binary payload"}},
            ]
            # a binary shout is a kind-2 broadcast
            await c.push_binary("1", "5", "room:lobby", "shout", b"\x07")
            assert binary_parts(await c.recv()) == (2, ["room:lobby", "shout"], b"\x07")

    run(body)


def test_server_push_of_bytes_is_binary_kind_0(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c, "room:kind0", "3")
            await c.push_binary("3", "4", "room:kind0", "push_back", b"\x10\x20")
            assert binary_parts(await c.recv()) == (0, ["3", "room:kind0", "pushed"], b"\x10\x20")
            assert await c.recv() == ["3", "4", "room:kind0", "phx_reply", OK_EMPTY]

    run(body)


def test_shout_reaches_sender_and_others_shout_others_skips_sender(
    server: LoopbackServer,
) -> None:
    async def body() -> None:
        async with (
            connect(server.url, "user_id=s1&vsn=2.0.0") as a,
            connect(server.url, "user_id=s2&vsn=2.0.0") as b,
        ):
            await joined(a, "room:shout")
            await joined(b, "room:shout")
            await a.recv()  # b's presence join diff
            await a.send("1", "2", "room:shout", "shout", {"m": 1})
            expected = [None, None, "room:shout", "shout", {"m": 1}]
            assert await a.recv() == expected
            assert await b.recv() == expected
            await a.send("1", "3", "room:shout", "shout_others", {"m": 2})
            assert await b.recv() == [None, None, "room:shout", "shout", {"m": 2}]
            await a.send("1", "4", "room:shout", "ping", {})  # barrier on a's socket
            assert (await a.recv())[1] == "4"

    run(body)


def test_slow_blocks_the_channel_async_reply_does_not(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c)
            t = "room:lobby"
            await c.send("1", "2", t, "slow", {"ms": 150})
            await c.send("1", "3", t, "ping", {})
            assert (await c.recv())[1:5] == [
                "2",
                t,
                "phx_reply",
                {"status": "ok", "response": {"ms": 150}},
            ]
            assert (await c.recv())[1] == "3"
            await c.send("1", "4", t, "async_reply", {"ms": 150})
            await c.send("1", "5", t, "ping", {})
            assert (await c.recv())[1] == "5"
            assert await c.recv() == [
                "1",
                "4",
                t,
                "phx_reply",
                {"status": "ok", "response": {"ms": 150}},
            ]

    run(body)


def test_slow_in_one_channel_does_not_block_another(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c, "room:one", "1")
            await joined(c, "room:two", "2")
            await c.send("1", "3", "room:one", "slow", {"ms": 300})
            await c.send("2", "4", "room:two", "ping", {})
            assert (await c.recv())[1] == "4"
            assert (await c.recv())[1] == "3"

    run(body)


def test_crash_sends_phx_error_and_the_topic_is_gone(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c, connect(server.url) as other:
            await joined(c, "room:crash", "5")
            await joined(other, "room:crash2", "1")
            await c.send("5", "6", "room:crash", "crash", {})
            assert await c.recv() == [
                "5",
                "5",
                "room:crash",
                "phx_error",
                {"reason": "channel_crash"},
            ]
            await c.send("5", "7", "room:crash", "ping", {})
            assert await c.recv() == [
                None,
                "7",
                "room:crash",
                "phx_reply",
                {"status": "error", "response": {"reason": "unmatched topic"}},
            ]
            # rejoin works; the other socket never noticed
            assert (await c.join("room:crash", "8"))[4]["status"] == "ok"
            await other.send("1", "2", "room:crash2", "ping", {})
            assert (await other.recv())[1] == "2"

    run(body)


def test_stop_replies_then_closes(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c, "room:stop", "4")
            await c.send("4", "5", "room:stop", "stop", {})
            assert await c.recv() == [
                "4",
                "5",
                "room:stop",
                "phx_reply",
                {"status": "ok", "response": {"stopping": True}},
            ]
            assert await c.recv() == ["4", "4", "room:stop", "phx_close", {}]
            await c.send("4", "6", "room:stop", "ping", {})
            assert (await c.recv())[4]["response"] == {"reason": "unmatched topic"}

    run(body)


def test_leave_replies_ok_then_phx_close(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c, "room:leave", "2")
            await c.send("2", "3", "room:leave", "phx_leave", {})
            assert await c.recv() == ["2", "3", "room:leave", "phx_reply", OK_EMPTY]
            assert await c.recv() == ["2", "2", "room:leave", "phx_close", {}]

    run(body)


def test_duplicate_join_reply_then_close_with_the_old_join_ref(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=dup&vsn=2.0.0") as c:
            await joined(c, "room:dup", "1")
            await c.send("2", "2", "room:dup", "phx_join", {})
            reply = await c.recv()
            assert reply[:4] == ["2", "2", "room:dup", "phx_reply"]
            assert reply[4]["status"] == "ok"
            assert await c.recv() == ["1", "1", "room:dup", "phx_close", {}]
            # the new channel answers with its own join_ref
            await c.send("2", "3", "room:dup", "ping", {})
            assert (await c.recv_until(lambda f: f[3] == "phx_reply"))[-1][:2] == ["2", "3"]

    run(body)


def test_stale_join_ref_is_ignored_null_is_accepted(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await joined(c, "room:stale", "1")
            await c.send("99", "2", "room:stale", "ping", {"stale": True})
            await c.send("99", "3", "room:stale", "phx_leave", {})
            await c.send(None, "4", "room:stale", "ping", {})
            # the first reply is for "4": "2" and "3" were dropped
            assert await c.recv() == ["1", "4", "room:stale", "phx_reply", OK_EMPTY]

    run(body)


def test_update_meta_diff_has_old_meta_in_leaves_new_in_joins(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=um&vsn=2.0.0") as c:
            _, state, _ = await joined(c, "room:meta", "1")
            old = state[4]["um"]["metas"][0]
            await c.send("1", "2", "room:meta", "update_meta", {"status": "away"})
            assert await c.recv() == [
                "1",
                "2",
                "room:meta",
                "phx_reply",
                {"status": "ok", "response": {"updated": True}},
            ]
            diff = await c.recv()
            assert diff[3] == "presence_diff"
            assert diff[4]["leaves"] == {"um": {"metas": [old], "user": {"name": "user-um"}}}
            (new,) = diff[4]["joins"]["um"]["metas"]
            assert diff[4]["joins"]["um"]["user"] == {"name": "user-um"}
            assert new["status"] == "away"
            assert new["online_at"] == old["online_at"]
            assert new["phx_ref_prev"] == old["phx_ref"]
            assert new["phx_ref"] != old["phx_ref"]
            assert server.presence_list("room:meta")["um"]["metas"] == [new]

    run(body)


def test_presence_leaves_when_a_socket_goes_away(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=stay&vsn=2.0.0") as b:
            async with connect(server.url, "user_id=go&vsn=2.0.0") as a:
                await joined(a, "room:pres", "1")
                await joined(b, "room:pres", "1")
                assert set(b_state := server.presence_list("room:pres")) == {"go", "stay"}
                assert b_state["go"]["user"] == {"name": "user-go"}
            diff = await b.recv()
            assert diff[3] == "presence_diff"
            assert diff[4]["joins"] == {}
            assert list(diff[4]["leaves"]) == ["go"]
            assert diff[4]["leaves"]["go"]["user"] == {"name": "user-go"}
            server.wait_for(lambda: "go" not in server.presence_list("room:pres"))

    run(body)


@pytest.mark.parametrize(
    ("query", "serializer"),
    [
        ("user_id=w&vsn=2.0.0", "Phoenix.Socket.V2.JSONSerializer"),
        ("user_id=w&vsn=1.0.0", "Phoenix.Socket.V1.JSONSerializer"),
    ],
)
def test_whoami(server: LoopbackServer, query: str, serializer: str) -> None:
    async def body() -> None:
        async with connect(server.url, query) as c:
            await c.send("1", "1", "room:who", "phx_join", {})
            await c.reply_to("1")
            await c.send("1", "2", "room:who", "whoami", {})
            reply = await c.reply_to("2")
            response = (reply[4] if isinstance(reply, list) else reply["payload"])["response"]
            params = dict(p.split("=") for p in query.split("&"))
            assert response == {
                "user_id": "w",
                "socket_id": "user_socket:w",
                "topic": "room:who",
                "join_ref": "1",
                "params": params,
                "transport": "websocket",
                "serializer": serializer,
            }

    run(body)


def test_v1_frames_are_objects_without_join_ref(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=v1") as c:  # no vsn: V1
            await c.send("1", "1", "room:v1", "phx_join", {})
            assert await c.recv() == {
                "topic": "room:v1",
                "event": "phx_reply",
                "ref": "1",
                "payload": {"status": "ok", "response": {"joined": "v1", "user_id": "v1"}},
            }
            state = await c.recv()
            assert set(state) == {"topic", "event", "payload", "ref"}
            assert (state["event"], state["ref"]) == ("presence_state", None)
            await c.recv()  # diff
            await c.send(None, "2", "phoenix", "heartbeat", {})
            assert await c.recv() == {
                "topic": "phoenix",
                "event": "phx_reply",
                "ref": "2",
                "payload": OK_EMPTY,
            }
            await c.send("1", "3", "room:v1", "crash", {})
            assert await c.recv() == {
                "topic": "room:v1",
                "event": "phx_error",
                "ref": "1",
                "payload": {"reason": "channel_crash"},
            }

    run(body)


def test_disconnect_me_closes_every_socket_of_the_user_with_1001(server: LoopbackServer) -> None:
    async def body() -> None:
        async with (
            connect(server.url, "user_id=dm&vsn=2.0.0") as a,
            connect(server.url, "user_id=dm&vsn=2.0.0") as b,
            connect(server.url, "user_id=other&vsn=2.0.0") as other,
        ):
            await joined(a, "room:dm", "1")
            await a.send("1", "2", "room:dm", "disconnect_me", {})
            assert (await a.closed()).code == 1001
            assert (await b.closed()).code == 1001
            await other.send(None, "1", "phoenix", "heartbeat", {})
            assert (await other.recv())[1] == "1"

    run(body)


def test_bench_echo_and_fanout(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as a, connect(server.url) as b:
            for c in (a, b):
                assert await c.join("bench:1", "1") == ["1", "1", "bench:1", "phx_reply", OK_EMPTY]
            await a.send("1", "2", "bench:1", "echo", {"x": 1})
            assert await a.recv() == [
                "1",
                "2",
                "bench:1",
                "phx_reply",
                {"status": "ok", "response": {"x": 1}},
            ]
            await a.send("1", "3", "bench:1", "fanout", {"n": 3})
            ticks = [[None, None, "bench:1", "tick", {"i": i}] for i in (1, 2, 3)]
            assert [await a.recv() for _ in range(4)] == [
                *ticks,
                ["1", "3", "bench:1", "phx_reply", {"status": "ok", "response": {"sent": 3}}],
            ]
            assert [await b.recv() for _ in range(3)] == ticks

    run(body)


def test_too_many_channels(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            for i in range(100):
                await c.send(str(i), str(i), f"bench:{i}", "phx_join", {})
            for _ in range(100):
                assert (await c.recv())[4] == OK_EMPTY
            await c.send("x", "x", "bench:extra", "phx_join", {})
            assert await c.recv() == [
                "x",
                "x",
                "bench:extra",
                "phx_reply",
                {"status": "error", "response": {"reason": "too many channels joined"}},
            ]
            # rejoining an already joined topic is still allowed at the limit
            await c.send("y", "y", "bench:0", "phx_join", {})
            assert (await c.recv())[:2] == ["y", "y"]
            assert await c.recv() == ["0", "0", "bench:0", "phx_close", {}]

    run(body)


def test_server_broadcast_and_sockets(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "user_id=sb&vsn=2.0.0") as c:
            await joined(c, "room:sb", "1")
            assert server.broadcast("room:sb", "news", {"n": 1}) == 1
            assert await c.recv() == [None, None, "room:sb", "news", {"n": 1}]
            info = [s for s in server.sockets() if s.socket_id == "user_socket:sb"]
            assert len(info) == 1
            assert (info[0].vsn, info[0].transport, info[0].topics) == (
                "2.0.0",
                "websocket",
                ("room:sb",),
            )
            assert info[0].params == {"user_id": "sb", "vsn": "2.0.0"}
            assert server.broadcast("room:nobody", "news", {}) == 0

    run(body)
