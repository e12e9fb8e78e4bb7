"""ChannelCore, the sans-IO channel machine (PROTOCOL.md §5-6, §9 items 5-6, 16-34).

A small harness plays the actor: it keeps the armed timers, fires them in
deadline order with ``now`` set to their ``at`` (so "exactly 10 s" is
testable), and records what the core sends, emits and resolves.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from phoenix_actors.messages import (
    Backoff,
    ChannelClosed,
    ChannelErrored,
    ChannelEvent,
    Drop,
    Event,
    Every,
    JoinError,
    JoinOk,
    JoinTimeout,
    LeaveOk,
    Match,
    Push,
    PushError,
    PushOk,
    PushTimeout,
)
from phoenix_actors.protocol import channel as channel_module
from phoenix_actors.protocol.channel import (
    Arm,
    Cancel,
    ChannelCore,
    ChannelStatus,
    Effect,
    Emit,
    Finished,
    Forward,
    NeedSocket,
    Resolve,
    Send,
)
from phoenix_actors.protocol.frames import Message

TOPIC = "room:lobby"


class Harness:
    """Plays the ChannelActor around one ChannelCore, with time passed in."""

    def __init__(self, topic: str = TOPIC, **kwargs: Any) -> None:
        counter = itertools.count(1)
        self.core = ChannelCore(topic, lambda: str(next(counter)), **kwargs)
        self.now = 0.0
        self.timers: dict[str, float] = {}
        self.sent: list[Message] = []
        self.events: list[Event] = []
        self.resolved: list[tuple[Any, Any]] = []
        self.forwards: list[Forward] = []
        self.finished = 0
        self.need_socket = 0

    # -- effects ------------------------------------------------------------------

    def run(self, effects: list[Effect]) -> list[Effect]:
        for eff in effects:
            match eff:
                case Send(message=msg):
                    assert self.core.socket_open, f"Send while the socket is closed: {msg}"
                    self.sent.append(msg)
                case Emit(event=event):
                    self.events.append(event)
                case Arm(name=name, at=at):
                    self.timers[name] = at
                case Cancel(name=name):
                    self.timers.pop(name, None)
                case Resolve(call=call, result=result):
                    self.resolved.append((call, result))
                case Forward():
                    self.forwards.append(eff)
                case NeedSocket():
                    self.need_socket += 1
                case Finished():
                    self.finished += 1
        return effects

    # -- inputs -------------------------------------------------------------------

    def open(self) -> list[Effect]:
        return self.run(self.core.socket_opened(self.now))

    def close(self, reason: str = "connection_closed") -> list[Effect]:
        return self.run(self.core.socket_closed(self.now, reason))

    def join(self, **kwargs: Any) -> list[Effect]:
        return self.run(self.core.join(self.now, **kwargs))

    def leave(self, **kwargs: Any) -> list[Effect]:
        return self.run(self.core.leave(self.now, **kwargs))

    def push(self, push: Push, call: Any = None) -> list[Effect]:
        return self.run(self.core.push(self.now, push, call))

    def receive(self, msg: Message) -> list[Effect]:
        return self.run(self.core.receive(self.now, msg))

    def reply(self, msg: Message, status: str = "ok", response: Any = None) -> list[Effect]:
        payload = {"status": status, "response": {} if response is None else response}
        return self.receive(Message(msg.join_ref, msg.ref, msg.topic, "phx_reply", payload))

    def advance_to(self, t: float) -> None:
        """Fire every timer due by ``t``, each at its own deadline, then set now = t."""
        assert t >= self.now
        while True:
            due = [(at, name) for name, at in self.timers.items() if at <= t]
            if not due:
                break
            at, name = min(due)
            del self.timers[name]
            self.now = max(self.now, at)
            self.run(self.core.timer(self.now, name, at))
        self.now = t

    def advance(self, dt: float) -> None:
        self.advance_to(self.now + dt)

    # -- views --------------------------------------------------------------------

    def state(self) -> ChannelStatus:
        return self.core.status

    def last_sent(self, event: str | None = None) -> Message:
        msgs = [m for m in self.sent if event is None or m.event == event]
        assert msgs, f"nothing sent matching {event!r}: {self.sent}"
        return msgs[-1]

    def sent_events(self) -> list[str]:
        return [m.event for m in self.sent]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def joined(self, response: Any = None) -> Message:
        """Open the socket, join and get the reply ok; return the join message."""
        if not self.core.socket_open:
            self.open()
        self.join()
        join = self.last_sent("phx_join")
        self.reply(join, "ok", response)
        assert self.core.status is ChannelStatus.JOINED
        return join


def p(event: str = "new_msg", **kwargs: Any) -> Push:
    return Push(TOPIC, event, payload={"body": event}, **kwargs)


# --- join ---------------------------------------------------------------------------


def test_join_sends_phx_join_with_join_ref_equal_to_ref() -> None:
    h = Harness()
    h.open()
    h.join(payload={"token": "t"})
    [join] = h.sent
    assert join.event == "phx_join"
    assert join.topic == TOPIC
    assert join.join_ref == join.ref is not None
    assert join.payload == {"token": "t"}
    assert h.state() is ChannelStatus.JOINING
    assert h.timers["join"] == 10.0


def test_later_pushes_carry_the_join_ref() -> None:
    h = Harness()
    join = h.joined()
    h.push(p())
    push = h.last_sent("new_msg")
    assert push.join_ref == join.join_ref
    assert push.ref != join.ref


def test_join_while_socket_closed_waits_for_it_then_sends() -> None:
    h = Harness()
    h.join()
    assert h.sent == []
    assert h.need_socket == 1
    assert h.state() is ChannelStatus.JOINING
    assert h.timers["join"] == 10.0  # the join's own timeout runs while it waits
    h.open()
    assert h.sent_events() == ["phx_join"]


def test_join_waiting_for_a_socket_that_never_opens_times_out_at_its_own_timeout() -> None:
    h = Harness()
    h.core.socket_error = "connection refused by 127.0.0.1:1"
    h.join(timeout=1.0, call="ask")
    assert h.timers["join"] == 1.0
    h.advance(1.0)
    timeout = h.events[-1]
    assert isinstance(timeout, JoinTimeout)
    assert timeout.reason == "connection refused by 127.0.0.1:1"
    assert timeout.rejoin_in is None  # no socket: it rejoins as soon as one opens
    assert h.resolved == [("ask", timeout)]
    assert h.state() is ChannelStatus.ERRORED
    h.open()
    assert h.sent_events() == ["phx_join"]


def test_a_join_in_flight_keeps_its_deadline_when_the_socket_closes() -> None:
    h = Harness()
    h.open()
    h.join(timeout=2.0, call="ask")
    h.close()
    assert h.timers["join"] == 2.0
    h.advance(2.0)
    assert [type(r) for _, r in h.resolved] == [JoinTimeout]


def test_a_push_waiting_for_the_socket_times_out_with_the_socket_error() -> None:
    h = Harness()
    h.core.socket_error = "connection refused"
    h.push(p(timeout=1.0), call="ask")
    h.advance(1.0)
    timeout = h.events[-1]
    assert isinstance(timeout, PushTimeout)
    assert timeout.reason == "connection refused"


def test_pushes_beyond_max_queued_pushes_fail_as_overflow() -> None:
    h = Harness(max_queued_pushes=2)
    h.push(p(ref="a"))
    h.push(p(ref="b"))
    h.push(p(ref="c"), call="ask")
    overflow = h.events[-1]
    assert isinstance(overflow, PushError)
    assert overflow.status == "overflow"
    assert overflow.push.ref == "c"
    assert h.resolved == [("ask", overflow)]
    assert [x.ref for x in h.core.pushes("queued")] == ["a", "b"]


def test_a_retry_that_finds_the_queue_full_fails_as_overflow() -> None:
    h = Harness(max_queued_pushes=1)
    h.push(p(ref="retried", timeout=1.0, retry=Every(1.0)))
    h.advance(1.0)  # times out; retries in 1 s
    h.push(p(ref="filler", timeout=5.0))
    h.advance(1.0)
    errors = [e for e in h.events if isinstance(e, PushError)]
    assert [(e.push.ref, e.status) for e in errors] == [("retried", "overflow")]


def test_the_push_blamed_for_a_1009_close_fails_as_too_large_and_is_not_retried() -> None:
    h = Harness()
    h.joined()
    h.push(p(ref="big", retry=Every(1.0)), call="ask")
    big = h.last_sent("new_msg")
    h.push(p(ref="small", retry=Every(1.0)))
    h.run(h.core.socket_closed(h.now, "connection_closed", too_large=big.ref))
    too_large = [e for e in h.events if isinstance(e, PushError)]
    assert [(e.push.ref, e.status) for e in too_large] == [("big", "too_large")]
    assert h.resolved[-1] == ("ask", too_large[0])
    assert [x.ref for x in h.core.pushes("in_flight")] == ["small"]


def test_each_rejoin_has_a_new_ref_and_join_ref() -> None:
    h = Harness()
    h.joined()
    h.receive(Message(h.core.join_ref, h.core.join_ref, TOPIC, "phx_error", {}))
    h.advance(1.0)
    h.reply(h.last_sent("phx_join"))
    h.close()
    h.open()
    joins = [m for m in h.sent if m.event == "phx_join"]
    assert len(joins) == 3
    refs = [m.ref for m in joins]
    assert len(set(refs)) == 3
    assert all(m.join_ref == m.ref for m in joins)
    assert [int(r) for r in refs if r is not None] == sorted(int(r) for r in refs if r)


def test_join_ok_emits_join_ok_and_resolves_the_call() -> None:
    h = Harness()
    h.open()
    h.join(call="call-1")
    join = h.last_sent()
    h.reply(join, "ok", {"hello": "world"})
    [ok] = h.of(JoinOk)
    assert ok == JoinOk(topic=TOPIC, response={"hello": "world"}, join_ref=join.ref or "")
    assert h.resolved == [("call-1", ok)]
    assert "join" not in h.timers


def test_join_ask_on_a_joined_channel_answers_at_once() -> None:
    h = Harness()
    join = h.joined()
    h.sent.clear()
    h.join(call="again")
    assert h.sent == []
    assert h.resolved[-1][0] == "again"
    assert isinstance(h.resolved[-1][1], JoinOk)
    assert h.resolved[-1][1].join_ref == join.ref


# --- the push buffer --------------------------------------------------------------


def test_join_ok_flushes_queue_fifo_with_new_refs_and_fresh_timeouts() -> None:
    h = Harness()
    h.push(p("a"), "ca")  # auto join: socket closed, so just queued
    assert h.need_socket == 1
    h.advance_to(3.0)
    h.push(p("b"), "cb")
    h.push(p("c"), "cc")
    h.open()
    assert h.sent_events() == ["phx_join"]
    h.advance_to(5.0)
    h.reply(h.last_sent("phx_join"))
    assert h.sent_events() == ["phx_join", "a", "b", "c"]
    refs = [m.ref for m in h.sent]
    assert len(set(refs)) == 4
    assert all(m.join_ref == h.sent[0].ref for m in h.sent[1:])
    # fresh 10 s timeouts from the flush at t=5, not from the pushes at 0 / 3
    h.advance_to(14.99)
    assert h.of(PushTimeout) == []
    h.advance_to(15.0)
    assert [e.push.event for e in h.of(PushTimeout)] == ["a", "b", "c"]


def test_queued_push_times_out_while_queued_and_is_never_sent() -> None:
    h = Harness()
    h.open()
    h.join()
    h.push(p("q", timeout=2.0), "call")
    assert h.sent_events() == ["phx_join"]
    h.advance_to(2.0)
    [timeout] = h.of(PushTimeout)
    assert timeout == PushTimeout(push=p("q", timeout=2.0), retry_in=None, attempt=1)
    assert h.resolved == [("call", timeout)]
    h.reply(h.last_sent("phx_join"))
    assert h.sent_events() == ["phx_join"]
    assert list(h.core.pushes("queued")) == []


@pytest.mark.parametrize("timeout", [None, 10.0, 2.5])
def test_unanswered_push_times_out_after_its_timeout_exactly(timeout: float | None) -> None:
    h = Harness()
    h.joined()
    h.advance_to(1.0)
    h.push(p(timeout=timeout))
    limit = 1.0 + (10.0 if timeout is None else timeout)
    h.advance_to(math.nextafter(limit, 0))
    assert h.of(PushTimeout) == []
    h.advance_to(limit)
    assert len(h.of(PushTimeout)) == 1


def test_default_timeout_is_configurable() -> None:
    h = Harness(default_timeout=3.0)
    h.joined()
    h.push(p())
    h.advance_to(2.9)
    assert h.of(PushTimeout) == []
    h.advance_to(3.0)
    assert len(h.of(PushTimeout)) == 1


def test_reply_ok_and_error_and_custom_status() -> None:
    h = Harness()
    h.joined()
    for event, status in (("a", "ok"), ("b", "error"), ("c", "pending")):
        h.push(p(event), f"call-{event}")
        h.reply(h.last_sent(event), status, {"s": status})
    ok, err, pending = h.events[-3:]
    assert ok == PushOk(push=p("a"), response={"s": "ok"})
    assert err == PushError(push=p("b"), response={"s": "error"}, status="error")
    assert pending == PushError(push=p("c"), response={"s": "pending"}, status="pending")
    assert [c for c, _ in h.resolved[-3:]] == ["call-a", "call-b", "call-c"]
    h.advance(60)
    assert h.of(PushTimeout) == []


def test_reply_with_ref_r_resolves_only_the_push_holding_r() -> None:
    h = Harness()
    h.joined()
    for event in ("a", "b", "c"):
        h.push(p(event), event)
    b = h.last_sent("b")
    h.reply(b, "ok", {"it": "b"})
    assert [(c, r.push.event) for c, r in h.resolved if isinstance(r, PushOk)] == [("b", "b")]
    assert {x.event for x in h.core.pushes("in_flight")} == {"a", "c"}
    h.reply(b, "ok", {"it": "b again"})  # a duplicate reply resolves nothing
    assert len(h.of(PushOk)) == 1
    h.receive(Message(h.core.join_ref, "999", TOPIC, "phx_reply", {"status": "ok"}))
    assert len(h.of(PushOk)) == 1


def test_answered_pushes_do_not_pile_up_in_the_timer_heap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each answered push leaves a deadline entry; they are swept, so the heap stays bounded."""
    assert channel_module.HEAP_COMPACT_FROM == 4096  # the default, swept from here
    monkeypatch.setattr(channel_module, "HEAP_COMPACT_FROM", 64)
    h = Harness()
    h.joined()
    h.push(p("unanswered"), "kept")  # its deadline must survive every sweep
    for _ in range(10 * 64):
        h.push(p("a"))
        h.reply(h.last_sent("a"))
        assert len(h.core._heap) <= 64
    assert len(h.of(PushOk)) == 10 * 64
    h.advance_to(10.0)  # the live push's deadline still fires, exactly
    [timeout] = h.of(PushTimeout)
    assert timeout.push == p("unanswered")
    assert h.resolved[-1] == ("kept", timeout)


def test_a_late_reply_after_the_timeout_is_ignored() -> None:
    h = Harness()
    h.joined()
    h.push(p())
    msg = h.last_sent("new_msg")
    h.advance(10)
    h.reply(msg)
    assert h.of(PushOk) == []
    assert len(h.of(PushTimeout)) == 1


def test_pushes_already_sent_are_never_resent_on_rejoin() -> None:
    h = Harness()
    h.joined()
    h.push(p("sent"))
    h.close()
    h.open()
    h.reply(h.last_sent("phx_join"))
    assert h.sent_events().count("sent") == 1


# --- retry strategies --------------------------------------------------------------


def _timeouts_and_sends(h: Harness, rounds: int) -> tuple[list[PushTimeout], list[Message]]:
    for _ in range(rounds):
        h.advance(100)
    return h.of(PushTimeout), [m for m in h.sent if m.event == "new_msg"]


def test_retry_drop_reports_none_and_forgets_the_push() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Drop()))
    timeouts, sends = _timeouts_and_sends(h, 3)
    assert [(t.retry_in, t.attempt) for t in timeouts] == [(None, 1)]
    assert len(sends) == 1
    assert list(h.core.pushes("timed_out")) == []


def test_retry_every_resends_after_the_period_with_new_refs() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Every(3)), "call")
    h.advance_to(10.0)
    [first] = h.of(PushTimeout)
    assert (first.retry_in, first.attempt) == (3.0, 1)
    assert h.resolved == [("call", first)]  # the ask gets the first outcome only
    assert len(list(h.core.pushes("timed_out"))) == 1
    h.advance_to(12.999)
    assert h.sent_events().count("new_msg") == 1
    h.advance_to(13.0)
    assert h.sent_events().count("new_msg") == 2
    h.advance_to(23.0)
    h.advance_to(26.0)
    sends = [m for m in h.sent if m.event == "new_msg"]
    assert len(sends) == 3
    assert len({m.ref for m in sends}) == 3
    assert [t.attempt for t in h.of(PushTimeout)] == [1, 2]
    h.reply(sends[-1], "ok")
    assert h.of(PushOk)[0].push == p(retry=Every(3))
    assert len(h.resolved) == 1  # no second resolve of the ask
    h.advance(100)
    assert len(h.of(PushTimeout)) == 2


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Backoff([1, 5, 10], 30), [1.0, 5.0, 10.0, 30.0, 30.0]),
        (Backoff([1, 2], None), [1.0, 2.0, None]),
        (Every(3), [3.0, 3.0, 3.0, 3.0, 3.0]),
        (Drop(), [None]),
    ],
)
def test_retry_delays_follow_the_strategy(strategy: Any, expected: list[float | None]) -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=strategy))
    for _ in range(len(expected) + 2):
        h.advance(100)
    timeouts = h.of(PushTimeout)[: len(expected)]
    assert [t.retry_in for t in timeouts] == expected
    assert [t.attempt for t in timeouts] == list(range(1, len(expected) + 1))
    if expected[-1] is None:
        assert len(h.of(PushTimeout)) == len(expected)
        assert h.sent_events().count("new_msg") == len(expected)


def test_backoff_retries_at_the_exact_times() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Backoff([1, 5, 10], 30)))
    sends: list[float] = []
    for _ in range(6):
        before = h.sent_events().count("new_msg")
        # step through time in small exact jumps: find when each send happens
        while h.sent_events().count("new_msg") == before and h.now < 500:
            h.advance_to(min(h.timers.values()))
        sends.append(h.now)
    assert sends == [10.0 + 1, 21.0 + 5, 36.0 + 10, 56.0 + 30, 96.0 + 30, 136.0 + 30]


def test_countdown_is_whole_seconds_rounded_up() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Every(3), ref="x"))
    assert h.core.countdown(Match(ref="x"), h.now) is None  # in flight, no retry yet
    h.advance_to(10.0)
    assert h.core.countdown(Match(ref="x"), 10.0) == 3
    assert h.core.countdown(Match(ref="x"), 10.5) == 3
    assert h.core.countdown(Match(ref="x"), 11.0) == 2
    assert h.core.countdown(Match(ref="x"), 12.001) == 1
    assert h.core.countdown(Match(ref="x"), 13.0) == 0
    assert h.core.countdown(Match(ref="other"), 10.0) is None


def test_retry_while_not_joined_requeues_with_a_running_timeout() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Every(3), timeout=2.0))
    h.advance_to(2.0)
    h.close()
    h.advance_to(5.0)  # the retry: cannot push, so it queues, its 2 s timeout running
    assert [x.event for x in h.core.pushes("queued")] == ["new_msg"]
    h.advance_to(7.0)
    assert [t.attempt for t in h.of(PushTimeout)] == [1, 2]
    assert h.sent_events().count("new_msg") == 1


# --- join error, timeout, phx_error, phx_close ----------------------------------------


def test_join_error_errors_and_rejoins_on_the_schedule() -> None:
    h = Harness()
    h.open()
    h.join(call="c")
    delays = []
    for _ in range(5):
        start = h.now
        h.reply(h.last_sent("phx_join"), "error", {"reason": "unmatched topic"})
        assert h.state() is ChannelStatus.ERRORED
        delays.append(h.timers["rejoin"] - start)
        n = h.sent_events().count("phx_join")
        h.advance_to(math.nextafter(h.timers["rejoin"], 0))
        assert h.sent_events().count("phx_join") == n
        h.advance_to(h.timers["rejoin"])
        assert h.sent_events().count("phx_join") == n + 1
    assert delays == [1.0, 2.0, 5.0, 10.0, 10.0]
    errors = h.of(JoinError)
    assert [e.rejoin_in for e in errors] == delays
    assert errors[0].response == {"reason": "unmatched topic"}
    assert h.resolved == [("c", errors[0])]


def test_join_error_fails_queued_pushes_with_join_error() -> None:
    h = Harness()
    h.open()
    h.push(p("a"), "ca")
    h.reply(h.last_sent("phx_join"), "error", {"reason": "nope"})
    [err] = h.of(PushError)
    assert err == PushError(push=p("a"), response={"reason": "nope"}, status="join_error")
    assert h.resolved == [("ca", err)]
    assert list(h.core.pushes("queued")) == []


def test_successful_join_resets_the_rejoin_backoff() -> None:
    h = Harness()
    h.open()
    h.join()
    for _ in range(3):
        h.reply(h.last_sent("phx_join"), "error")
        h.advance_to(h.timers["rejoin"])
    h.reply(h.last_sent("phx_join"), "ok")
    h.receive(Message(h.core.join_ref, h.core.join_ref, TOPIC, "phx_error", {}))
    [errored] = h.of(ChannelErrored)
    assert errored.rejoin_in == 1.0


def test_join_timeout_leaves_with_the_stale_join_ref_then_rejoins() -> None:
    h = Harness()
    h.open()
    h.join(call="c", timeout=5.0)
    stale = h.last_sent("phx_join")
    h.advance_to(4.999)
    assert h.of(JoinTimeout) == []
    h.advance_to(5.0)
    leave = h.last_sent("phx_leave")
    assert leave.join_ref == stale.ref
    assert leave.ref != stale.ref
    [timeout] = h.of(JoinTimeout)
    assert timeout.rejoin_in == 1.0
    assert h.resolved == [("c", timeout)]
    assert h.state() is ChannelStatus.ERRORED
    h.advance_to(6.0)
    rejoin = h.last_sent("phx_join")
    assert rejoin.ref != stale.ref
    # a late ok for the stale join does not count as the rejoin's
    h.reply(stale, "ok")
    assert h.state() is ChannelStatus.JOINING
    h.reply(rejoin, "ok")
    assert h.state() is ChannelStatus.JOINED


def test_frames_for_the_stale_join_after_a_join_timeout_are_ignored() -> None:
    # The server may have joined late; it answers our phx_leave with ok and a
    # phx_close carrying the stale join_ref (PROTOCOL §3). phoenix.js resets the
    # join push, so joinRef() is null and isMember drops that close.
    h = Harness()
    h.open()
    h.join()
    stale = h.last_sent("phx_join")
    h.advance_to(10.0)
    leave = h.last_sent("phx_leave")
    h.reply(leave, "ok")
    h.receive(Message(stale.ref, stale.ref, TOPIC, "phx_close", {}))
    assert h.of(ChannelClosed) == []
    assert h.finished == 0
    h.advance_to(11.0)
    assert h.last_sent("phx_join").ref != stale.ref


def test_phx_error_errors_and_rejoins_after_one_second() -> None:
    h = Harness()
    join = h.joined()
    h.advance_to(3.0)
    h.receive(Message(join.ref, join.ref, TOPIC, "phx_error", {"reason": "channel_crash"}))
    [errored] = h.of(ChannelErrored)
    assert errored == ChannelErrored(
        topic=TOPIC, payload={"reason": "channel_crash"}, rejoin_in=1.0
    )
    assert h.state() is ChannelStatus.ERRORED
    h.advance_to(3.999)
    assert h.sent_events().count("phx_join") == 1
    h.advance_to(4.0)
    assert h.sent_events().count("phx_join") == 2
    h.reply(h.last_sent("phx_join"))
    assert h.of(JoinOk)[-1].rejoin is True


def test_phx_error_while_joining_drops_the_join() -> None:
    h = Harness()
    h.open()
    h.join()
    join = h.last_sent("phx_join")
    h.receive(Message(None, None, TOPIC, "phx_error", {}))
    assert h.state() is ChannelStatus.ERRORED
    assert "join" not in h.timers
    h.reply(join, "ok")  # the dropped join's reply no longer joins
    assert h.state() is ChannelStatus.ERRORED


def test_phx_close_closes_for_good() -> None:
    h = Harness()
    join = h.joined()
    h.push(p("inflight"), "c1")
    h.receive(Message(join.ref, join.ref, TOPIC, "phx_close", {"bye": 1}))
    assert h.of(ChannelClosed) == [ChannelClosed(topic=TOPIC, payload={"bye": 1})]
    assert h.finished == 1
    assert h.state() is ChannelStatus.CLOSED
    assert h.timers == {}
    assert [r.status for _, r in h.resolved if isinstance(r, PushError)] == ["closed"]
    h.close()
    h.open()
    h.advance(100)
    assert h.sent_events().count("phx_join") == 1


# --- stale join_ref, broadcasts, presence ------------------------------------------


@pytest.mark.parametrize("event", ["phx_reply", "new_msg", "phx_close", "phx_error"])
def test_frames_with_a_stale_join_ref_are_ignored(event: str) -> None:
    h = Harness()
    h.joined()
    h.push(p("a"))
    sent = h.last_sent("a")
    before = list(h.events)
    payload = {"status": "ok", "response": {}} if event == "phx_reply" else {}
    assert h.receive(Message("stale", sent.ref, TOPIC, event, payload)) == []
    assert h.events == before
    assert h.state() is ChannelStatus.JOINED


def test_frames_for_another_topic_are_ignored() -> None:
    h = Harness()
    join = h.joined()
    assert h.receive(Message(join.ref, None, "room:other", "new_msg", {})) == []


def test_null_join_ref_broadcast_and_current_join_ref_push_are_delivered() -> None:
    h = Harness()
    join = h.joined()
    h.receive(Message(None, None, TOPIC, "shout", {"n": 1}))
    h.receive(Message(join.ref, None, TOPIC, "whisper", {"n": 2}))
    assert h.of(ChannelEvent) == [
        ChannelEvent(topic=TOPIC, event="shout", payload={"n": 1}),
        ChannelEvent(topic=TOPIC, event="whisper", payload={"n": 2}),
    ]


def test_presence_frames_are_forwarded_with_the_current_join_ref() -> None:
    h = Harness()
    join = h.joined()
    state = Message(join.ref, None, TOPIC, "presence_state", {})
    diff = Message(None, None, TOPIC, "presence_diff", {"joins": {}, "leaves": {}})
    h.receive(state)
    h.receive(diff)
    assert h.forwards == [Forward(state, join.ref), Forward(diff, join.ref)]
    assert h.of(ChannelEvent) == []  # not delivered as events by default


def _deliver(h: Harness, *events: str) -> list[str]:
    h.events.clear()
    for event in events:
        h.receive(Message(None, None, TOPIC, event, {}))
    return [e.event for e in h.of(ChannelEvent)]


def test_event_filter() -> None:
    h = Harness()
    h.joined()
    assert _deliver(h, "a", "b", "presence_diff") == ["a", "b"]
    h.core.filter.drop(["a"])
    assert _deliver(h, "a", "b") == ["b"]
    h.core.filter.add(["a"])
    assert _deliver(h, "a", "b") == ["a", "b"]
    h.core.filter.only = {"b"}
    assert _deliver(h, "a", "b", "c") == ["b"]
    h.core.filter.add(["presence_diff"])
    assert _deliver(h, "a", "presence_diff") == ["presence_diff"]
    h.core.filter.drop(["b"])
    assert _deliver(h, "b") == []


# --- leave --------------------------------------------------------------------------


def test_leave_ok_closes_and_finishes() -> None:
    h = Harness()
    join = h.joined()
    h.leave(call="l")
    leave = h.last_sent("phx_leave")
    assert leave.join_ref == join.ref
    assert h.state() is ChannelStatus.LEAVING
    h.reply(leave, "ok")
    assert h.of(LeaveOk) == [LeaveOk(topic=TOPIC)]
    assert h.resolved == [("l", LeaveOk(topic=TOPIC))]
    assert h.finished == 1
    assert h.state() is ChannelStatus.CLOSED


def test_leave_timeout_also_closes() -> None:
    h = Harness()
    h.joined()
    h.leave(timeout=2.0)
    h.advance_to(1.999)
    assert h.of(LeaveOk) == []
    h.advance_to(2.0)
    assert h.of(LeaveOk) == [LeaveOk(topic=TOPIC)]
    assert h.finished == 1


def test_leave_while_socket_closed_closes_at_once() -> None:
    h = Harness()
    h.joined()
    h.close()
    n = len(h.sent)
    h.leave(call="l")
    assert len(h.sent) == n
    assert h.of(LeaveOk) == [LeaveOk(topic=TOPIC)]
    assert h.finished == 1


def test_leave_fails_waiting_pushes_and_never_rejoins() -> None:
    h = Harness()
    h.open()
    h.push(p("queued"), "q")
    h.leave()
    assert [r.status for _, r in h.resolved if isinstance(r, PushError)] == ["left"]
    h.close()
    h.open()
    h.advance(100)
    assert h.of(ChannelErrored) == []
    assert h.sent_events().count("phx_join") == 1


def test_a_push_made_while_leaving_fails_when_the_leave_completes() -> None:
    h = Harness()
    h.joined()
    h.leave()
    h.push(p("late"), "late")
    assert h.state() is ChannelStatus.LEAVING
    h.reply(h.last_sent("phx_leave"))
    [(call, err)] = [(c, r) for c, r in h.resolved if isinstance(r, PushError)]
    assert (call, err.status) == ("late", "left")
    assert not h.core.wants_join
    assert list(h.core.pushes("queued")) == []


def test_leaving_channel_takes_no_transport_error() -> None:
    h = Harness()
    h.joined()
    h.leave()
    h.close()
    assert h.of(ChannelErrored) == []
    assert h.of(LeaveOk) == [LeaveOk(topic=TOPIC)]
    h.open()
    assert h.sent_events().count("phx_join") == 1


# --- socket -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["connection_closed", "heartbeat_timeout"])
def test_socket_closed_errors_a_joined_channel_once(reason: str) -> None:
    h = Harness()
    h.joined()
    h.close(reason)
    h.close(reason)
    assert h.of(ChannelErrored) == [
        ChannelErrored(topic=TOPIC, payload={"source": "transport", "reason": reason})
    ]
    assert h.state() is ChannelStatus.ERRORED
    assert h.timers == {}


def test_socket_opened_rejoins_an_errored_channel_at_once() -> None:
    h = Harness()
    h.joined()
    h.close()
    h.advance(50)
    assert h.sent_events() == ["phx_join"]
    h.open()
    assert h.sent_events() == ["phx_join", "phx_join"]


def test_rejoin_timer_firing_while_socket_down_does_nothing() -> None:
    h = Harness()
    join = h.joined()
    h.receive(Message(join.ref, join.ref, TOPIC, "phx_error", {}))
    at = h.timers["rejoin"]
    h.core.socket_open = False  # the socket went down without a notice yet
    assert h.core.timer(at, "rejoin", at) == []
    assert h.sent_events() == ["phx_join"]


def test_stale_timers_are_no_ops() -> None:
    h = Harness()
    h.open()
    h.join()
    first = h.timers["join"]
    h.reply(h.last_sent("phx_join"), "error")
    h.advance_to(h.timers["rejoin"])  # rejoin moves the join timer
    assert h.timers["join"] != first
    for name in ("join", "rejoin", "push", "leave", "nonsense"):
        assert h.core.timer(first, name, first) == []
    assert h.core.timer(h.timers["join"], "join", h.timers["join"] - 1) == []


# --- drops --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Match(topic=TOPIC), 3),
        (Match(topic="room:other"), 0),
        (Match(event="b"), 1),
        (Match(ref="r1"), 1),
        (Match(where=lambda push: push.event in {"a", "c"}), 2),
        (Match(event="a", ref="r2"), 0),
    ],
)
def test_drop_by_match(match: Match, expected: int) -> None:
    h = Harness()
    h.open()
    h.push(p("a", ref="r1"))
    h.push(p("b", ref="r2"))
    h.push(p("c"))
    assert h.core.drop(match, ("queued",)) == expected
    h.reply(h.last_sent("phx_join"))
    assert len([m for m in h.sent if m.event != "phx_join"]) == 3 - expected


def test_drop_only_where_asked() -> None:
    h = Harness()
    h.joined()
    h.push(p("inflight"))
    assert h.core.drop(Match(), ("queued", "timed_out")) == 0
    assert h.core.drop(Match(), ("in_flight",)) == 1
    h.reply(h.last_sent("inflight"))  # forgotten: its reply is ignored
    h.advance(100)
    assert h.of(PushOk) == []
    assert h.of(PushTimeout) == []


def test_a_dropped_timed_out_push_is_never_retried() -> None:
    h = Harness()
    h.joined()
    h.push(p(retry=Every(3), ref="x"))
    h.advance_to(10.0)
    assert h.core.drop(Match(ref="x"), ("timed_out",)) == 1
    assert h.core.countdown(Match(ref="x"), h.now) is None
    h.advance(100)
    assert h.sent_events().count("new_msg") == 1
    assert len(h.of(PushTimeout)) == 1


# --- restart --------------------------------------------------------------------------


def test_reset_for_restart_keeps_pushes_and_rejoins() -> None:
    h = Harness()
    h.joined()
    h.push(p("inflight"), "c")
    h.core.reset_for_restart()
    h.timers.clear()
    assert h.state() is ChannelStatus.ERRORED
    assert [x.event for x in h.core.pushes("queued")] == ["inflight"]
    h.join()
    h.reply(h.last_sent("phx_join"))
    assert h.sent_events() == ["phx_join", "inflight", "phx_join", "inflight"]


def test_reset_for_restart_rearms_the_push_timer() -> None:
    h = Harness()
    h.open()
    h.push(p("queued", timeout=5.0), "c")
    h.core.reset_for_restart()
    h.timers.clear()  # the crashed actor's timers are gone
    h.join()  # the restarted actor rejoins; the server never answers
    h.advance_to(5.0)
    assert [t.push.event for t in h.of(PushTimeout)] == ["queued"]


# --- hypothesis: random inputs ----------------------------------------------------------


FINAL = (PushOk, PushError, PushTimeout)


class ChannelMachine(RuleBasedStateMachine):
    """Random inputs; every push ends in one final outcome or stays tracked."""

    def __init__(self) -> None:
        super().__init__()
        # sweep the timer heap early, so random runs go through sweeps too
        self._compact_from = channel_module.HEAP_COMPACT_FROM
        channel_module.HEAP_COMPACT_FROM = 4  # type: ignore[misc]
        self.h = Harness()
        self.calls = itertools.count(1)
        self.outcomes: dict[str, list[Any]] = {}
        self.dropped: set[str] = set()

    def teardown(self) -> None:
        channel_module.HEAP_COMPACT_FROM = self._compact_from  # type: ignore[misc]

    def _record(self) -> None:
        for call, result in self.h.resolved:
            if isinstance(call, str) and call.startswith("push-"):
                self.outcomes.setdefault(call, []).append(result)
        self.h.resolved.clear()

    @rule(
        event=st.sampled_from(["a", "b"]),
        retry=st.sampled_from([Drop(), Every(2), Backoff([1], None)]),
        timeout=st.sampled_from([None, 1.0, 3.0]),
    )
    def push(self, event: str, retry: Any, timeout: float | None) -> None:
        call = f"push-{next(self.calls)}"
        self.outcomes[call] = []
        self.h.push(Push(TOPIC, event, {}, timeout=timeout, retry=retry, ref=call), call)
        self._record()

    @rule()
    def join(self) -> None:
        self.h.join()
        self._record()

    @rule()
    def leave(self) -> None:
        self.h.leave()
        self._record()

    @rule()
    def socket_open(self) -> None:
        if not self.h.core.socket_open:
            self.h.open()

    @rule(reason=st.sampled_from(["connection_closed", "heartbeat_timeout"]))
    def socket_close(self, reason: str) -> None:
        if self.h.core.socket_open:
            self.h.close(reason)
        self._record()

    @rule(dt=st.sampled_from([0.5, 1.0, 2.5, 10.0]))
    def advance(self, dt: float) -> None:
        self.h.advance(dt)
        self._record()

    @precondition(lambda self: bool(self.h.sent))
    @rule(
        index=st.integers(min_value=0, max_value=50),
        status=st.sampled_from(["ok", "error", "pending"]),
    )
    def reply(self, index: int, status: str) -> None:
        msg = self.h.sent[index % len(self.h.sent)]
        if msg.event != "heartbeat":
            self.h.reply(msg, status)
        self._record()

    @rule(kind=st.sampled_from(["phx_error", "phx_close", "shout"]), stale=st.booleans())
    def server_frame(self, kind: str, stale: bool) -> None:
        jr = "stale" if stale else self.h.core.join_ref
        self.h.receive(Message(jr, jr, TOPIC, kind, {}))
        self._record()

    @rule(where=st.sampled_from(["queued", "in_flight", "timed_out"]))
    def drop(self, where: Any) -> None:
        self.dropped.update(x.ref for x in self.h.core.pushes(where) if x.ref)
        self.h.core.drop(Match(), (where,))

    @invariant()
    def unresolved_pushes_stay_tracked(self) -> None:
        tracked = {
            x.ref for w in ("queued", "in_flight", "timed_out") for x in self.h.core.pushes(w)
        }
        for call, results in self.outcomes.items():
            if not results and call not in self.dropped:
                assert call in tracked, (call, tracked)

    @invariant()
    def each_ask_resolved_at_most_once(self) -> None:
        for call, results in self.outcomes.items():
            assert len(results) <= 1, (call, results)
            assert all(isinstance(r, FINAL) for r in results)

    @invariant()
    def in_flight_refs_unique_and_tracked(self) -> None:
        core = self.h.core
        refs = [r.ref for r in core._pushes.values() if r.where == "in_flight"]
        assert len(refs) == len(set(refs))
        assert set(refs) == set(core._in_flight)
        assert set(core._queue) == {i for i, r in core._pushes.items() if r.where == "queued"}

    @invariant()
    def tracked_pushes_have_a_timer(self) -> None:
        core = self.h.core
        if core._pushes and core.status is not ChannelStatus.CLOSED:
            assert "push" in self.h.timers

    @invariant()
    def refs_unique_in_what_was_sent(self) -> None:
        refs = [m.ref for m in self.h.sent]
        assert len(refs) == len(set(refs))


TestChannelMachine = ChannelMachine.TestCase
TestChannelMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
