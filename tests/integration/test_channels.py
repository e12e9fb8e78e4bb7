"""Channels end to end: join, configs, leave, event filters, broadcasts, crashes, reconnects."""

from __future__ import annotations

from phoenix_actors import (
    AddEvents,
    ChannelClosed,
    ChannelErrored,
    ChannelEvent,
    Connect,
    ConnectOptions,
    DropEvents,
    GetChannelJoined,
    GetChannelQueued,
    GetJoinedChannels,
    GetTopicParts,
    Join,
    JoinAll,
    JoinConfig,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveAll,
    LeaveConfig,
    LeaveOk,
    Push,
    PushOk,
    SetJoinConfig,
    SetLeaveConfig,
    SocketClosed,
    SocketOpened,
)
from phoenix_actors.server import LoopbackServer
from tests.integration.conftest import LOBBY, WAIT, MakeClient, Session, whoami

SLOW_REJOIN = ConnectOptions(rejoin_after=[5.0])
"""For refused joins: no rejoin during the test."""


def ok(session: Session, push: Push) -> PushOk:
    """Ask ``push``; return its PushOk once subscribers got it (and every event before it)."""
    reply = session.client.ask(push, timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    session.events.wait_for(PushOk, lambda e: e.push is push, timeout=WAIT)
    return reply


def channel_events(session: Session, event: str) -> list[ChannelEvent]:
    return [e for e in session.events.of_type(ChannelEvent) if e.event == event]


# --- join --------------------------------------------------------------------------------


def test_join_answers_join_ok_with_the_server_reply(connect: MakeClient) -> None:
    s = connect(params={"user_id": "erin"})
    reply = s.client.ask(Join("room:one"), timeout=WAIT)
    assert isinstance(reply, JoinOk)
    assert reply.response == {"joined": "one", "user_id": "erin"}
    assert reply.rejoin is False
    assert s.events.wait_for(JoinOk, timeout=WAIT) == reply
    assert s.client.ask(GetChannelJoined("room:one")) is True


def test_join_all_joins_every_topic(connect: MakeClient) -> None:
    s = connect()
    s.client.tell(JoinAll(["room:a", "room:b", "room:c"]))
    topics = {s.events.wait_for(JoinOk, timeout=WAIT).topic for _ in range(3)}
    assert topics == {"room:a", "room:b", "room:c"}
    assert sorted(s.client.ask(GetJoinedChannels())) == ["room:a", "room:b", "room:c"]


def test_joins_made_while_the_socket_opens_never_get_stuck(connect: MakeClient) -> None:
    # channels started while the socket opens once missed its open notice (about
    # 1 join in 60 hung in "joining"); ten fresh clients of five topics each
    topics = [f"room:s{i}" for i in range(5)]
    for _ in range(10):
        s = connect()
        s.client.tell(JoinAll(topics))
        joined = {s.events.wait_for(JoinOk, timeout=WAIT).topic for _ in topics}
        assert joined == set(topics)
        s.client.stop()


def test_join_all_on_an_open_socket_joins_every_topic(connect: MakeClient) -> None:
    s = connect()
    s.client.ask(Connect())
    s.events.wait_for(SocketOpened, timeout=WAIT)
    s.client.tell(JoinAll(["room:a", "room:b"]))
    topics = {s.events.wait_for(JoinOk, timeout=WAIT).topic for _ in range(2)}
    assert topics == {"room:a", "room:b"}


def test_join_config_set_ahead_supplies_the_payload(connect: MakeClient) -> None:
    s = connect()
    s.client.ask(SetJoinConfig(JoinConfig(topic="room:private", payload={"password": "secret"})))
    reply = s.client.ask(Join("room:private"), timeout=WAIT)
    assert isinstance(reply, JoinOk)
    assert reply.response["joined"] == "private"


def test_join_config_events_filter_delivers_only_those_events(connect: MakeClient) -> None:
    s = connect()
    s.client.ask(SetJoinConfig(JoinConfig(topic="room:f", events=["wanted"])))
    assert isinstance(s.client.ask(Join("room:f"), timeout=WAIT), JoinOk)
    ok(s, Push("room:f", "push_back", {"event": "unwanted"}))
    ok(s, Push("room:f", "push_back", {"event": "wanted"}))
    got = s.events.wait_for(ChannelEvent, timeout=WAIT)
    assert (got.event, got.payload) == ("wanted", {"event": "wanted"})
    # the server pushes before it replies, so the unwanted event had its chance
    assert channel_events(s, "unwanted") == []


def test_join_config_timeout_answers_join_timeout(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(timeout=5.0))
    s.client.ask(SetJoinConfig(JoinConfig(topic="room:t", timeout=0.2)))
    server.faults.drop_replies(1)  # the first join reply never arrives
    # with the socket's 5 s timeout this ask would expire first
    outcome = s.client.ask(Join("room:t"), timeout=2.0)
    assert isinstance(outcome, JoinTimeout)
    assert outcome.topic == "room:t"
    assert outcome.rejoin_in == 0.05


def test_join_timeout_is_followed_by_a_rejoin(connect: MakeClient, server: LoopbackServer) -> None:
    # a slower rejoin lets the phx_close of the stale join (answering our phx_leave)
    # arrive first: it must be ignored, not close the channel
    s = connect(options=ConnectOptions(rejoin_after=[0.5]))
    server.faults.drop_replies(1)  # the first join reply never arrives
    outcome = s.client.ask(Join("room:t", timeout=0.2), timeout=WAIT)
    assert isinstance(outcome, JoinTimeout)
    rejoined = s.events.wait_for(JoinOk, timeout=WAIT)
    assert rejoined.topic == "room:t"
    assert s.events.of_type(ChannelClosed) == []


def test_refused_join_gives_join_error_with_the_server_reason(connect: MakeClient) -> None:
    s = connect(options=SLOW_REJOIN)
    outcome = s.client.ask(Join("room:x", payload={"reject": True}), timeout=WAIT)
    assert isinstance(outcome, JoinError)
    assert outcome.response == {"reason": "rejected"}
    assert outcome.rejoin_in == 5.0
    assert s.client.ask(GetChannelJoined("room:x")) is False
    assert s.client.ask(GetChannelQueued("room:x")) is True


def test_private_room_refuses_a_wrong_password(connect: MakeClient) -> None:
    s = connect(options=SLOW_REJOIN)
    outcome = s.client.ask(Join("room:private", payload={"password": "nope"}), timeout=WAIT)
    assert isinstance(outcome, JoinError)
    assert outcome.response == {"reason": "unauthorized"}


def test_private_room_accepts_the_password(connect: MakeClient) -> None:
    s = connect()
    outcome = s.client.ask(Join("room:private", payload={"password": "secret"}), timeout=WAIT)
    assert isinstance(outcome, JoinOk)


def test_topic_parts_split_on_colons(connect: MakeClient) -> None:
    s = connect()
    assert s.client.ask(GetTopicParts("room:a:b")) == ["room", "a", "b"]


# --- leave -------------------------------------------------------------------------------


def test_leave_answers_leave_ok_and_the_server_untracks(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(params={"user_id": "fay"})
    assert isinstance(s.client.ask(Join("room:l"), timeout=WAIT), JoinOk)
    server.wait_for(lambda: "fay" in server.presence_list("room:l"), timeout=WAIT)
    assert s.client.ask(Leave("room:l"), timeout=WAIT) == LeaveOk(topic="room:l")
    assert s.client.ask(GetChannelJoined("room:l")) is False
    server.wait_for(lambda: not server.presence_list("room:l"), timeout=WAIT)


def test_leave_all_leaves_every_channel(connect: MakeClient) -> None:
    s = connect()
    for topic in ("room:a", "room:b"):
        assert isinstance(s.client.ask(Join(topic), timeout=WAIT), JoinOk)
    s.client.ask(LeaveAll(), timeout=WAIT)
    left = {s.events.wait_for(LeaveOk, timeout=WAIT).topic for _ in range(2)}
    assert left == {"room:a", "room:b"}
    assert s.client.ask(GetJoinedChannels()) == []


def test_leave_config_timeout_bounds_an_unanswered_leave(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(timeout=5.0))
    assert isinstance(s.client.ask(Join("room:lc"), timeout=WAIT), JoinOk)
    s.client.ask(SetLeaveConfig(LeaveConfig(topic="room:lc", timeout=0.2)))
    server.faults.drop_replies(1)  # the leave reply never arrives
    # with the socket's 5 s timeout this ask would expire first
    assert s.client.ask(Leave("room:lc"), timeout=2.0) == LeaveOk(topic="room:lc")


def test_join_after_leave_joins_again(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join("room:again"), timeout=WAIT), JoinOk)
    s.client.ask(Leave("room:again"), timeout=WAIT)
    assert isinstance(s.client.ask(Join("room:again"), timeout=WAIT), JoinOk)
    assert ok(s, Push("room:again", "ping", {"x": 1})).response == {"x": 1}


# --- events ------------------------------------------------------------------------------


def test_drop_events_stops_delivery_and_add_events_restores_it(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join("room:e"), timeout=WAIT), JoinOk)
    s.client.tell(DropEvents("room:e", ["pushed"]))
    ok(s, Push("room:e", "push_back", {"n": 1}))
    assert channel_events(s, "pushed") == []
    s.client.tell(AddEvents("room:e", ["pushed"]))
    ok(s, Push("room:e", "push_back", {"n": 2}))
    got = s.events.wait_for(ChannelEvent, lambda e: e.event == "pushed", timeout=WAIT)
    assert got.payload == {"n": 2}
    assert len(channel_events(s, "pushed")) == 1


def test_add_events_extends_a_join_filter(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join("room:ae", events=["a"]), timeout=WAIT), JoinOk)
    s.client.tell(AddEvents("room:ae", ["b"]))
    ok(s, Push("room:ae", "push_back", {"event": "b"}))
    ok(s, Push("room:ae", "push_back", {"event": "c"}))
    assert [e.event for e in s.events.of_type(ChannelEvent)] == ["b"]


def test_server_pushes_arrive_in_order(connect: MakeClient) -> None:
    s = connect()
    assert ok(s, Push("room:seq", "push_many", {"n": 5})).response == {"sent": 5}
    assert [e.payload["i"] for e in channel_events(s, "seq")] == [1, 2, 3, 4, 5]


def test_shout_reaches_the_sender_and_the_others(connect: MakeClient) -> None:
    a, b = connect(), connect()
    for s in (a, b):
        assert isinstance(s.client.ask(Join("room:chat"), timeout=WAIT), JoinOk)
    a.client.tell(Push("room:chat", "shout", {"m": "hi"}))
    for s in (a, b):
        got = s.events.wait_for(ChannelEvent, lambda e: e.event == "shout", timeout=WAIT)
        assert (got.topic, got.payload) == ("room:chat", {"m": "hi"})


def test_shout_others_skips_the_sender(connect: MakeClient) -> None:
    a, b = connect(), connect()
    for s in (a, b):
        assert isinstance(s.client.ask(Join("room:chat"), timeout=WAIT), JoinOk)
    a.client.tell(Push("room:chat", "shout_others", {"m": "psst"}))
    got = b.events.wait_for(ChannelEvent, lambda e: e.event == "shout", timeout=WAIT)
    assert got.payload == {"m": "psst"}
    ok(a, Push("room:chat", "ping"))  # the server handled a's shout before this ping
    assert channel_events(a, "shout") == []


def test_server_broadcast_reaches_every_subscriber(
    connect: MakeClient, server: LoopbackServer
) -> None:
    a, b = connect(), connect()
    for s in (a, b):
        assert isinstance(s.client.ask(Join("room:news"), timeout=WAIT), JoinOk)
    assert server.broadcast("room:news", "headline", {"t": "x"}) == 2
    for s in (a, b):
        got = s.events.wait_for(ChannelEvent, timeout=WAIT)
        assert (got.topic, got.event, got.payload) == ("room:news", "headline", {"t": "x"})


# --- server-side failures ----------------------------------------------------------------


def test_channel_crash_errors_then_rejoins_and_pushes_again(connect: MakeClient) -> None:
    s = connect()
    first = s.client.ask(Join("room:crash"), timeout=WAIT)
    assert isinstance(first, JoinOk)
    s.client.tell(Push("room:crash", "crash", timeout=0.5))
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.topic == "room:crash"
    assert errored.rejoin_in == 0.05
    rejoined = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoined.join_ref != first.join_ref
    assert ok(s, Push("room:crash", "ping", {"after": "crash"})).response == {"after": "crash"}


def test_channel_stop_closes_the_channel_for_good(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join("room:stop"), timeout=WAIT), JoinOk)
    assert ok(s, Push("room:stop", "stop")).response == {"stopping": True}
    closed = s.events.wait_for(ChannelClosed, timeout=WAIT)
    assert closed.topic == "room:stop"
    assert s.client.ask(GetChannelJoined("room:stop")) is False
    assert s.events.of_type(ChannelErrored) == []


def test_disconnect_me_reconnects_and_rejoins_with_a_new_join_ref(connect: MakeClient) -> None:
    s = connect(params={"user_id": "gus"})
    before = whoami(s)["join_ref"]
    s.client.tell(Push(LOBBY, "disconnect_me", timeout=0.5))
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1001
    assert closed.will_reconnect is True
    s.events.wait_for(ChannelErrored, timeout=WAIT)
    s.events.wait_for(SocketOpened, timeout=WAIT)
    s.events.wait_for(SocketOpened, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert whoami(s)["join_ref"] != before


def test_server_disconnect_reconnects_and_rejoins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(params={"user_id": "hal"})
    before = whoami(s)["join_ref"]
    assert server.disconnect_user("hal") == 1
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.will_reconnect) == (1001, True)
    rejoined = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoined.join_ref != before
    assert whoami(s)["join_ref"] == rejoined.join_ref


def test_server_restart_is_survived(connect: MakeClient, server: LoopbackServer) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    server.restart()
    s.events.wait_for(SocketClosed, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert ok(s, Push(LOBBY, "ping", {"back": True})).response == {"back": True}
