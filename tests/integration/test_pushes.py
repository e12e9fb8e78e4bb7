"""Pushes end to end: the queue, timeouts, retry strategies, Match queries, drops, binary."""

from __future__ import annotations

import threading

from phoenix_actors import (
    AskTimeoutError,
    Backoff,
    DropPush,
    DropQueuedPush,
    DropTimeoutPush,
    Every,
    GetAllQueuedPushes,
    GetChannelQueued,
    GetPushCountdown,
    GetPushInFlight,
    GetPushQueued,
    GetPushTimedOut,
    GetPushWaiting,
    GetQueuedChannels,
    GetQueuedPushes,
    GetTimedOutPushes,
    Join,
    JoinOk,
    Match,
    Push,
    PushError,
    PushOk,
    PushTimeout,
)
from phoenix_actors.server import LoopbackServer
from tests.integration.conftest import LOBBY, WAIT, MakeClient, Session


def joined(session: Session, topic: str = LOBBY) -> None:
    assert isinstance(session.client.ask(Join(topic), timeout=WAIT), JoinOk)


def by_ref(ref: str) -> Match:
    return Match(ref=ref)


# --- the queue ---------------------------------------------------------------------------


def test_push_waits_in_the_queue_until_its_channel_joins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    server.faults.delay_replies(0.5)  # the join reply takes a while
    push = Push(LOBBY, "ping", {"q": 1}, ref="queued-1")
    s.client.tell(push)
    assert s.client.ask(GetQueuedPushes(LOBBY)) == [push]
    assert s.client.ask(GetAllQueuedPushes()) == {LOBBY: [push]}
    assert s.client.ask(GetPushQueued(by_ref("queued-1"))) is True
    assert s.client.ask(GetPushWaiting(by_ref("queued-1"))) is True
    assert s.client.ask(GetChannelQueued(LOBBY)) is True
    assert s.client.ask(GetQueuedChannels()) == [LOBBY]
    done = s.events.wait_for(PushOk, timeout=WAIT)
    assert (done.push, done.response) == (push, {"q": 1})
    assert s.events.of_type(JoinOk)  # the join came first
    assert s.client.ask(GetQueuedPushes(LOBBY)) == []
    assert s.client.ask(GetPushWaiting(by_ref("queued-1"))) is False


def test_push_on_a_joined_channel_is_sent_at_once(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "slow", {"ms": 500}, ref="slow-1")
    s.client.tell(push)
    assert s.client.ask(GetQueuedPushes(LOBBY)) == []
    assert s.client.ask(GetPushQueued(by_ref("slow-1"))) is False
    assert s.client.ask(GetPushInFlight(by_ref("slow-1"))) is True
    assert s.client.ask(GetPushWaiting(by_ref("slow-1"))) is True
    assert s.events.wait_for(PushOk, timeout=WAIT).push == push
    assert s.client.ask(GetPushInFlight(by_ref("slow-1"))) is False


def test_match_selects_by_topic_event_ref_and_predicate(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    s.client.tell(Push(LOBBY, "slow", {"ms": 500, "k": 7}, ref="mine"))
    client = s.client
    assert client.ask(GetPushInFlight(Match(topic=LOBBY, event="slow"))) is True
    assert client.ask(GetPushInFlight(Match(event="ping"))) is False
    assert client.ask(GetPushInFlight(Match(topic="room:other"))) is False
    assert client.ask(GetPushInFlight(Match(ref="other"))) is False
    assert client.ask(GetPushInFlight(Match(where=lambda p: p.payload.get("k") == 7))) is True
    assert client.ask(GetPushInFlight(Match(where=lambda p: p.payload.get("k") == 8))) is False
    s.events.wait_for(PushOk, timeout=WAIT)


def test_error_reply_answers_push_error(connect: MakeClient) -> None:
    s = connect()
    outcome = s.client.ask(Push(LOBBY, "error_reply"), timeout=WAIT)
    assert isinstance(outcome, PushError)
    assert (outcome.status, outcome.response) == ("error", {"reason": "asked"})


def test_async_reply_answers_later(connect: MakeClient) -> None:
    s = connect()
    outcome = s.client.ask(Push(LOBBY, "async_reply", {"ms": 50, "v": 2}), timeout=WAIT)
    assert isinstance(outcome, PushOk)
    assert outcome.response == {"ms": 50, "v": 2}


# --- timeouts and retries ----------------------------------------------------------------


def test_push_timeout_fires_after_the_push_timeout(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "noreply", timeout=0.2)
    outcome = s.client.ask(push, timeout=2.0)  # the socket's 2 s timeout would be too late
    assert outcome == PushTimeout(push=push, retry_in=None, attempt=1)
    assert s.client.ask(GetPushWaiting(Match(event="noreply"))) is False


def test_every_retries_a_timed_out_push_which_then_succeeds(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    joined(s)
    server.faults.drop_replies(1)  # the first answer is lost
    push = Push(LOBBY, "ping", {"try": 1}, timeout=0.2, retry=Every(0.2), ref="every")
    first = s.client.ask(push, timeout=WAIT)
    assert first == PushTimeout(push=push, retry_in=0.2, attempt=1)
    assert s.client.ask(GetPushTimedOut(by_ref("every"))) is True
    assert s.client.ask(GetTimedOutPushes()) == {LOBBY: [push]}
    resent = s.events.wait_for(PushOk, timeout=WAIT)
    assert (resent.push, resent.response) == (push, {"try": 1})
    assert s.client.ask(GetPushWaiting(by_ref("every"))) is False


def test_every_keeps_retrying_until_dropped(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "noreply", timeout=0.1, retry=Every(0.1), ref="forever")
    s.client.tell(push)
    for attempt in (1, 2, 3):
        timeout = s.events.wait_for(PushTimeout, timeout=WAIT)
        assert (timeout.attempt, timeout.retry_in) == (attempt, 0.1)
    assert s.client.ask(DropPush(by_ref("forever"))) == 1
    assert s.client.ask(GetPushWaiting(by_ref("forever"))) is False


def test_backoff_without_max_drops_after_its_steps(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "noreply", timeout=0.1, retry=Backoff([0.1, 0.2], max=None), ref="bo")
    s.client.tell(push)
    seen = [s.events.wait_for(PushTimeout, timeout=WAIT) for _ in range(3)]
    assert [(t.attempt, t.retry_in) for t in seen] == [(1, 0.1), (2, 0.2), (3, None)]
    assert s.client.ask(GetPushWaiting(by_ref("bo"))) is False
    assert s.client.ask(GetPushCountdown(by_ref("bo"))) is None


def test_push_countdown_is_whole_seconds_while_waiting_to_retry(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "noreply", timeout=0.1, retry=Every(5.0), ref="cd")
    assert s.client.ask(push, timeout=WAIT) == PushTimeout(push=push, retry_in=5.0, attempt=1)
    countdown = s.client.ask(GetPushCountdown(by_ref("cd")))
    assert isinstance(countdown, int)
    assert 1 <= countdown <= 5
    assert s.client.ask(GetPushCountdown(by_ref("other"))) is None


# --- drops -------------------------------------------------------------------------------


def test_drop_push_cancels_a_queued_push(connect: MakeClient, server: LoopbackServer) -> None:
    s = connect()
    server.faults.delay_replies(0.3)
    s.client.tell(Push(LOBBY, "ping", {"n": 1}, ref="gone"))
    s.client.tell(Push(LOBBY, "ping", {"n": 2}, ref="kept"))
    assert s.client.ask(DropPush(by_ref("gone"))) == 1
    assert [p.ref for p in s.client.ask(GetQueuedPushes(LOBBY))] == ["kept"]
    assert s.events.wait_for(PushOk, timeout=WAIT).push.ref == "kept"
    assert [e.push.ref for e in s.events.of_type(PushOk)] == ["kept"]


def test_drop_queued_push_leaves_timed_out_pushes_alone(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    joined(s)
    s.client.ask(Push(LOBBY, "noreply", timeout=0.1, retry=Every(5.0), ref="waiting"))
    assert s.client.ask(DropQueuedPush(Match(topic=LOBBY))) == 0
    assert s.client.ask(GetPushTimedOut(by_ref("waiting"))) is True
    server.faults.delay_replies(0.3)
    s.client.tell(Push("room:q", "ping", ref="queued"))
    assert s.client.ask(DropQueuedPush(Match(topic="room:q"))) == 1
    assert s.client.ask(GetPushQueued(by_ref("queued"))) is False


def test_drop_timeout_push_stops_the_retries(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    push = Push(LOBBY, "noreply", timeout=0.1, retry=Every(5.0), ref="retry")
    assert s.client.ask(push, timeout=WAIT) == PushTimeout(push=push, retry_in=5.0, attempt=1)
    assert s.client.ask(DropTimeoutPush(by_ref("retry"))) == 1
    assert s.client.ask(GetPushTimedOut(by_ref("retry"))) is False
    assert s.client.ask(GetPushCountdown(by_ref("retry"))) is None
    assert s.client.ask(GetTimedOutPushes()) == {}


# --- binary ------------------------------------------------------------------------------


def test_binary_push_gets_a_binary_reply(connect: MakeClient) -> None:
    s = connect()
    data = bytes(range(256))
    outcome = s.client.ask(Push(LOBBY, "binary", data), timeout=WAIT)
    assert isinstance(outcome, PushOk)
    assert outcome.response == data
    assert isinstance(outcome.response, bytes)


def test_binary_ping_echoes_bytes(connect: MakeClient) -> None:
    s = connect()
    outcome = s.client.ask(Push(LOBBY, "ping", b"\x00\xffhi"), timeout=WAIT)
    assert isinstance(outcome, PushOk)
    assert outcome.response == b"\x00\xffhi"


def test_json_payload_to_the_binary_event_is_an_error(connect: MakeClient) -> None:
    s = connect()
    outcome = s.client.ask(Push(LOBBY, "binary", {"not": "bytes"}), timeout=WAIT)
    assert isinstance(outcome, PushError)
    assert outcome.response == {"reason": "expected binary payload"}


def test_asked_push_that_is_dropped_answers_at_once(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect()
    server.faults.delay_replies(1.0)  # keeps the push queued behind the join
    outcome: list[object] = []

    def asker() -> None:
        try:
            outcome.append(s.client.ask(Push(LOBBY, "ping", ref="asked"), timeout=2.0))
        except AskTimeoutError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=asker, name="test-asker")
    thread.start()
    deadline_checks = 10_000  # each check is one actor round trip: a bounded wait
    while not s.client.ask(GetPushQueued(by_ref("asked"))):
        deadline_checks -= 1
        assert deadline_checks > 0, "the asked push never got queued"
    assert s.client.ask(DropPush(by_ref("asked"))) == 1
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert not isinstance(outcome[0], AskTimeoutError), outcome
