"""Real actors on a FakeClock and the in-memory transport: no sockets, no sleeps."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pykka
import pytest

from phoenix_actors.actors.supervisor import Supervisor
from phoenix_actors.client import Client
from phoenix_actors.errors import ClientClosedError, InvalidArgumentError, InvalidTypeError
from phoenix_actors.messages import (
    Backoff,
    ChannelErrored,
    ChannelEvent,
    ClientFailed,
    Connect,
    DropTimeoutPush,
    Event,
    Every,
    GetPushCountdown,
    GetPushTimedOut,
    InternalError,
    Join,
    JoinOk,
    Match,
    Push,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketError,
    SocketOpened,
)
from phoenix_actors.protocol.channel import ChannelCore
from phoenix_actors.protocol.frames import Message
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork

from .conftest import ENDPOINT, TOPIC, WAIT, connect, eventually, join, started, wait_armed

CHANNEL = f"channel:{TOPIC}"


def test_first_push_connects_joins_and_sends_the_queue_after_the_join(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Push(TOPIC, "a", {"n": 1}))
    client.tell(Push(TOPIC, "b", {"n": 2}))
    server = network.wait_for_transport(timeout=WAIT)
    assert server.url == f"{ENDPOINT}/websocket?vsn=2.0.0"
    joined = server.expect_join(TOPIC, timeout=WAIT)
    assert joined.join_ref == joined.ref
    server.refute_sent(lambda _f: True, within=0.05)  # nothing but the join before its reply
    server.reply(joined, "ok", {"hi": 1})
    a = server.expect_push(TOPIC, "a", timeout=WAIT)
    b = server.expect_push(TOPIC, "b", timeout=WAIT)
    assert (a.join_ref, b.join_ref) == (joined.ref, joined.ref)
    assert a.payload == {"n": 1}
    assert int(a.ref or 0) < int(b.ref or 0)
    events = [server.serializer.decode(d, binary=x) for d, x in server.sent]
    assert [m.event for m in events] == ["phx_join", "a", "b"]
    server.reply(b, "ok", {"b": True})
    server.reply(a, "ok", {"a": True})
    ok_b = recorder.wait_for(PushOk, timeout=WAIT)
    ok_a = recorder.wait_for(PushOk, timeout=WAIT)
    assert (ok_b.push.event, ok_b.response) == ("b", {"b": True})
    assert (ok_a.push.event, ok_a.response) == ("a", {"a": True})
    assert recorder.of_type(JoinOk)[0].response == {"hi": 1}


def test_heartbeats_follow_the_fake_clock_and_a_missing_reply_reconnects(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Connect())
    server = connect(network, client, recorder)
    wait_armed(client, "socket", "heartbeat", 30.0)
    clock.advance(29.9)
    server.refute_sent(within=0.05)
    clock.advance(0.1)
    beat = server.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
    assert (beat.join_ref, beat.event, beat.payload) == (None, "heartbeat", {})
    # the send armed the timer at 60.0 (its timeout); reply a second later so the
    # re-arm after the reply (at 61.0) is a barrier that the reply was handled
    clock.advance(1.0)
    server.reply(beat)
    wait_armed(client, "socket", "heartbeat", 61.0)
    clock.advance(30.0)
    beat2 = server.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
    assert beat2.ref != beat.ref
    wait_armed(client, "socket", "heartbeat", 91.0)
    clock.advance(30.0)  # no reply: the heartbeat timed out
    closed = recorder.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.reason, closed.will_reconnect) == (1000, "heartbeat timeout", True)
    assert server.wait_closed(timeout=WAIT)[:2] == (1000, "heartbeat timeout")
    wait_armed(client, "socket", "reconnect", 91.01)
    clock.advance(0.01)
    again = network.wait_for_transport(timeout=WAIT)
    assert again is not server
    recorder.wait_for(SocketOpened, timeout=WAIT)


def test_heartbeat_timeout_errors_the_channel_and_it_rejoins_on_reconnect(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Join(TOPIC))
    server = connect(network, client, recorder)
    first = join(server, recorder)
    clock.advance(30.0)
    server.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
    wait_armed(client, "socket", "heartbeat", 60.0)
    clock.advance(30.0)
    errored = recorder.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload == {"source": "transport", "reason": "heartbeat_timeout"}
    wait_armed(client, "socket", "reconnect")
    clock.advance(0.01)
    again = network.wait_for_transport(timeout=WAIT)
    second = join(again, recorder)
    assert second.ref != first.ref
    assert recorder.of_type(JoinOk)[-1].rejoin is True


def test_reconnect_schedule_over_failed_connects_then_reset_on_open(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    network.refuse(None)
    client.tell(Connect())
    network.wait_for_transport(timeout=WAIT)
    for delay in (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 5.0):
        failed = recorder.wait_for(SocketClosed, timeout=WAIT)
        assert failed.will_reconnect
        assert failed.reconnect_in == pytest.approx(delay)
        at = wait_armed(client, "socket", "reconnect")
        assert at - clock.now() == pytest.approx(delay)
        clock.advance(delay / 2)
        assert len(network.transports) == len(recorder.of_type(SocketClosed))
        clock.advance(delay / 2)
        network.wait_for_transport(timeout=WAIT)
    assert len(recorder.of_type(SocketError)) >= 11
    network.allow()
    recorder.wait_for(SocketClosed, timeout=WAIT)
    clock.advance(5.0)
    server = connect(network, client, recorder)
    server.drop()
    closed = recorder.wait_for(SocketClosed, lambda e: e.code == 1006, timeout=WAIT)
    assert closed.reconnect_in == pytest.approx(0.01)


def test_rejoin_after_phx_error(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Join(TOPIC))
    server = connect(network, client, recorder)
    first = join(server, recorder)
    server.deliver_message(
        Message(first.ref, first.ref, TOPIC, "phx_error", {"reason": "channel_crash"})
    )
    errored = recorder.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.rejoin_in == 1.0
    wait_armed(client, CHANNEL, "rejoin", 1.0)
    clock.advance(0.999)
    server.refute_sent(within=0.05)
    clock.advance(0.001)
    second = join(server, recorder)
    assert second.ref != first.ref
    assert recorder.of_type(JoinOk)[-1].rejoin is True


def test_push_timeout_countdown_and_retry_then_drop_timeout_push(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Join(TOPIC))
    server = connect(network, client, recorder)
    join(server, recorder)
    client.tell(Push(TOPIC, "save", {"x": 1}, retry=Every(3), ref="x"))
    first = server.expect_push(TOPIC, "save", timeout=WAIT)
    wait_armed(client, CHANNEL, "push", 10.0)
    clock.advance(10.0)
    timeout = recorder.wait_for(PushTimeout, timeout=WAIT)
    assert (timeout.retry_in, timeout.attempt, timeout.push.ref) == (3.0, 1, "x")
    assert client.ask(GetPushCountdown(Match(ref="x")), timeout=WAIT) == 3
    assert client.ask(GetPushTimedOut(Match(ref="x")), timeout=WAIT) is True
    clock.advance(1.5)
    assert client.ask(GetPushCountdown(Match(ref="x")), timeout=WAIT) == 2
    clock.advance(1.5)
    second = server.expect_push(TOPIC, "save", timeout=WAIT)
    assert second.ref != first.ref
    assert client.ask(GetPushCountdown(Match(ref="x")), timeout=WAIT) is None
    wait_armed(client, CHANNEL, "push", 23.0)
    clock.advance(10.0)
    again = recorder.wait_for(PushTimeout, timeout=WAIT)
    assert again.attempt == 2
    assert client.ask(DropTimeoutPush(Match(ref="x")), timeout=WAIT) == 1
    assert client.ask(GetPushCountdown(Match(ref="x")), timeout=WAIT) is None
    clock.advance(100.0)
    client.ask(GetPushTimedOut(Match()), timeout=WAIT)  # barrier: the channel saw the ticks
    server.refute_sent(lambda f: b"save" in f[0], within=0.05)


def test_ask_push_answers_the_first_timeout(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Join(TOPIC))
    server = connect(network, client, recorder)
    join(server, recorder)
    answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
    push = Push(TOPIC, "save", timeout=2.0, retry=Backoff([1], None))

    def ask() -> None:
        answers.put(client.ask(push, timeout=WAIT))

    thread = threading.Thread(target=ask, name="asker")
    thread.start()
    server.expect_push(TOPIC, "save", timeout=WAIT)
    wait_armed(client, CHANNEL, "push", 2.0)
    clock.advance(2.0)
    answer = answers.get(timeout=WAIT)
    thread.join(WAIT)
    assert answer == PushTimeout(push=push, retry_in=1.0, attempt=1)


def test_malformed_frame_reports_internal_error_and_the_socket_keeps_working(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    client.tell(Join(TOPIC))
    server = connect(network, client, recorder)
    first = join(server, recorder)
    server.deliver(b"this is not json")
    server.deliver(b'["too", "short"]')
    err = recorder.wait_for(InternalError, timeout=WAIT)
    assert "malformed" in err.reason
    recorder.wait_for(InternalError, timeout=WAIT)
    server.push(TOPIC, "hello", {"still": "here"}, join_ref=first.ref)
    event = recorder.wait_for(ChannelEvent, timeout=WAIT)
    assert (event.event, event.payload) == ("hello", {"still": "here"})
    assert recorder.of_type(SocketClosed) == []


def test_a_raising_subscriber_does_not_stop_delivery_to_others(
    clock: FakeClock, network: MemoryNetwork
) -> None:
    calls: list[Event] = []

    def bad(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("subscriber bug")

    after = EventRecorder()
    with started(Client(ENDPOINT, clock=clock, transport=network)) as client:
        client.subscribe(bad)
        client.subscribe(after)
        client.tell(Connect())
        after.wait_for(SocketOpened, timeout=WAIT)
        assert any(isinstance(e, SocketOpened) for e in calls)


class _Collector(pykka.ThreadingActor):
    def __init__(self, sink: queue.SimpleQueue[Any]) -> None:
        super().__init__()
        self.sink = sink

    def on_receive(self, message: Any) -> Any:
        self.sink.put(message)


def test_an_actor_ref_subscriber_gets_events_by_tell(
    client: Client, network: MemoryNetwork
) -> None:
    sink: queue.SimpleQueue[Any] = queue.SimpleQueue()
    ref = _Collector.start(sink)
    try:
        unsubscribe = client.subscribe(ref)
        client.tell(Connect())
        while not isinstance(event := sink.get(timeout=WAIT), SocketOpened):
            assert isinstance(event, Event)
        unsubscribe()
    finally:
        ref.stop()


def test_supervisor_restarts_a_crashed_channel_which_rejoins_with_its_queue(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: Any
) -> None:
    original = ChannelCore.receive
    crashes: list[Message] = []

    def flaky(self: ChannelCore, now: float, msg: Message) -> Any:
        if not crashes and msg.event == "phx_reply":
            crashes.append(msg)
            raise RuntimeError("injected bug")
        return original(self, now, msg)

    monkeypatch.setattr(ChannelCore, "receive", flaky)
    client.tell(Push(TOPIC, "queued", {"keep": "me"}))
    server = connect(network, client, recorder)
    old = client._rt.registry[TOPIC]
    first = server.expect_join(TOPIC, timeout=WAIT)
    server.reply(first)  # this reply crashes the channel actor
    crash = recorder.wait_for(InternalError, timeout=WAIT)
    assert crash.topic == TOPIC
    assert "injected bug" in crash.error

    def replaced() -> bool:
        ref = client._rt.registry.get(TOPIC)
        return ref is not None and ref is not old and ref.is_alive()

    eventually(client, replaced, "a new channel actor registered")
    second = join(server, recorder)
    assert second.ref != first.ref
    pushed = server.expect_push(TOPIC, "queued", timeout=WAIT)
    assert (pushed.join_ref, pushed.payload) == (second.ref, {"keep": "me"})
    assert not old.is_alive()


def test_restart_intensity_exceeded_stops_the_client(
    clock: FakeClock, network: MemoryNetwork, monkeypatch: Any
) -> None:
    def broken(self: ChannelCore, now: float, push: Push, call: Any = None) -> Any:
        raise RuntimeError("always broken")

    monkeypatch.setattr(ChannelCore, "push", broken)
    recorder = EventRecorder()
    client = started(Client(ENDPOINT, clock=clock, transport=network, restart_limit=(1, 10.0)))
    try:
        client.subscribe(recorder)
        client.tell(Push(TOPIC, "boom"))
        old = client._rt.registry.get(TOPIC)  # tell waited for the channel to exist
        recorder.wait_for(InternalError, timeout=WAIT)

        def replaced() -> bool:
            ref = client._rt.registry.get(TOPIC)
            return ref is not None and ref is not old and ref.is_alive()

        eventually(client, replaced, "the restarted channel")
        client.tell(Push(TOPIC, "boom"))
        failed = recorder.wait_for(ClientFailed, timeout=WAIT)
        assert "restarts" in failed.reason
        rt = client._rt
        for ref in (client._supervisor, rt.socket, rt.presence, rt.scheduler):
            assert ref is not None
            assert ref.actor_stopped.wait(WAIT)
        with pytest.raises(ClientClosedError):
            client.tell(Push(TOPIC, "after"))
    finally:
        client.stop()


def test_stop_with_a_live_connection_and_timers_leaves_nothing(
    clock: FakeClock, network: MemoryNetwork
) -> None:
    recorder = EventRecorder()
    client = started(Client(ENDPOINT, clock=clock, transport=network))
    client.subscribe(recorder)
    client.tell(Push(TOPIC, "pending", retry=Every(1)))
    server = connect(network, client, recorder)
    join(server, recorder)
    server.expect_push(TOPIC, "pending", timeout=WAIT)
    client.stop()
    client.stop()  # idempotent
    assert server.wait_closed(timeout=WAIT)[0] == 1000
    assert pykka.ActorRegistry.get_all() == []
    with pytest.raises(ClientClosedError):
        client.tell(Connect())


# --- call-site validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        (lambda: Push(1, "e"), InvalidTypeError, "topic"),  # type: ignore[arg-type]
        (lambda: Push("t", 2), InvalidTypeError, "event"),  # type: ignore[arg-type]
        (lambda: Join(""), InvalidArgumentError, "topic"),
        (lambda: Push("t", "e", payload=object()), InvalidArgumentError, "payload"),
        (lambda: Push("t", "e", timeout=-1), InvalidArgumentError, "timeout"),
        (lambda: Push("t", "e", retry="never"), InvalidTypeError, "retry"),  # type: ignore[arg-type]
        (lambda: Every(-1), InvalidArgumentError, "seconds"),
        (lambda: Backoff([], None), InvalidArgumentError, "steps"),
        (lambda: Backoff([1, -2], 5), InvalidArgumentError, "steps[1]"),
        (lambda: Match(ref="x") and DropTimeoutPush("x"), InvalidTypeError, "match"),  # type: ignore[arg-type]
    ],
)
def test_wrong_arguments_raise_at_the_call_site_naming_the_field(
    make: Any, error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_a_socket_command_right_after_construction_is_accepted(
    clock: FakeClock, network: MemoryNetwork, monkeypatch: Any
) -> None:
    # A slow Supervisor.on_start: the constructor must wait for it, so the
    # socket actor exists when the first command is sent.
    original = Supervisor.on_start
    started = threading.Event()

    def slow_start(self: Supervisor) -> None:
        started.wait(0.2)  # a bounded delay inside the actor, not test synchronisation
        original(self)

    monkeypatch.setattr(Supervisor, "on_start", slow_start)
    client = Client(ENDPOINT, clock=clock, transport=network)
    try:
        client.tell(Connect())
        network.wait_for_transport(timeout=WAIT)
    finally:
        client.stop()


def test_tell_rejects_what_is_not_a_command(client: Client) -> None:
    with pytest.raises(InvalidTypeError):
        client.tell("join room:lobby")  # type: ignore[arg-type]
