"""The client over long-poll, and its fallback from a refused websocket, on real sockets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phoenix_actors import (
    Client,
    ConnectOptions,
    EventRecorder,
    GetPresenceState,
    Join,
    JoinOk,
    Push,
    PushOk,
    SocketError,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.demo import demo_connect

WAIT = 10.0


def test_a_client_on_long_poll_joins_pushes_and_sees_presence() -> None:
    with LoopbackServer(longpoll_window=0.5) as server:
        options = ConnectOptions(transport="longpoll")
        with Client(server.url, params={"user_id": "lp"}, options=options) as client:
            joined = client.ask(Join("room:lp"), timeout=WAIT)
            assert isinstance(joined, JoinOk)
            reply = client.ask(Push("room:lp", "whoami", {}), timeout=WAIT)
            assert isinstance(reply, PushOk)
            assert reply.response["transport"] == "longpoll"
            assert [p.id for p in client.ask(GetPresenceState("room:lp"))] == ["lp"]
            binary = client.ask(Push("room:lp", "binary", b"\x00\xff"), timeout=WAIT)
            assert isinstance(binary, PushOk)
            assert binary.response == b"\x00\xff"


def websocket_refused(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
    """Refuse websocket connections (403); long-poll ones are the demo's."""
    if info.transport == "websocket":
        return None
    return demo_connect(params, info)


def test_a_refused_websocket_falls_back_to_long_poll() -> None:
    with LoopbackServer(connect=websocket_refused, longpoll_window=0.5) as server:
        recorder = EventRecorder()
        options = ConnectOptions(longpoll_fallback=2.0)
        with Client(server.url, params={"user_id": "fb"}, options=options) as client:
            client.subscribe(recorder)
            reply = client.ask(Push("room:fb", "whoami", {}), timeout=WAIT)
            assert isinstance(reply, PushOk)
            assert reply.response["transport"] == "longpoll"
            error = recorder.wait_for(SocketError, timeout=WAIT)
            assert error.status == 403
