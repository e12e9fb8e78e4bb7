"""GetMetrics, counted against a scripted session (FakeClock, in-memory server)."""

from __future__ import annotations

from phoenix_actors.client import Client
from phoenix_actors.messages import (
    AddEvents,
    Connect,
    ConnectOptions,
    Every,
    GetMetrics,
    HeartbeatReply,
    Join,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    SocketClosed,
)
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork

from .conftest import ENDPOINT, TOPIC, WAIT, connect, eventually, join, started, wait_armed


def rtts(client: Client) -> list[float]:
    """The heartbeat round trips recorded so far (one per reply the socket actor handled)."""
    return client._rt.counters.snapshot()[3]


def test_every_counter_matches_what_the_server_saw(
    clock: FakeClock, network: MemoryNetwork
) -> None:
    options = ConnectOptions(reconnect_after=[1.0])
    client = started(Client(ENDPOINT, clock=clock, transport=network, options=options))
    recorder = EventRecorder()
    client.subscribe(recorder)
    try:
        # HeartbeatReply is off by default: opt in through the phoenix topic's event filter
        client.ask(AddEvents("phoenix", ["heartbeat"]), timeout=WAIT)
        client.tell(Connect())
        server = connect(network, client, recorder)
        client.tell(Join(TOPIC))
        join(server, recorder)
        # two pushes answered ok, one error, one timeout that retries
        for n in range(2):
            client.tell(Push(TOPIC, "ok", {"n": n}))
            server.reply(server.expect_push(TOPIC, "ok", timeout=WAIT), "ok", {})
        client.tell(Push(TOPIC, "bad"))
        server.reply(server.expect_push(TOPIC, "bad", timeout=WAIT), "error", {"why": 1})
        client.tell(Push(TOPIC, "slow", timeout=5.0, retry=Every(100.0)))
        server.expect_push(TOPIC, "slow", timeout=WAIT)
        for _ in range(2):
            recorder.wait_for(PushOk, timeout=WAIT)
        recorder.wait_for(PushError, timeout=WAIT)
        # a heartbeat answered after 0.25 s of fake time
        clock.advance(30.0)
        beat = server.wait_for_message(lambda m: m.event == "heartbeat", timeout=WAIT)
        clock.advance(0.25)
        server.reply(beat)
        assert recorder.wait_for(HeartbeatReply, timeout=WAIT).rtt == 0.25
        clock.advance(4.75 - 0.25)  # t=35: the slow push times out (sent at t=0 + 5)
        recorder.wait_for(PushTimeout, timeout=WAIT)
        # the next heartbeat goes unanswered: the connection is closed, a reconnect is due
        wait_armed(client, "socket", "heartbeat", 60.25)
        clock.advance(60.25 - clock.now())
        server.wait_for_message(lambda m: m.event == "heartbeat" and m.ref != beat.ref)
        wait_armed(client, "socket", "heartbeat", 90.25)
        clock.advance(90.25 - clock.now())
        recorder.wait_for(SocketClosed, lambda e: e.reason == "heartbeat timeout", timeout=WAIT)
        sent = [server.serializer.decode(d, binary=b) for d, b in server.sent]
        metrics = client.ask(GetMetrics(), timeout=WAIT)
        assert metrics.connects == 1
        assert metrics.heartbeats_sent == 2
        assert metrics.heartbeats_missed == 1
        assert metrics.reconnects == {"heartbeat_timeout": 1}
        assert metrics.heartbeat_rtt_last == 0.25
        assert metrics.heartbeat_rtt_p50 == 0.25
        assert metrics.pushes == {"ok": 2, "error": 1, "timeout": 1}
        assert metrics.retries == 1
        assert metrics.frames_out == len(sent)  # every frame the server received
        assert metrics.bytes_out == sum(len(d) for d, _ in server.sent)
        assert metrics.frames_in == 1 + 3 + 1  # the join reply, three push replies, a beat
        assert metrics.queued_pushes == {}
        assert metrics.events_dropped == 0
    finally:
        client.stop()


def test_heartbeat_replies_are_not_events_unless_asked_for(
    client: Client, clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder
) -> None:
    from phoenix_actors.messages import (  # noqa: PLC0415
        Disconnect,
        DropEvents,
        GetQueuedChannels,
    )

    client.tell(Connect())
    server = connect(network, client, recorder)
    answered: set[str | None] = set()
    for opted_in in (False, True, False):
        if opted_in:
            client.ask(AddEvents("phoenix", ["heartbeat"]), timeout=WAIT)
        else:
            client.ask(DropEvents("phoenix", ["heartbeat"]), timeout=WAIT)
        at = wait_armed(client, "socket", "heartbeat")
        clock.advance(at - clock.now())
        beat = server.wait_for_message(
            lambda m: m.event == "heartbeat" and m.ref not in answered, timeout=WAIT
        )
        answered.add(beat.ref)
        server.reply(beat)
        # the reply was handled (its round trip recorded) before the next opt-in or out;
        # the timer alone cannot tell: it is re-armed at the same time on send and reply
        handled = len(answered)

        def reply_handled(n: int = handled) -> bool:
            return len(rtts(client)) == n

        eventually(client, reply_handled, f"heartbeat reply {handled}")
    client.ask(Disconnect(), timeout=WAIT)  # a marker: events arrive in order
    recorder.wait_for(SocketClosed, timeout=WAIT)
    assert len(recorder.of_type(HeartbeatReply)) == 1
    assert client.ask(GetQueuedChannels(), timeout=WAIT) == []  # no "phoenix" channel made
