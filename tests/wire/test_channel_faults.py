"""Channels against a misbehaving server: crashes, lost and late replies, pushes across a loss.

PROTOCOL.md §5-6 and §9.17-18, 9.22-24, 9.30, 9.32.
"""

from __future__ import annotations

import pytest

from phoenix_actors import (
    Backoff,
    ChannelErrored,
    ConnectOptions,
    Drop,
    DropPush,
    Every,
    GetPushWaiting,
    Join,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveOk,
    Match,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketOpened,
)
from phoenix_actors.messages import Event
from phoenix_actors.server import LoopbackServer
from tests.wire.conftest import LOBBY, WAIT, MakeClient, Session, whoami

PushEnd = PushOk | PushError | PushTimeout


def outcome(s: Session, ref: str, *, only_final: bool = True) -> PushEnd:
    """Wait for the (final) outcome of the push labelled ``ref``."""

    def match(e: Event) -> bool:
        return isinstance(e, PushEnd) and e.push.ref == ref and (final(e) or not only_final)

    got = s.events.wait_for(Event, match, timeout=WAIT)
    assert isinstance(got, PushEnd)
    return got


def final(e: Event) -> bool:
    """An outcome after which a push is gone: a reply, or a timeout with no retry."""
    return isinstance(e, PushOk | PushError) or (isinstance(e, PushTimeout) and e.retry_in is None)


def joined(s: Session) -> JoinOk:
    reply = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(reply, JoinOk), reply
    return reply


# --- channel crash -------------------------------------------------------------------------


def test_crash_errors_the_channel_and_a_push_made_while_errored_waits_for_the_rejoin(
    connect: MakeClient,
) -> None:
    s = connect(options=ConnectOptions(rejoin_after=[0.2]))
    first = joined(s)
    held = Push(LOBBY, "ping", {"held": True}, timeout=WAIT, ref="held")

    def push_when_errored(event: Event) -> None:
        # runs on the channel actor while it reports the error: the push is its next input
        if isinstance(event, ChannelErrored):
            s.client.tell(held)

    s.client.subscribe(push_when_errored)
    s.client.tell(Push(LOBBY, "crash", timeout=0.5, ref="crash"))
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload == {"reason": "channel_crash"}
    assert errored.rejoin_in == 0.2  # the rejoin schedule's first step
    rejoin = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoin.join_ref != first.join_ref
    ok = s.events.wait_for(PushOk, lambda e: e.push.ref == "held", timeout=WAIT)
    assert ok.response == {"held": True}
    # buffered, not sent into the void: one frame, after the rejoin, under the new join_ref
    pings = s.wire.sent(lambda f: f.event == "ping")
    assert len(pings) == 1
    assert pings[0].join_ref == rejoin.join_ref
    rejoin_frame = s.wire.sent(lambda f: f.event == "phx_join" and f.ref == rejoin.join_ref)[0]
    assert rejoin_frame.at <= pings[0].at
    # the crashing push itself never got a reply: it times out and is dropped (Drop)
    timeout = s.events.wait_for(PushTimeout, lambda e: e.push.ref == "crash", timeout=WAIT)
    assert timeout.retry_in is None
    # the phx_error frame: [jr, jr, topic, "phx_error", {"reason": "channel_crash"}]
    err = s.wire.received(lambda f: f.event == "phx_error")
    assert len(err) == 1
    assert err[0].join_ref == err[0].ref == first.join_ref
    assert s.wire.attempts == 1  # a channel crash is no socket matter


def test_a_push_that_reaches_the_server_after_the_crash_ends_in_unmatched_topic_or_timeout(
    connect: MakeClient,
) -> None:
    # sent right behind the crash, before the client hears of it: the server either
    # finds no channel ("unmatched topic", join_ref null, which the client accepts) or
    # loses it in the dead channel's inbox (the push times out)
    s = connect(options=ConnectOptions(rejoin_after=[0.5]))
    joined(s)
    s.client.tell(Push(LOBBY, "crash", timeout=0.5, ref="crash"))
    s.client.tell(Push(LOBBY, "ping", timeout=0.5, ref="behind"))
    s.events.wait_for(ChannelErrored, timeout=WAIT)

    end = outcome(s, "behind", only_final=False)
    if isinstance(end, PushError):
        assert end.response == {"reason": "unmatched topic"}
        ping = s.wire.sent(lambda f: f.event == "ping")[0]
        reply = s.wire.received(lambda f: f.event == "phx_reply" and f.ref == ping.ref)
        assert reply[0].join_ref is None
    else:
        assert isinstance(end, PushTimeout), end
        assert end.retry_in is None


# --- join timeout ------------------------------------------------------------------------


def test_a_dropped_join_reply_times_out_leaves_with_the_stale_ref_and_rejoins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(timeout=0.5))
    server.faults.drop_replies(1)
    first = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(first, JoinTimeout)
    assert first.rejoin_in is not None
    ok = s.events.wait_for(JoinOk, timeout=WAIT)
    assert ok.rejoin is False  # it never joined before
    joins = s.wire.sent(lambda f: f.event == "phx_join")
    assert len(joins) == 2
    stale = joins[0].ref
    assert ok.join_ref == joins[1].ref != stale
    # phoenix.js: phx_leave with the stale join_ref, before the rejoin
    leaves = s.wire.sent(lambda f: f.event == "phx_leave")
    assert [f.join_ref for f in leaves] == [stale]
    assert leaves[0].at <= joins[1].at
    assert whoami(s)["join_ref"] == ok.join_ref


def test_a_late_join_reply_is_ignored_and_the_rejoin_succeeds(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=ConnectOptions(timeout=0.5))

    def undelay(event: Event) -> None:
        if isinstance(event, JoinTimeout):
            server.faults.delay_replies(0)

    s.client.subscribe(undelay)
    server.faults.delay_replies(0.8)
    first = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(first, JoinTimeout)
    ok = s.events.wait_for(JoinOk, timeout=WAIT)
    joins = s.wire.sent(lambda f: f.event == "phx_join")
    stale = joins[0].ref
    assert ok.join_ref != stale
    # the late ok for the first join does arrive ...
    late = s.wire.wait_frames(
        lambda f: f.direction == "in" and f.event == "phx_reply" and f.ref == stale
    )
    assert late[0].payload["status"] == "ok"
    # ... and changes nothing: one JoinOk, the join_ref the server knows is the rejoin's
    assert whoami(s)["join_ref"] == ok.join_ref
    assert len(s.events.of_type(JoinOk)) == 1


# --- stale replies -------------------------------------------------------------------------


def test_a_reply_carrying_the_join_ref_of_an_old_join_is_dropped(
    connect: MakeClient, server: LoopbackServer
) -> None:
    # every reply is held 0.5 s: the ping's reply comes back after the crash and the
    # rejoin went out, tagged with the old join_ref, so it must not resolve anything
    s = connect(options=ConnectOptions(timeout=2.0, rejoin_after=[0.05]))
    first = joined(s)
    server.faults.delay_replies(0.5)
    s.client.tell(Push(LOBBY, "ping", {"n": 1}, timeout=1.5, ref="old"))
    s.client.tell(Push(LOBBY, "crash", timeout=2.0, ref="crash"))
    rejoin = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    old_ping = s.wire.sent(lambda f: f.event == "ping")[0]
    assert old_ping.join_ref == first.join_ref
    late = s.wire.received(lambda f: f.event == "phx_reply" and f.ref == old_ping.ref)
    assert len(late) == 1, "the stale reply reached the client"
    assert late[0].join_ref == first.join_ref != rejoin.join_ref
    # it arrived after the rejoin was sent, so the channel dropped it
    rejoin_frame = s.wire.sent(lambda f: f.event == "phx_join" and f.ref == rejoin.join_ref)[0]
    assert rejoin_frame.at < late[0].at
    old = outcome(s, "old")
    assert isinstance(old, PushTimeout), old
    assert old.retry_in is None
    assert s.events.of_type(PushOk) == []
    server.faults.reset()
    after = s.client.ask(Push(LOBBY, "ping", {"n": 2}, timeout=WAIT), timeout=WAIT)
    assert isinstance(after, PushOk)
    assert after.response == {"n": 2}


# --- pushes across a forced disconnect -------------------------------------------------------


def test_every_push_across_a_forced_disconnect_gets_a_final_outcome(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(params={"user_id": "mixed"}, options=ConnectOptions(reconnect_after=[0.2]))
    joined(s)
    # in flight when the socket goes: their replies are held until the connection is gone
    in_flight = [
        Push(LOBBY, "ping", {"f": 1}, timeout=0.6, retry=Drop(), ref="f-drop"),
        Push(LOBBY, "ping", {"f": 2}, timeout=0.6, retry=Every(0.1), ref="f-every"),
        Push(LOBBY, "ping", {"f": 3}, timeout=0.6, retry=Backoff([0.1]), ref="f-back"),
        Push(LOBBY, "noreply", timeout=0.4, retry=Every(0.1), ref="f-forever"),
    ]
    # made while the socket is down: buffered with their timeouts running
    offline = [
        Push(LOBBY, "ping", {"k": 1}, timeout=WAIT, ref="o-ok"),
        Push(LOBBY, "error_reply", timeout=WAIT, retry=Every(0.1), ref="o-error"),
        Push(LOBBY, "ping", timeout=0.1, retry=Drop(), ref="o-expire"),
        Push(LOBBY, "ping", {"b": 1}, timeout=0.1, retry=Backoff([0.05]), ref="o-backoff"),
        Push(LOBBY, "binary", b"\x00\x01", timeout=WAIT, ref="o-bytes"),
    ]

    def push_when_down(event: Event) -> None:
        if isinstance(event, SocketClosed):
            server.faults.reset()  # before the reconnect: the new connection answers at once
            for p in offline:
                s.client.tell(p)

    server.faults.delay_replies(WAIT)
    for p in in_flight:
        s.client.tell(p)
    s.wire.wait_frames(lambda f: f.direction == "out" and f.event == "noreply")
    s.client.subscribe(push_when_down)
    assert server.disconnect("user_socket:mixed") == 1
    s.events.wait_for(SocketClosed, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)

    ends = {
        p.ref: outcome(s, p.ref) for p in [*in_flight, *offline] if p.ref and p.ref != "f-forever"
    }
    assert isinstance(ends["f-drop"], PushTimeout)
    assert isinstance(ends["f-every"], PushOk)  # retried on the new connection
    assert isinstance(ends["f-back"], PushOk)
    # a sent push is never resent by the client itself: only its retry strategy sends it again
    assert [f.conn for f in s.wire.sent(lambda f: f.payload == {"f": 1})] == [1]
    assert [f.conn for f in s.wire.sent(lambda f: f.payload == {"f": 2})] == [1, 2]
    assert isinstance(ends["o-ok"], PushOk)
    assert ends["o-ok"].response == {"k": 1}
    assert isinstance(ends["o-error"], PushError)
    assert ends["o-error"].response == {"reason": "asked"}
    assert isinstance(ends["o-expire"], PushTimeout)
    # timed out while buffered, retried once: the retry finds the channel rejoined or not
    retries = [e for e in s.events.of_type(PushTimeout) if e.push.ref == "o-backoff"]
    assert retries[0].retry_in == 0.05
    if isinstance(ends["o-backoff"], PushOk):
        assert len(retries) == 1
        assert len(s.wire.sent(lambda f: f.payload == {"b": 1})) == 1
    else:
        assert [(e.attempt, e.retry_in) for e in retries] == [(1, 0.05), (2, None)]
    assert isinstance(ends["o-bytes"], PushOk)
    assert ends["o-bytes"].response == b"\x00\x01"
    # the buffered pushes went out in the order they were made, on the new connection
    flushed = s.wire.sent(
        lambda f: f.conn == 2 and (f.binary or f.event in {"ping", "error_reply"})
    )
    order = [
        "o-bytes" if f.binary else "o-ok" if f.payload == {"k": 1} else "o-error"
        for f in flushed
        if f.binary or f.payload == {"k": 1} or f.event == "error_reply"
    ]
    assert order == ["o-ok", "o-error", "o-bytes"]
    # a push that expired while buffered was never written to the wire
    assert not s.wire.sent(lambda f: f.payload == {} and f.event == "ping")
    # the one that retries forever is still waiting, until dropped explicitly
    forever = Match(ref="f-forever")
    s.events.wait_for(PushTimeout, lambda e: e.push.ref == "f-forever", timeout=WAIT)
    assert s.client.ask(GetPushWaiting(forever), timeout=WAIT) is True
    assert s.client.ask(DropPush(forever), timeout=WAIT) == 1
    assert s.client.ask(GetPushWaiting(Match(where=lambda _: True)), timeout=WAIT) is False
    assert s.wire.attempts == 2
    assert len(s.events.of_type(SocketOpened)) == 2


# --- rejoin schedule ---------------------------------------------------------------------


def test_refused_joins_retry_on_the_rejoin_schedule(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(rejoin_after=[0.05, 0.1, 0.2]))
    first = s.client.ask(Join("room:private", payload={"password": "wrong"}), timeout=WAIT)
    assert isinstance(first, JoinError)
    assert first.response == {"reason": "unauthorized"}
    # the answer to the ask is the first of the JoinError events
    errors = [s.events.wait_for(JoinError, timeout=WAIT) for _ in range(4)]
    assert errors[0] == first
    assert [e.rejoin_in for e in errors] == pytest.approx([0.05, 0.1, 0.2, 0.2])
    joins = s.wire.sent(lambda f: f.event == "phx_join")
    assert len({f.ref for f in joins}) == len(joins) >= 4  # each retry has a new join_ref
    assert isinstance(s.client.ask(Leave("room:private"), timeout=WAIT), LeaveOk)


def test_a_successful_rejoin_resets_the_rejoin_schedule(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(rejoin_after=[0.05, 1.0]))
    joined(s)
    for _ in range(2):
        s.client.tell(Push(LOBBY, "crash", timeout=0.5))
        errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
        assert errored.rejoin_in == 0.05
        s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
