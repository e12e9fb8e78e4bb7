"""The socket against a misbehaving server: lost TCP, restarts, forced and clean closes.

PROTOCOL.md §4 "On close" / §9.11-12: reconnect iff the close was not
deliberate and its code is not 1000; channels turn errored on every loss and
rejoin, with a fresh join_ref, once the socket is open again.
"""

from __future__ import annotations

import pytest

from phoenix_actors import (
    ChannelErrored,
    Connect,
    ConnectOptions,
    Disconnect,
    GetIsConnected,
    Join,
    JoinOk,
    Leave,
    LeaveOk,
    Push,
    PushOk,
    SocketClosed,
    SocketError,
    SocketOpened,
)
from phoenix_actors.messages import Event
from phoenix_actors.server import LoopbackServer
from tests.wire.conftest import LOBBY, WAIT, Frame, MakeClient, Session, whoami


def joined(s: Session) -> JoinOk:
    reply = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(reply, JoinOk), reply
    s.events.wait_for(SocketOpened, timeout=WAIT)
    return reply


def recovered(s: Session, first: JoinOk) -> JoinOk:
    """Wait for the reconnect and the rejoin; check the rejoin's fresh join_ref end to end."""
    s.events.wait_for(SocketOpened, timeout=WAIT)
    rejoin = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoin.join_ref != first.join_ref
    assert whoami(s)["join_ref"] == rejoin.join_ref
    # the rejoin frame: join_ref == ref, on the new connection
    frames = s.wire.sent(lambda f: f.event == "phx_join" and f.ref == rejoin.join_ref)
    assert len(frames) == 1
    assert frames[0].join_ref == frames[0].ref
    assert frames[0].conn == s.wire.attempts
    return rejoin


def test_abrupt_tcp_close_reconnects_and_a_push_made_while_down_is_sent_after_the_rejoin(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(reconnect_after=[0.3]))
    first = joined(s)
    late = Push(LOBBY, "ping", {"made": "while down"}, timeout=WAIT, ref="late")

    def push_when_down(event: Event) -> None:
        # runs on the socket actor right after the channels were told of the close,
        # so the channel is errored when the push reaches it
        if isinstance(event, SocketClosed):
            s.client.tell(late)

    s.client.subscribe(push_when_down)
    server.faults.abort_all()
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1006
    assert closed.was_clean is False
    assert closed.will_reconnect is True
    assert closed.reconnect_in == pytest.approx(0.3)
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload == {"source": "transport", "reason": "connection_closed"}
    rejoin = recovered(s, first)
    ok = s.events.wait_for(PushOk, lambda e: e.push.ref == "late", timeout=WAIT)
    assert ok.response == {"made": "while down"}
    # the push went out once, on the new connection, after the rejoin, under its join_ref
    pings = s.wire.sent(lambda f: f.event == "ping")
    assert len(pings) == 1
    assert pings[0].conn == 2
    assert pings[0].join_ref == rejoin.join_ref
    rejoin_frame = s.wire.sent(lambda f: f.event == "phx_join" and f.conn == 2)[0]
    assert rejoin_frame.at <= pings[0].at
    assert s.wire.attempts == 2


def test_server_restart_on_the_same_port_reconnects_and_rejoins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    first = joined(s)
    port = server.port
    server.restart()
    assert server.port == port
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1012  # the server's drain on shutdown
    assert closed.will_reconnect is True
    recovered(s, first)
    assert s.client.ask(GetIsConnected()) is True
    assert len(server.sockets()) == 1


def test_forced_disconnect_closes_1001_then_reconnects(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(params={"user_id": "forced"})
    first = joined(s)
    assert server.disconnect("user_socket:forced") == 1
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1001
    assert closed.was_clean is True
    assert closed.will_reconnect is True
    s.events.wait_for(ChannelErrored, timeout=WAIT)
    recovered(s, first)
    assert [i.socket_id for i in server.sockets()] == ["user_socket:forced"]


def test_close_1000_from_the_server_reconnects_and_rejoins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    # phoenix.js 1.8.16: every close the client did not start is followed by a
    # reconnect, 1000 included (1.8.15 and earlier skipped 1000)
    s = connect()
    first = joined(s)
    server.faults.close_all(1000, "bye")
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.reason) == (1000, "bye")
    assert closed.will_reconnect is True
    assert closed.reconnect_in == 0.05  # the FAST schedule's first step
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload == {"source": "transport", "reason": "connection_closed"}
    recovered(s, first)
    assert s.wire.attempts == 2

def test_deliberate_disconnect_never_reconnects_and_channels_rejoin_after_connect(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    first = joined(s)
    s.client.ask(Disconnect(), timeout=WAIT)
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1000
    assert closed.will_reconnect is False
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload["source"] == "transport"
    server.wait_for_sockets(0, timeout=WAIT)
    # the channel is not left: no phx_leave went out
    assert s.wire.sent(lambda f: f.event == "phx_leave") == []
    s.no_event(SocketOpened)
    assert s.wire.attempts == 1
    assert s.wire.closes == [(1, 1000, "")]
    s.client.ask(Connect(), timeout=WAIT)
    recovered(s, first)
    assert s.wire.attempts == 2


def test_disconnect_sends_the_given_close_code_and_reason(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    joined(s)
    s.client.ask(Disconnect(code=4000, reason="going away"), timeout=WAIT)
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.reason, closed.will_reconnect) == (4000, "going away", False)
    assert s.wire.closes == [(1, 4000, "going away")]
    server.wait_for_sockets(0, timeout=WAIT)
    s.no_event(SocketOpened)


def test_after_a_lost_connection_every_joined_channel_rejoins_and_a_left_one_does_not(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    topics = ["room:a", "room:b", "room:c"]
    firsts = {}
    for topic in topics:
        reply = s.client.ask(Join(topic), timeout=WAIT)
        assert isinstance(reply, JoinOk)
        firsts[topic] = reply.join_ref
    assert isinstance(s.client.ask(Leave("room:c"), timeout=WAIT), LeaveOk)
    server.faults.abort_all()
    rejoined = {
        e.topic: e.join_ref
        for e in (s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT) for _ in range(2))
    }
    assert set(rejoined) == {"room:a", "room:b"}
    assert all(rejoined[t] != firsts[t] for t in rejoined)
    assert len(set(rejoined.values())) == 2
    for topic, join_ref in rejoined.items():
        assert whoami(s, topic)["join_ref"] == join_ref
    s.no_event(JoinOk, lambda e: e.topic == "room:c" and e.rejoin)
    assert sorted(server.sockets()[0].topics) == ["room:a", "room:b"]
    assert not s.wire.sent(lambda f: f.event == "phx_join" and f.topic == "room:c" and f.conn == 2)


def test_every_frame_the_client_writes_is_a_five_element_array(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    first = joined(s)
    server.faults.abort_all()
    recovered(s, first)
    out = s.wire.sent()
    assert out
    assert all(isinstance(f.data, list) and len(f.data) == 5 for f in out)
    refs = [int(f.ref) for f in out]
    assert len(set(refs)) == len(refs)

    def is_join(f: Frame) -> bool:
        return bool(f.event == "phx_join")

    assert all(f.join_ref == f.ref for f in out if is_join(f))


def test_reconnect_delays_follow_the_schedule_and_reset_after_an_open(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(reconnect_after=[0.05, 0.1, 0.2]))
    first = joined(s)
    server.stop()
    delays = [s.events.wait_for(SocketClosed, timeout=WAIT).reconnect_in for _ in range(4)]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.2])
    refused = s.events.wait_for(SocketError, timeout=WAIT)
    assert (refused.error, refused.tls, refused.status) == ("ConnectError", False, None)
    server.start()
    rejoin = recovered(s, first)
    s.events.clear()
    server.faults.abort_all()
    again = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert again.reconnect_in == pytest.approx(0.05)
    s.events.wait_for(SocketOpened, timeout=WAIT)
    assert s.events.wait_for(JoinOk, timeout=WAIT).join_ref != rejoin.join_ref
