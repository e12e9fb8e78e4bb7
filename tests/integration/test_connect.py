"""The socket end to end: connecting, options, params, refusal, disconnects, serializers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from phoenix_actors import (
    AddConnectOptions,
    Client,
    Connect,
    ConnectOptions,
    Disconnect,
    GetChannelJoined,
    GetConnectionState,
    GetDisconnectReason,
    GetEndpointURL,
    GetIsConnected,
    GetJoinedChannels,
    GetProtocol,
    GetQueuedChannels,
    GetSocketState,
    GetSocketStateString,
    Join,
    JoinConfig,
    JoinError,
    JoinOk,
    Push,
    PushOk,
    Refusal,
    SetConnectOptions,
    SetConnectParams,
    SetJoinConfig,
    SocketClosed,
    SocketError,
    SocketOpened,
    SocketState,
)
from phoenix_actors.server import ConnectInfo, LoopbackServer
from phoenix_actors.server.demo import demo_connect
from phoenix_actors.testing import EventRecorder
from tests.integration.conftest import LOBBY, WAIT, MakeClient, whoami


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- connecting ------------------------------------------------------------------------


def test_nothing_connects_before_it_is_needed(connect: MakeClient, server: LoopbackServer) -> None:
    s = connect()
    assert s.client.ask(GetSocketState()) is SocketState.DISCONNECTED
    assert s.client.ask(GetIsConnected()) is False
    assert server.sockets() == []


def test_first_join_connects_the_socket(connect: MakeClient, server: LoopbackServer) -> None:
    s = connect()
    reply = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(reply, JoinOk)
    assert reply.response["joined"] == "lobby"
    assert s.client.ask(GetIsConnected()) is True
    assert s.client.ask(GetSocketState()) is SocketState.CONNECTED
    assert s.client.ask(GetSocketStateString()) == "connected"
    assert s.client.ask(GetConnectionState()) == "open"
    assert len(server.sockets()) == 1


def test_first_push_connects_and_joins(connect: MakeClient) -> None:
    s = connect()
    reply = s.client.ask(Push(LOBBY, "ping", {"n": 1}), timeout=WAIT)
    assert isinstance(reply, PushOk)
    assert reply.response == {"n": 1}
    assert s.events.wait_for(JoinOk, timeout=WAIT).topic == LOBBY
    assert s.client.ask(GetChannelJoined(LOBBY)) is True


def test_explicit_connect_opens_the_socket_without_channels(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    s.client.tell(Connect())
    opened = s.events.wait_for(SocketOpened, timeout=WAIT)
    assert opened.url == server.url + "/websocket"
    server.wait_for_sockets(1, timeout=WAIT)
    assert s.client.ask(GetJoinedChannels()) == []
    assert s.client.ask(GetProtocol()) == "ws"


# --- options ---------------------------------------------------------------------------


def test_set_connect_options_replaces_every_option(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(vsn="1.0.0"), fast=False)
    assert query(s.client.ask(GetEndpointURL()))["vsn"] == ["1.0.0"]
    s.client.ask(SetConnectOptions(ConnectOptions(timeout=0.3)))
    # vsn was not given again: back to its default
    assert query(s.client.ask(GetEndpointURL()))["vsn"] == ["2.0.0"]


def test_add_connect_options_overrides_like_for_like_only(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(vsn="1.0.0", timeout=5.0), fast=False)
    s.client.ask(AddConnectOptions(ConnectOptions(timeout=0.3)))
    assert query(s.client.ask(GetEndpointURL()))["vsn"] == ["1.0.0"]
    # the added timeout rules the next push (noreply never answers)
    outcome = s.client.ask(Push(LOBBY, "noreply"), timeout=3.0)
    assert type(outcome).__name__ == "PushTimeout"
    assert whoami(s)["serializer"] == "Phoenix.Socket.V1.JSONSerializer"


def test_added_heartbeat_interval_detects_a_silent_server(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    s.client.ask(AddConnectOptions(ConnectOptions(heartbeat_interval=0.1)))
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    server.faults.stop_heartbeats()
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.reason == "heartbeat timeout"
    assert closed.will_reconnect is True
    server.faults.reset()
    assert s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT).topic == LOBBY


# --- params ----------------------------------------------------------------------------


def test_connect_params_reach_the_server(connect: MakeClient) -> None:
    s = connect(params={"user_id": "alice", "room": "blue"})
    me = whoami(s)
    assert me["user_id"] == "alice"
    assert me["params"]["room"] == "blue"
    assert me["socket_id"] == "user_socket:alice"


def test_set_connect_params_before_connecting_are_used(connect: MakeClient) -> None:
    s = connect(params={"user_id": "old"})
    s.client.ask(SetConnectParams({"user_id": "new"}))
    assert whoami(s)["user_id"] == "new"


def test_callable_params_are_evaluated_again_on_reconnect(
    connect: MakeClient, server: LoopbackServer
) -> None:
    state = {"n": 1}

    def params() -> Mapping[str, Any]:
        return {"user_id": "carol", "n": str(state["n"])}

    s = connect(params=params)
    assert whoami(s)["params"]["n"] == "1"
    state["n"] = 2
    assert server.disconnect("user_socket:carol") == 1
    s.events.wait_for(SocketClosed, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert whoami(s)["params"]["n"] == "2"


def test_a_refused_connect_reports_403_and_stops_the_reconnect_storm(
    connect: MakeClient,
) -> None:
    # fixed params cannot change: retrying would replay the same refused credentials
    s = connect(params={"token": "bad"}, options=ConnectOptions(reconnect_after=[0.05]))
    s.client.tell(Connect())
    error = s.events.wait_for(SocketError, timeout=WAIT)
    assert error.status == 403
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.will_reconnect is False
    assert closed.reconnect_stopped == "the reconnect policy stopped after HTTP 403"
    assert s.client.ask(GetIsConnected()) is False
    s.client.tell(Connect())  # an explicit connect tries again
    assert s.events.wait_for(SocketError, timeout=WAIT).status == 403


def test_a_token_provider_is_asked_again_after_a_refusal_and_the_socket_opens(
    server: LoopbackServer,
) -> None:
    seen: list[Refusal | None] = []

    def params(refusal: Refusal | None) -> dict[str, str]:
        seen.append(refusal)
        # the first token is stale (the server refuses it); a refusal gets a fresh one
        return {"user_id": "renewed", "token": "bad" if refusal is None else "fresh"}

    options = ConnectOptions(timeout=2.0, reconnect_after=[0.05], rejoin_after=[0.05])
    with Client(server.url, params=params, options=options) as client:
        events = EventRecorder()
        client.subscribe(events)
        joined = client.ask(Join(LOBBY), timeout=WAIT)
        assert isinstance(joined, JoinOk)
        assert events.wait_for(SocketError, timeout=WAIT).status == 403
        closed = events.wait_for(SocketClosed, timeout=WAIT)
        assert closed.will_reconnect is True
        assert seen[0] is None
        assert seen[1] == Refusal(status=403, attempt=1)
        assert whoami_of(client)["user_id"] == "renewed"


def whoami_of(client: Client) -> dict[str, Any]:
    reply = client.ask(Push(LOBBY, "whoami"), timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    response: dict[str, Any] = reply.response
    return response


def test_a_reconnect_policy_decides_and_none_stops(connect: MakeClient) -> None:
    asked: list[tuple[int | None, int | None, int]] = []

    def policy(code: int | None, status: int | None, attempt: int) -> float | None:
        asked.append((code, status, attempt))
        return 0.05 if attempt < 3 else None

    s = connect(params={"token": "bad"}, options=ConnectOptions(reconnect_policy=policy))
    s.client.tell(Connect())
    for _ in range(3):
        s.events.wait_for(SocketError, timeout=WAIT)
    last = s.events.wait_for(SocketClosed, lambda e: not e.will_reconnect, timeout=WAIT)
    assert last.reconnect_stopped == "the reconnect policy stopped after HTTP 403"
    assert asked == [(1006, 403, 1), (1006, 403, 2), (1006, 403, 3)]


# --- disconnecting ---------------------------------------------------------------------


def test_disconnect_sends_the_close_code_and_keeps_the_reason(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    s.client.ask(Disconnect(code=4000, reason="going home"))
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.reason, closed.will_reconnect) == (4000, "going home", False)
    assert s.client.ask(GetDisconnectReason()) == "going home"
    assert s.client.ask(GetSocketState()) is SocketState.DISCONNECTED
    server.wait_for_sockets(0, timeout=WAIT)
    # no reconnect follows: a later explicit Connect opens again
    s.client.tell(Connect())
    s.events.wait_for(SocketOpened, timeout=WAIT)
    s.events.wait_for(SocketOpened, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)


def test_disconnect_without_reset_keeps_channels_for_the_next_connect(
    connect: MakeClient,
) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    s.client.ask(Disconnect())
    assert s.client.ask(GetQueuedChannels()) == [LOBBY]
    s.client.ask(Connect())
    rejoined = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoined.topic == LOBBY


def test_disconnect_and_reset_forgets_channels_configs_options_and_params(
    connect: MakeClient,
) -> None:
    s = connect(params={"user_id": "dave"}, options=ConnectOptions(vsn="1.0.0"))
    s.client.ask(SetJoinConfig(JoinConfig(topic="room:private", payload={"password": "secret"})))
    assert isinstance(s.client.ask(Join("room:private"), timeout=WAIT), JoinOk)
    s.client.ask(Disconnect(reset=True))
    assert s.client.ask(GetJoinedChannels()) == []
    assert s.client.ask(GetQueuedChannels()) == []
    url = query(s.client.ask(GetEndpointURL()))
    assert url == {"vsn": ["2.0.0"]}
    refused = s.client.ask(Join("room:private"), timeout=WAIT)
    assert isinstance(refused, JoinError)
    assert refused.response == {"reason": "unauthorized"}


# --- serializer, token, headers ---------------------------------------------------------


def test_v1_serializer_is_negotiated_by_vsn(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(vsn="1.0.0"))
    assert query(s.client.ask(GetEndpointURL()))["vsn"] == ["1.0.0"]
    me = whoami(s)
    assert me["serializer"] == "Phoenix.Socket.V1.JSONSerializer"
    assert me["params"]["vsn"] == "1.0.0"


def test_v2_serializer_is_the_default(connect: MakeClient) -> None:
    s = connect()
    assert whoami(s)["serializer"] == "Phoenix.Socket.V2.JSONSerializer"


@pytest.mark.parametrize("token", ["tok-123", "callable"])
def test_auth_token_and_headers_reach_the_connect_hook(connect: MakeClient, token: str) -> None:
    seen: list[ConnectInfo] = []

    def hook(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        seen.append(info)
        return demo_connect(params, info)

    with LoopbackServer(connect=hook) as srv:
        options = ConnectOptions(
            auth_token=(lambda: "tok-fn") if token == "callable" else token,
            headers={"X-Trace": "abc"},
        )
        s = connect(srv.url, options=options)
        assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
        s.client.stop()
    assert len(seen) == 1
    assert seen[0].auth_token == ("tok-fn" if token == "callable" else token)
    assert seen[0].headers.get("X-Trace") == "abc"
