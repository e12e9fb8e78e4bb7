"""The runtime cannot be wedged: end to end over loopback sockets.

Callbacks may call the client back; a join or push waiting for a dead port
times out on its own deadline; a push the server closed the socket for (1009)
fails alone and is not retried; local limits raise at the call site; a slow
subscriber loses old events (reported) instead of memory; every subscriber
sees one causal order; a peer that stops reading stalls nothing but its
own connection, which fails at the write deadline.
"""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from phoenix_actors import (
    ChannelErrored,
    ChannelEvent,
    Client,
    ClientClosedError,
    Connect,
    ConnectOptions,
    Disconnect,
    Event,
    EventRecorder,
    EventsDropped,
    Every,
    GetChannelQueued,
    GetJoinedChannels,
    GetQueuedChannels,
    GetSocketState,
    InvalidArgumentError,
    Join,
    JoinOk,
    JoinTimeout,
    MonotonicClock,
    PayloadTooLargeError,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketError,
    SocketOpened,
    SocketState,
)
from phoenix_actors.server import LoopbackServer
from tests.integration.conftest import LOBBY, WAIT, MakeClient, Session
from tests.integration.stalled_peer import StalledPeer

clock = MonotonicClock()


def client_threads(client: Client) -> list[threading.Thread]:
    """Every live thread of ``client`` (named ``<client.name>-...``)."""
    prefix = f"{client.name}-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def join_client_threads(client: Client, timeout: float = WAIT) -> None:
    """Wait (with a deadline) until every thread of ``client`` has ended."""
    deadline = clock.now() + timeout
    for thread in client_threads(client):
        thread.join(max(0.0, deadline - clock.now()))
    assert not client_threads(client), [t.name for t in client_threads(client)]


def rejoined(topic: str) -> Callable[[JoinOk], bool]:
    """Match the JoinOk of ``topic``'s rejoin."""
    return lambda e: e.topic == topic and e.rejoin


# --- 1. re-entrant callbacks ------------------------------------------------------------


def test_a_callback_may_ask_the_client_on_join_ok(connect: MakeClient) -> None:
    session = connect()
    client = session.client
    answers: list[object] = []
    took: list[float] = []
    answered = threading.Event()

    def on_join(event: Event) -> None:
        if not isinstance(event, JoinOk):
            return
        start = clock.now()
        try:
            answers.append(client.ask(GetJoinedChannels(), timeout=2))
        except Exception as exc:  # recorded: the assertion below shows it
            answers.append(exc)
        took.append(clock.now() - start)
        answered.set()

    client.subscribe(on_join)
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert answered.wait(WAIT), "the JoinOk callback never finished its ask"
    assert answers == [[LOBBY]]
    assert took[0] < 1.0, f"an ask from a callback took {took[0]:.3f} s"


def test_a_callback_may_tell_a_push_and_its_reply_arrives(connect: MakeClient) -> None:
    session = connect()
    client = session.client
    told: list[ChannelEvent] = []

    def on_event(event: Event) -> None:
        if isinstance(event, ChannelEvent) and event.event == "pushed":
            told.append(event)
            client.tell(Push(LOBBY, "ping", {"from": "callback", "n": len(told)}))

    client.subscribe(on_event)
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert isinstance(client.ask(Push(LOBBY, "push_back", {"k": 1}), timeout=WAIT), PushOk)
    ok = session.events.wait_for(
        PushOk, lambda e: e.push.payload == {"from": "callback", "n": 1}, timeout=WAIT
    )
    assert ok.response == {"from": "callback", "n": 1}
    assert len(told) == 1


def test_a_callback_may_stop_the_client_and_none_runs_after(connect: MakeClient) -> None:
    session = connect()
    client = session.client
    lock = threading.Lock()
    order: list[tuple[int, str]] = []  # (sequence number, who), one sequence for all
    counter = [0]
    stop_returned: list[int] = []
    stopped = threading.Event()
    failures: list[BaseException] = []

    def record(who: str) -> int:
        with lock:
            counter[0] += 1
            order.append((counter[0], who))
            return counter[0]

    def stopper(event: Event) -> None:
        record("stopper")
        if (
            not stopped.is_set()
            and isinstance(event, ChannelEvent)
            and event.event == "seq"
            and event.payload["i"] == 1
        ):
            try:
                client.stop()
            except BaseException as exc:
                failures.append(exc)
            stop_returned.append(record("stop returned"))
            stopped.set()

    def other(event: Event) -> None:
        record("other")

    client.subscribe(stopper)
    client.subscribe(other)
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    client.tell(Push(LOBBY, "push_many", {"n": 2000}))  # events keep coming after the stop
    assert stopped.wait(WAIT), "the callback never stopped the client"
    assert not failures, failures
    join_client_threads(client)  # no thread left that could run a callback
    with pytest.raises(ClientClosedError):
        client.ask(GetSocketState(), timeout=1.0)
    with pytest.raises(ClientClosedError):
        client.tell(Push(LOBBY, "ping"))
    late = [entry for entry in order if entry[0] > stop_returned[0]]
    assert late == [], f"callbacks ran after stop() returned: {late[:5]}"
    client.stop()  # idempotent


# --- 2. a dead port --------------------------------------------------------------------


def dead_url() -> str:
    """A ws URL on a loopback port nobody listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}/socket"


def test_a_join_and_a_push_to_a_dead_port_time_out_on_their_own_deadline(
    connect: MakeClient,
) -> None:
    session = connect(dead_url())
    client = session.client
    start = clock.now()
    answer = client.ask(Join(LOBBY, timeout=1.0))
    elapsed = clock.now() - start
    assert isinstance(answer, JoinTimeout), answer
    assert 0.8 <= elapsed < 3.0, f"the join answered after {elapsed:.3f} s"
    assert answer.reason is not None
    assert "refused" in answer.reason, answer.reason
    assert session.events.of_type(SocketError), "no SocketError was reported"

    start = clock.now()
    pushed = client.ask(Push("room:other", "ping", {}, timeout=1.0))
    elapsed = clock.now() - start
    assert isinstance(pushed, PushTimeout), pushed
    assert 0.8 <= elapsed < 3.0, f"the push answered after {elapsed:.3f} s"
    assert pushed.reason is not None
    assert "refused" in pushed.reason, pushed.reason


# --- 3. close 1009 blames one push -------------------------------------------------------


def test_a_push_the_server_closed_1009_for_fails_alone_and_is_not_retried(
    connect: MakeClient,
) -> None:
    topic_a, topic_b = "room:a", "room:b"
    with LoopbackServer(max_frame_size=100_000) as srv:
        session = connect(srv.url)
        client = session.client
        events = session.events
        for topic in (topic_a, topic_b):
            assert isinstance(client.ask(Join(topic), timeout=WAIT), JoinOk)

        big = Push(topic_a, "ping", {"blob": "x" * 500_000}, retry=Every(0.2))
        answer = client.ask(big, timeout=WAIT)
        assert isinstance(answer, PushError), answer
        assert answer.status == "too_large", answer
        closed = events.wait_for(SocketClosed, timeout=WAIT)
        assert closed.code == 1009, closed

        for topic in (topic_a, topic_b):
            events.wait_for(JoinOk, rejoined(topic), timeout=WAIT)
        assert isinstance(client.ask(Push(topic_b, "ping", {"n": 0}), timeout=WAIT), PushOk)
        assert isinstance(client.ask(Push(topic_a, "ping", {"n": 0}), timeout=WAIT), PushOk)

        # long enough for several Every(0.2) retries, were the big push retried
        start, n = clock.now(), 0
        while clock.now() - start < 1.5:
            n += 1
            reply = client.ask(Push(topic_b, "ping", {"n": n}), timeout=WAIT)
            assert isinstance(reply, PushOk), reply
        closes = [e.code for e in events.of_type(SocketClosed)]
        assert closes == [1009], closes
        too_large = [e for e in events.of_type(PushError) if e.status == "too_large"]
        assert len(too_large) == 1, too_large
        assert not events.of_type(PushTimeout)
        client.stop()


# --- 4. max_push_size -------------------------------------------------------------------


def test_a_push_over_max_push_size_raises_at_the_call_site_and_sends_nothing(
    connect: MakeClient, server: LoopbackServer
) -> None:
    limit = 1000
    session = connect(options=ConnectOptions(max_push_size=limit))
    client = session.client
    big = Push(LOBBY, "ping", {"blob": "x" * limit})  # {"blob":"..."}: limit + 11 bytes
    with pytest.raises(PayloadTooLargeError):
        client.tell(big)
    with pytest.raises(PayloadTooLargeError):
        client.ask(big, timeout=WAIT)
    with pytest.raises(PayloadTooLargeError):
        client.tell(Push(LOBBY, "ping", b"x" * (limit + 1)))
    assert client.ask(GetQueuedChannels(), timeout=WAIT) == []
    assert client.ask(GetJoinedChannels(), timeout=WAIT) == []
    assert client.ask(GetSocketState(), timeout=WAIT) == SocketState.DISCONNECTED
    assert server.sockets() == []
    assert session.events.events == [], session.events.events

    exactly = Push(LOBBY, "ping", {"blob": "x" * (limit - 11)})  # exactly the limit
    assert isinstance(client.ask(exactly, timeout=WAIT), PushOk)


# --- 5. Disconnect's reason ------------------------------------------------------------------


def test_a_disconnect_reason_over_123_bytes_is_refused_and_123_is_sent(
    connect: MakeClient,
) -> None:
    with pytest.raises(InvalidArgumentError):
        Disconnect(reason="é" * 62)  # 124 UTF-8 bytes
    reason = "é" * 61 + "a"
    assert len(reason.encode()) == 123
    session = connect()
    client = session.client
    client.ask(Connect(), timeout=WAIT)
    session.events.wait_for(SocketOpened, timeout=WAIT)
    assert client.ask(Disconnect(reason=reason), timeout=WAIT) is None
    closed = session.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.code == 1000, closed
    assert not closed.will_reconnect, closed
    assert client.ask(GetSocketState(), timeout=WAIT) == SocketState.DISCONNECTED


# --- 6. a slow subscriber under a flood --------------------------------------------------------

FLOOD = 100_000
BACKLOG = 1000
MAX_RSS_GROWTH_KIB = 150 * 1024  # ru_maxrss is in KiB on Linux
BENCH = "bench:flood"  # no presence: after the join, the only events are the flood's


def test_a_slow_subscriber_under_a_flood_drops_the_oldest_and_is_told(
    connect: MakeClient,
) -> None:
    session = connect()
    client = session.client
    assert isinstance(client.ask(Join(BENCH), timeout=WAIT), JoinOk)

    release = threading.Event()
    cond = threading.Condition()
    got: list[Event] = []

    def slow(event: Event) -> None:
        with cond:
            got.append(event)
            first = len(got) == 1
            cond.notify_all()
        if first:
            release.wait(3 * WAIT)

    def flood_answered() -> bool:
        return any(isinstance(e, PushOk) and e.push.event == "fanout" for e in got)

    client.subscribe(slow, backlog=BACKLOG, overflow="drop_oldest")
    start = clock.now()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    flood = Push(BENCH, "fanout", {"n": FLOOD}, timeout=3 * WAIT)
    try:
        reply = client.ask(flood, timeout=3 * WAIT)
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        flooded_in = clock.now() - start
    finally:
        release.set()
    assert isinstance(reply, PushOk), reply
    assert reply.response == {"sent": FLOOD}
    with cond:
        assert cond.wait_for(flood_answered, WAIT), f"got {len(got)} events"
        seen = list(got)

    assert rss_growth < MAX_RSS_GROWTH_KIB, f"peak RSS grew {rss_growth} KiB"
    # Usually one report; under load the subscriber may already overflow before its
    # first call (then it blocks on a report), so every report is counted.
    dropped = [e for e in seen if isinstance(e, EventsDropped)]
    assert dropped, "no EventsDropped"
    assert all(e.policy == "drop_oldest" and not e.failed for e in dropped), dropped
    assert all(e.subscriber.endswith("slow") for e in dropped), dropped
    received = [e for e in seen if not isinstance(e, EventsDropped)]
    assert received[-1] == reply
    ticks = [e.payload["i"] for e in received if isinstance(e, ChannelEvent) and e.event == "tick"]
    assert len(ticks) == len(received) - 1, [type(e).__name__ for e in received]
    assert ticks == sorted(set(ticks)), "ticks out of order or repeated"
    # drop_oldest keeps the newest: after the last report, the tail of the flood
    tail = [e for e in seen[seen.index(dropped[-1]) + 1 :] if isinstance(e, ChannelEvent)]
    assert 0 < len(tail) <= BACKLOG, len(tail)
    assert [e.payload["i"] for e in tail] == list(range(FLOOD - len(tail) + 1, FLOOD + 1))
    # every event emitted after the subscription is accounted for: got, or counted as dropped
    lost = sum(e.count for e in dropped)
    assert lost + len(received) == FLOOD + 1, (lost, len(received))  # the ticks and the PushOk
    assert lost >= FLOOD - 3 * BACKLOG, lost
    elapsed = clock.now() - start
    assert elapsed < 10.0, f"the flood took {elapsed:.2f} s ({flooded_in:.2f} s to arrive)"


# --- 7. one causal order for every subscriber ------------------------------------------------


def test_every_subscriber_sees_socket_closed_before_the_channel_errored_it_caused(
    connect: MakeClient, server: LoopbackServer
) -> None:
    session = connect()
    client = session.client
    first, second = EventRecorder(), EventRecorder()
    client.subscribe(first)
    client.subscribe(second)
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert isinstance(client.ask(Join("room:two"), timeout=WAIT), JoinOk)
    server.faults.abort_all()
    for recorder in (first, second):
        for topic in (LOBBY, "room:two"):
            recorder.wait_for(JoinOk, rejoined(topic), timeout=WAIT)

    def upto_rejoins(recorder: EventRecorder) -> list[Event]:
        with recorder._cond:
            events = list(recorder.events)
        rejoined = [i for i, e in enumerate(events) if isinstance(e, JoinOk) and e.rejoin]
        return events[: rejoined[1] + 1]

    seq_a, seq_b = upto_rejoins(first), upto_rejoins(second)
    assert seq_a == seq_b
    closed = [i for i, e in enumerate(seq_a) if isinstance(e, SocketClosed)]
    errored = [i for i, e in enumerate(seq_a) if isinstance(e, ChannelErrored)]
    assert len(closed) == 1, [type(e).__name__ for e in seq_a]
    assert len(errored) == 2, [type(e).__name__ for e in seq_a]
    assert closed[0] < min(errored), [type(e).__name__ for e in seq_a]


# --- 8. a peer that stops reading ----------------------------------------------------------------

PUSHES = 40
PUSH_BYTES = 1_000_000
WRITE_TIMEOUT = 1.0
FAST_CALL = 0.1  # seconds a tell, or an ask the stall must not touch, may take
STALLED = ConnectOptions(write_timeout=WRITE_TIMEOUT, heartbeat_interval=30.0)


def flood_a_stalled_peer(connect: MakeClient, peer: StalledPeer) -> tuple[Client, Session, float]:
    """Join ``room:a`` on the peer, then tell 40 pushes of 1 MB; return when the first went."""
    session = connect(peer.url, options=STALLED)
    client = session.client
    assert isinstance(client.ask(Join("room:a"), timeout=WAIT), JoinOk)
    assert peer.joined.wait(WAIT)
    blob = "x" * PUSH_BYTES
    pushes = [Push("room:a", "ping", {"blob": blob, "n": n}) for n in range(PUSHES)]
    tells: list[float] = []
    start = clock.now()
    for push in pushes:
        t = clock.now()
        client.tell(push)
        tells.append(clock.now() - t)
    assert max(tells) < FAST_CALL, f"slowest tell {max(tells):.3f} s"
    return client, session, start


def test_a_peer_that_stops_reading_stalls_no_tell_and_no_ask(connect: MakeClient) -> None:
    with StalledPeer() as peer:
        client, session, start = flood_a_stalled_peer(connect, peer)
        # The channel writes its 40 MB in one turn once its inbox is empty (about
        # 0.2 s of encoding and masking here, with a reading peer too): an ask that
        # reaches it then waits for that turn, but never for the peer.
        t = clock.now()
        assert client.ask(GetChannelQueued("room:a"), timeout=1.0) is False
        first_ask = clock.now() - t
        assert first_ask < 0.5, f"the first ask took {first_ask:.3f} s"

        asks: dict[str, tuple[Any, float]] = {}
        for name, query in (
            ("GetChannelQueued", GetChannelQueued("room:other")),
            ("GetSocketState", GetSocketState()),
        ):
            t = clock.now()
            asks[name] = (client.ask(query, timeout=1.0), clock.now() - t)
        stalled_for = clock.now() - start
        assert stalled_for < WRITE_TIMEOUT, f"too slow to test the stall: {stalled_for:.3f} s"
        assert asks["GetChannelQueued"][0] is False
        # still connected: the buffer is stuck, the write deadline has not passed yet
        assert asks["GetSocketState"][0] == SocketState.CONNECTED, asks
        for name, (_, took) in asks.items():
            assert took < FAST_CALL, f"{name} took {took:.3f} s while the peer stalled"
        assert not session.events.of_type(SocketClosed)

        t = clock.now()
        client.stop()  # our close frame cannot go out: the close grace (0.5 s) bounds it
        stopped_in = clock.now() - t
        assert stopped_in < 1.0, f"stop() took {stopped_in:.3f} s with the peer stalled"


def test_a_peer_that_stops_reading_fails_the_connection_at_the_write_deadline(
    connect: MakeClient,
) -> None:
    with StalledPeer() as peer:
        client, session, start = flood_a_stalled_peer(connect, peer)
        left = WRITE_TIMEOUT + 2.0 - (clock.now() - start)
        error = session.events.wait_for(SocketError, timeout=max(left, 0.0))
        closed = session.events.wait_for(SocketClosed, timeout=WAIT)
        failed_after = clock.now() - start
        assert closed.code == 1006, closed
        assert "write deadline" in error.reason, error
        assert failed_after <= WRITE_TIMEOUT + 2.0, f"failed after {failed_after:.3f} s"

        t = clock.now()
        client.stop()
        stopped_in = clock.now() - t
        assert stopped_in < 1.0, f"stop() took {stopped_in:.3f} s"
