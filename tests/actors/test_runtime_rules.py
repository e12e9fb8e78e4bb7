"""The runtime's rules on real actors: tells never block, asks keep their deadline,
the network inflow is bounded, thread names are unique per client."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from phoenix_actors.actors import reply as reply_module
from phoenix_actors.actors.channel import Call, ChannelActor, GetChannelInfo
from phoenix_actors.actors.reply import Reply
from phoenix_actors.actors.runtime import Inflow
from phoenix_actors.actors.supervision import Route
from phoenix_actors.actors.supervisor import Supervisor
from phoenix_actors.client import Client
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import AskTimeoutError
from phoenix_actors.messages import (
    ChannelErrored,
    ChannelEvent,
    Connect,
    Disconnect,
    DropPush,
    GetJoinedChannels,
    GetQueuedPushes,
    Join,
    JoinAll,
    JoinConfig,
    JoinOk,
    LeaveAll,
    Match,
    Push,
    SetJoinConfig,
    SocketClosed,
)
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork

from .conftest import ENDPOINT, TOPIC, WAIT, connect, join, started

real = MonotonicClock()


@contextmanager
def hold(
    monkeypatch: pytest.MonkeyPatch, cls: type[Any], when: Callable[[Any], bool]
) -> Iterator[threading.Event]:
    """Make ``cls``'s actors stop at the first message matching ``when`` until released.

    Stands in for an actor that is busy (a long mailbox), so a test can show
    that callers do not wait for it. Yields the event that was set once held.
    """
    release = threading.Event()
    entered = threading.Event()
    original = cls.on_receive

    def on_receive(self: Any, message: Any) -> Any:
        if when(message) and not release.is_set():
            entered.set()
            assert release.wait(WAIT)
        return original(self, message)

    monkeypatch.setattr(cls, "on_receive", on_receive)
    try:
        yield entered
    finally:
        release.set()


def quick(call: Callable[[], object]) -> float:
    """Run ``call`` and return how long it took (real seconds)."""
    start = real.now()
    call()
    return real.now() - start


def test_tells_return_while_the_supervisor_is_busy(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hold(monkeypatch, Supervisor, lambda m: isinstance(m, Route)) as held:
        assert quick(lambda: client.tell(Push("room:new", "a"))) < 0.1
        assert held.wait(WAIT)  # the supervisor is now stuck on that Route
        for command in (
            Push("room:new", "b"),
            DropPush(Match(topic="room:new")),
            JoinAll(["room:x", "room:y"]),
            LeaveAll(),
            Disconnect(reset=True),
        ):
            assert quick(lambda c=command: client.tell(c)) < 0.1, command  # type: ignore[misc]


def test_a_tell_to_a_new_topic_is_seen_by_the_next_ask(client: Client) -> None:
    client.tell(Push("room:fresh", "first", ref="r1"))
    queued = client.ask(GetQueuedPushes("room:fresh"), timeout=WAIT)
    assert [p.ref for p in queued] == ["r1"]


def test_a_channel_wide_query_keeps_the_callers_timeout(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.tell(Connect())
    server = connect(network, client, recorder)
    client.tell(Join(TOPIC))
    join(server, recorder)
    asked = lambda m: isinstance(m, Call) and isinstance(m.command, GetChannelInfo)  # noqa: E731
    with hold(monkeypatch, ChannelActor, asked):
        start = real.now()
        with pytest.raises(AskTimeoutError):
            client.ask(GetJoinedChannels(), timeout=0.3)
        assert 0.25 <= real.now() - start < 1.0
    assert client.ask(GetJoinedChannels(), timeout=WAIT) == [TOPIC]


def test_an_ask_waits_for_the_join_configs_timeout_not_a_default_one(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a tiny guard margin: without the channel announcing its 30 s join timeout,
    # the ask would give up after 0.1 s
    monkeypatch.setattr(reply_module, "GUARD_MARGIN", 0.1)
    client.ask(SetJoinConfig(JoinConfig(topic=TOPIC, timeout=30.0)), timeout=WAIT)
    client.tell(Connect())
    server = connect(network, client, recorder)
    answers: list[object] = []
    asker = threading.Thread(target=lambda: answers.append(client.ask(Join(TOPIC))))
    asker.start()
    msg = server.expect_join(TOPIC, timeout=WAIT)
    asker.join(0.5)  # the join is unanswered for longer than the margin
    assert asker.is_alive()
    server.reply(msg, "ok", {})
    asker.join(WAIT)
    assert [type(a) for a in answers] == [JoinOk]


def test_reply_waits_past_its_margin_once_a_deadline_is_announced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reply_module, "GUARD_MARGIN", 0.05)
    late = Reply()
    late.expect_within(0.5)
    def answer_late() -> None:
        threading.Event().wait(0.2)  # an actor slower than the margin, within its deadline
        late.set("answer")

    setter = threading.Thread(target=answer_late, name="late-setter")
    setter.start()
    assert late.wait() == "answer"
    setter.join(WAIT)
    with pytest.raises(AskTimeoutError):
        Reply().wait()  # nobody announced anything: the margin alone
    first = Reply()
    first.set(1)
    first.set(2)  # exactly once: a second answer is ignored
    assert first.wait(0) == 1


def test_the_socket_close_is_delivered_before_the_channel_errors_it_caused(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    other = EventRecorder()
    client.subscribe(other)
    client.tell(Connect())
    server = connect(network, client, recorder)
    for topic in (TOPIC, "room:b", "room:c"):
        client.tell(Join(topic))
        join(server, recorder, topic)
    server.drop()
    for topic in (TOPIC, "room:b", "room:c"):
        recorder.wait_for(ChannelErrored, lambda e, t=topic: e.topic == t, timeout=WAIT)  # type: ignore[misc]
    kinds = [type(e) for e in recorder.events]
    closed_at = kinds.index(SocketClosed)
    assert all(i > closed_at for i, k in enumerate(kinds) if k is ChannelErrored)
    other.wait_for(ChannelErrored, lambda e: e.topic == "room:c", timeout=WAIT)
    assert other.events[-len(recorder.events) :] == recorder.events[-len(other.events) :]


def test_the_reader_stops_reading_while_actors_are_behind_and_drops_nothing(
    clock: FakeClock, network: MemoryNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = started(Client(ENDPOINT, clock=clock, transport=network))
    recorder = EventRecorder()
    client.subscribe(recorder)
    try:
        client._rt.inflow_limit = 10_000  # bytes: a few dozen small frames
        client.tell(Connect())
        server = connect(network, client, recorder)
        client.tell(Join(TOPIC))
        join(server, recorder)
        with hold(monkeypatch, ChannelActor, lambda m: type(m).__name__ == "Frames") as held:
            pusher = threading.Thread(
                target=lambda: [server.push(TOPIC, "tick", {"n": n}) for n in range(500)],
                name="pusher",
            )
            pusher.start()
            assert held.wait(WAIT)
            pusher.join(0.3)
            # the channel is stuck: the reader has stopped before handing on 500 frames
            inflow = client._rt.inflow
            assert inflow is not None
            assert inflow.held <= 20_000
        pusher.join(WAIT)
        recorder.wait_for(ChannelEvent, lambda e: e.payload == {"n": 499}, timeout=WAIT)
        ticks = [e.payload["n"] for e in recorder.of_type(ChannelEvent)]
        assert ticks == list(range(500))
    finally:
        client.stop()


def test_inflow_take_waits_until_released_or_cancelled() -> None:
    inflow = Inflow(limit=100)
    inflow.take(150, lambda: False)  # under the limit when asked: never waits
    done = threading.Event()
    cancelled = threading.Event()

    def reader() -> None:
        inflow.take(10, cancelled.is_set)
        done.set()

    t = threading.Thread(target=reader, name="reader")
    t.start()
    assert not done.wait(0.1)
    inflow.release(100)
    assert done.wait(WAIT)
    t.join(WAIT)
    assert inflow.held == 60
    inflow.take(50, lambda: False)
    late = threading.Thread(target=lambda: inflow.take(1, cancelled.is_set), name="late")
    late.start()
    cancelled.set()
    inflow.wake()
    late.join(WAIT)
    assert not late.is_alive()


def test_every_thread_of_a_client_carries_its_unique_name(
    clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    a = started(Client(ENDPOINT, clock=clock, transport=network))
    b = started(Client(ENDPOINT, clock=clock, transport=network))
    try:
        assert a.name != b.name
        for c in (a, b):
            c.subscribe(recorder)
            c.tell(Join(TOPIC))
        for _ in range(2):
            server = network.wait_for_transport(timeout=WAIT)
            join(server, recorder)
        names = {t.name for t in threading.enumerate()}
        for c in (a, b):
            mine = {n for n in names if n.startswith(f"{c.name}-")}
            for part in ("supervisor", "socket", "presence", "scheduler", f"channel:{TOPIC}"):
                assert f"{c.name}-{part}" in mine, (part, sorted(mine))
            assert f"{c.name}-events" in mine
        held_open = [
            t.name for t in threading.enumerate() if t.name.startswith("phoenix-") and not t.daemon
        ]
        assert held_open == []
    finally:
        a.stop()
        b.stop()


def test_a_full_channel_queue_fails_the_push_at_once_as_overflow(
    clock: FakeClock, network: MemoryNetwork
) -> None:
    from phoenix_actors.messages import ConnectOptions, PushError  # noqa: PLC0415

    network.refuse(None)  # the socket never opens: pushes wait in the queue
    client = started(
        Client(
            ENDPOINT, clock=clock, transport=network, options=ConnectOptions(max_queued_pushes=2)
        )
    )
    recorder = EventRecorder()
    client.subscribe(recorder)
    try:
        client.tell(Push(TOPIC, "a"))
        client.tell(Push(TOPIC, "b"))
        answer = client.ask(Push(TOPIC, "c"), timeout=WAIT)  # answered now, not at a timeout
        assert isinstance(answer, PushError)
        assert answer.status == "overflow"
        assert [p.event for p in client.ask(GetQueuedPushes(TOPIC), timeout=WAIT)] == ["a", "b"]
        reported = recorder.wait_for(PushError, timeout=WAIT)
        assert reported.push.event == "c"
    finally:
        client.stop()
