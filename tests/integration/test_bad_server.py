"""A misbehaving server: each case gives a typed event, and the client keeps working."""

from __future__ import annotations

from typing import Any

from phoenix_actors import (
    Client,
    ConnectOptions,
    EventRecorder,
    InternalError,
    Join,
    JoinOk,
    Push,
    PushOk,
    SocketError,
)
from phoenix_actors.server import Channel, ChannelSocket, LoopbackServer, Ok, Reply
from phoenix_actors.server.demo import demo_connect, demo_fetch, demo_routes, demo_socket_id

WAIT = 10.0
HOOKS: dict[str, Any] = {
    "connect": demo_connect,
    "socket_id": demo_socket_id,
    "presence_fetch": demo_fetch,
}


class Misbehaving(Channel):
    """``diffs``: n presence diffs and never a state; ``big``: a push of n bytes."""

    async def join(self, topic: str, payload: Any, socket: ChannelSocket) -> Ok:
        del topic, payload, socket
        return Ok({})

    async def handle_in(self, event: str, payload: Any, socket: ChannelSocket) -> Reply:
        if event == "diffs":
            for i in range(payload["n"]):
                joins = {f"u{i}": {"metas": [{"phx_ref": f"ref{i}"}]}}
                socket.push("presence_diff", {"joins": joins, "leaves": {}})
        elif event == "big":
            socket.push("big", {"blob": "x" * payload["n"]})
        return Reply("ok", {})


def server() -> LoopbackServer:
    return LoopbackServer({**demo_routes(), "bad:*": Misbehaving}, **HOOKS)


def test_presence_diffs_without_a_state_are_bounded_and_reported_once() -> None:
    with server() as srv, Client(srv.url) as client:
        events = EventRecorder()
        client.subscribe(events)
        client.ask(Join("bad:diffs"), timeout=WAIT)
        reply = client.ask(Push("bad:diffs", "diffs", {"n": 1100}), timeout=WAIT)
        assert isinstance(reply, PushOk)
        error = events.wait_for(InternalError, lambda e: e.topic == "bad:diffs", timeout=WAIT)
        assert "presence diffs without a state" in error.reason
        # the channel still works, and the warning is not repeated per diff
        assert isinstance(client.ask(Push("bad:diffs", "diffs", {"n": 5}), timeout=WAIT), PushOk)
        assert len(events.of_type(InternalError)) == 1


def test_a_frame_over_the_size_limit_is_an_error_then_a_reconnect() -> None:
    options = ConnectOptions(max_frame_size=10_000, reconnect_after=[0.05])
    with server() as srv, Client(srv.url, options=options) as client:
        events = EventRecorder()
        client.subscribe(events)
        client.ask(Join("bad:big"), timeout=WAIT)
        client.tell(Push("bad:big", "big", {"n": 50_000}))
        error = events.wait_for(SocketError, timeout=WAIT)
        assert error.error == "FrameTooLargeError"
        rejoined = events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
        assert rejoined.topic == "bad:big"
        small = client.ask(Push("bad:big", "big", {"n": 10}), timeout=WAIT)
        assert isinstance(small, PushOk)


def test_a_presence_state_of_the_wrong_shape_is_an_internal_error_not_a_crash() -> None:
    with server() as srv, Client(srv.url, params={"user_id": "me"}) as client:
        events = EventRecorder()
        client.subscribe(events)
        client.ask(Join("room:shape"), timeout=WAIT)
        srv.broadcast("room:shape", "presence_diff", {"joins": [1, 2], "leaves": "no"})
        error = events.wait_for(InternalError, timeout=WAIT)
        assert error.topic == "room:shape"
        assert isinstance(client.ask(Push("room:shape", "ping", {}), timeout=WAIT), PushOk)
