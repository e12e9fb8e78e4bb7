"""Each restart restores what DESIGN.md says it restores: crashes injected by hand.

FakeClock and the in-memory transport: the test plays the server, and time
moves only when it says so.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from phoenix_actors.actors.channel import Call, ChannelActor
from phoenix_actors.actors.reply import Reply
from phoenix_actors.actors.runtime import Wire
from phoenix_actors.actors.supervision import Crash
from phoenix_actors.actors.supervisor import Supervisor
from phoenix_actors.client import Client
from phoenix_actors.errors import ClientClosedError, InvalidArgumentError
from phoenix_actors.messages import (
    ClientFailed,
    Connect,
    GetJoinedChannels,
    GetPresenceState,
    GetQueuedPushes,
    InternalError,
    Join,
    JoinOk,
    Leave,
    LeaveOk,
    Push,
    PushOk,
    PushTimeout,
    SocketClosed,
)
from phoenix_actors.protocol.frames import Message
from phoenix_actors.testing import crash
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork, MemoryTransport

from .conftest import ENDPOINT, TOPIC, WAIT, connect, deadline_of, join, started, wait_armed
from .test_runtime_rules import hold


def decode(server: MemoryTransport) -> Any:
    return lambda frame: server.serializer.decode(frame[0], binary=frame[1])


def joined_client(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> tuple[MemoryTransport, Message]:
    client.tell(Connect())
    server = connect(network, client, recorder)
    client.tell(Join(TOPIC))
    return server, join(server, recorder)


def test_a_socket_restart_reconnects_and_every_channel_rejoins_with_a_fresh_join_ref(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    old_server, old_join = joined_client(client, network, recorder)
    crash(client, "socket")
    report = recorder.wait_for(InternalError, timeout=WAIT)
    assert report.reason == "socket actor crashed"
    closed = recorder.wait_for(SocketClosed, timeout=WAIT)
    assert (closed.code, closed.will_reconnect) == (1006, True)
    old_server.wait_closed(timeout=WAIT)  # the old connection was let go
    server = network.wait_for_transport(timeout=WAIT)
    rejoin = server.expect_join(TOPIC, timeout=WAIT)  # the server sees the join
    assert rejoin.join_ref != old_join.join_ref
    server.reply(rejoin, "ok", {})
    recorder.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    client.tell(Push(TOPIC, "after", {"n": 1}))
    push = server.expect_push(TOPIC, "after", timeout=WAIT)
    assert push.join_ref == rejoin.join_ref
    server.reply(push, "ok", {})
    recorder.wait_for(PushOk, timeout=WAIT)


def test_a_scheduler_restart_keeps_every_timer_at_its_deadline(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    joined_client(client, network, recorder)
    client.tell(Push("room:queued", "waits", timeout=5.0))  # queued: its channel is joining
    wait_armed(client, "channel:room:queued", "push", 5.0)
    heartbeat = deadline_of(client, "socket", "heartbeat")
    assert heartbeat == 30.0
    crash(client, "scheduler")
    assert deadline_of(client, "socket", "heartbeat") == 30.0
    assert deadline_of(client, "channel:room:queued", "push") == 5.0
    clock.advance(5.0)
    timeout = recorder.wait_for(PushTimeout, timeout=WAIT)
    assert timeout.push.event == "waits"
    # a silent peer is still detected within two heartbeat intervals
    clock.advance(25.0)  # t=30: the heartbeat goes out, nobody answers
    wait_armed(client, "socket", "heartbeat", 60.0)
    clock.advance(30.0)
    closed = recorder.wait_for(
        SocketClosed, lambda e: e.reason == "heartbeat timeout", timeout=WAIT
    )
    assert closed.will_reconnect


def test_a_channel_crash_replays_its_inbox_in_order_and_answers_every_ask_once(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, first = joined_client(client, network, recorder)
    gate = lambda m: isinstance(m, Push) and m.event == "gate"  # noqa: E731
    ref = client._rt.registry[TOPIC]
    with hold(monkeypatch, ChannelActor, gate) as held:
        client.tell(Push(TOPIC, "gate"))  # the channel stops on this one, inbox filling behind
        assert held.wait(WAIT)
        ref.tell(Crash())  # what crash() sends: queued behind "gate", before what follows
        for n in range(3):
            client.tell(Push(TOPIC, f"p{n}"))
        asked = Reply()
        ref.tell(Call(Push(TOPIC, "asked"), asked))  # what client.ask sends
    assert client._rt.wait_until(lambda: client._rt.registry.get(TOPIC) is not ref, WAIT)
    rejoin = server.expect_join(TOPIC, timeout=WAIT)
    assert rejoin.join_ref != first.join_ref
    server.reply(rejoin, "ok", {})
    sent = [server.expect_push(TOPIC, e, timeout=WAIT) for e in ("p0", "p1", "p2", "asked")]
    for msg in sent:
        assert msg.join_ref == rejoin.join_ref
        server.reply(msg, "ok", {"event": msg.event})
    assert isinstance(asked.wait(WAIT), PushOk)
    recorder.wait_for(PushOk, lambda e: e.push.event == "asked", timeout=WAIT)
    oks = [e.push.event for e in recorder.of_type(PushOk)]
    assert oks == ["p0", "p1", "p2", "asked"]  # one outcome each, in order
    assert int(sent[0].ref or 0) < int(sent[-1].ref or 0)


def test_a_presence_restart_keeps_the_state_of_every_topic(
    client: Client, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    server, joined = joined_client(client, network, recorder)
    state = {"alice": {"metas": [{"phx_ref": "AAAAAAAAAAAAAAAA", "online": True}]}}
    server.push(TOPIC, "presence_state", state, join_ref=joined.join_ref)
    client.tell(Push(TOPIC, "barrier"))
    server.reply(server.expect_push(TOPIC, "barrier", timeout=WAIT), "ok", {})
    recorder.wait_for(PushOk, timeout=WAIT)
    before = client.ask(GetPresenceState(TOPIC), timeout=WAIT)
    assert [p.id for p in before] == ["alice"]
    crash(client, "presence")
    assert client.ask(GetPresenceState(TOPIC), timeout=WAIT) == before


def test_an_ask_to_a_restarting_socket_waits_for_the_new_one(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    joined_client(client, network, recorder)
    with hold(monkeypatch, Supervisor, lambda m: type(m).__name__ == "ChildFailed") as held:
        old = client._rt.socket
        assert old is not None
        old.tell(Crash())
        assert held.wait(WAIT)  # the socket is dead, its restart is held back
        assert not old.is_alive()
        client.tell(Connect())  # held for the restarted socket, not lost
        answers: list[Any] = []
        asker = threading.Thread(
            target=lambda: answers.append(client.ask(GetJoinedChannels(), timeout=WAIT)),
            name="asker",
        )
        asker.start()
    asker.join(WAIT)
    assert len(answers) == 1
    assert isinstance(answers[0], list)
    network.wait_for_transport(timeout=WAIT).expect_join(TOPIC, timeout=WAIT)


def test_a_channel_that_finishes_while_a_push_is_routed_ends_as_one_channel_and_one_join(
    client: Client, network: MemoryNetwork, recorder: EventRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = joined_client(client, network, recorder)
    with hold(monkeypatch, Supervisor, lambda m: type(m).__name__ == "ChannelFinished") as held:
        client.tell(Leave(TOPIC))
        leave = server.wait_for_message(lambda m: m.event == "phx_leave", timeout=WAIT)
        server.reply(leave, "ok", {})
        assert held.wait(WAIT)  # closed for good, not yet removed from the registry
        client.tell(Push(TOPIC, "late"))  # reaches the retiring channel: rerouted
    recorder.wait_for(LeaveOk, timeout=WAIT)
    rejoin = server.expect_join(TOPIC, timeout=WAIT)
    server.reply(rejoin, "ok", {})
    server.reply(server.expect_push(TOPIC, "late", timeout=WAIT), "ok", {})
    recorder.wait_for(PushOk, timeout=WAIT)
    joins = [m for m in map(decode(server), server.sent) if m.event == "phx_join"]
    assert len(joins) == 2  # the first join and exactly one more
    channels = [t.name for t in threading.enumerate() if t.name.endswith(f"channel:{TOPIC}")]
    assert len(channels) == 1
    assert client.ask(GetQueuedPushes(TOPIC), timeout=WAIT) == []


def test_past_the_restart_limit_the_client_fails_and_leaves_no_thread(
    clock: FakeClock, network: MemoryNetwork
) -> None:
    recorder = EventRecorder()
    client = started(Client(ENDPOINT, clock=clock, transport=network, restart_limit=(2, 60.0)))
    client.subscribe(recorder)
    try:
        crash(client, "presence")
        crash(client, "presence")
        crash(client, "scheduler")  # the third within 60 s: the supervisor gives up
        failed = recorder.wait_for(ClientFailed, timeout=WAIT)
        assert "scheduler" in failed.reason
        assert "CrashInjectedError" in failed.reason
        with pytest.raises(ClientClosedError):
            client.ask(GetJoinedChannels(), timeout=WAIT)
        mine = [t for t in threading.enumerate() if t.name.startswith(f"{client.name}-")]
        for thread in mine:
            thread.join(WAIT)
        assert [t.name for t in mine if t.is_alive()] == []
    finally:
        client.stop()


def test_crash_names_an_actor_of_the_client(client: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        crash(client, "channel:room:never-joined")
    with pytest.raises(InvalidArgumentError):
        crash(client, "dispatcher")


def test_a_write_for_an_older_connection_is_refused() -> None:
    wire = Wire()
    msg = Message("1", "2", TOPIC, "new_msg", {})
    assert wire.send_many([msg], wire.generation) == ([], True)  # nothing open
    wire.open = True
    wire.generation = 3
    assert wire.send_many([msg], 2) == ([], True)  # the channel saw connection 2 only


def test_a_closed_channel_hands_on_commands_but_answers_queries_itself() -> None:
    from phoenix_actors.actors.channel import GetChannelInfo, _is_command  # noqa: PLC0415

    assert _is_command(Push(TOPIC, "e"))
    assert _is_command(Call(Join(TOPIC), Reply()))
    assert not _is_command(Call(GetChannelInfo(), Reply()))  # a query must not revive a topic
