"""The facade end to end: Batch, logging, subscribers, events(), stop, deadlines, dead server."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from phoenix_actors import (
    AskTimeoutError,
    Batch,
    Client,
    ClientClosedError,
    Connect,
    ConnectOptions,
    DropPush,
    Event,
    EventRecorder,
    Every,
    GetSocketState,
    InvalidTypeError,
    Join,
    JoinOk,
    Log,
    Match,
    Push,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketError,
    SocketState,
    SocketStateChanged,
    StartLogging,
    StopLogging,
)
from phoenix_actors.server import LoopbackServer
from tests.integration.conftest import LOBBY, WAIT, MakeClient

# --- Batch -------------------------------------------------------------------------------


def test_batch_runs_its_commands_in_order_and_answers_each(connect: MakeClient) -> None:
    s = connect()
    answers = s.client.ask(
        Batch([Join("room:b1"), Join("room:b2"), Push("room:b1", "ping", {"n": 1})]),
        timeout=WAIT,
    )
    assert [type(a) for a in answers] == [JoinOk, JoinOk, PushOk]
    assert [a.topic for a in answers[:2]] == ["room:b1", "room:b2"]
    assert answers[2].response == {"n": 1}


def test_batch_with_params_applies_each_constructor_to_each_param(connect: MakeClient) -> None:
    s = connect()
    s.client.tell(
        Batch.with_params(
            [(Join, ["room:w1", "room:w2"]), (lambda t: Push(t, "ping", {"t": t}), ["room:w1"])]
        )
    )
    topics = {s.events.wait_for(JoinOk, timeout=WAIT).topic for _ in range(2)}
    assert topics == {"room:w1", "room:w2"}
    assert s.events.wait_for(PushOk, timeout=WAIT).response == {"t": "room:w1"}


# --- logging -----------------------------------------------------------------------------


def test_frames_are_logged_only_while_logging_is_on_and_secrets_never(
    connect: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="phoenix_actors")
    s = connect(
        params={"user_id": "ivy", "token": "param-s3cret"},
        options=ConnectOptions(auth_token="tok-s3cret"),
    )
    client = s.client
    client.ask(Log("warning", "label-while-off", {"x": 0}))
    client.ask(StartLogging())
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert isinstance(client.ask(Push(LOBBY, "ping", {"marker": "on"}), timeout=WAIT), PushOk)
    client.ask(Log("warning", "label-while-on", {"x": 1}))
    client.ask(StopLogging())
    assert isinstance(client.ask(Push(LOBBY, "ping", {"marker": "off"}), timeout=WAIT), PushOk)
    client.stop()

    messages = [r.getMessage() for r in caplog.records]
    frames = [m for m in messages if m.startswith(("push ", "receive "))]
    on, off = "{'marker': 'on'}", "{'marker': 'off'}"
    assert any(m.startswith("push room:lobby ping") and on in m for m in frames), messages
    assert any(m.startswith("receive room:lobby phx_reply") and on in m for m in frames)
    assert not any(off in m for m in frames), messages
    labels = [r for r in caplog.records if "label-while" in r.getMessage()]
    assert [(r.levelno, "label-while-on" in r.getMessage()) for r in labels] == [
        (logging.WARNING, True)
    ]
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert "param-s3cret" not in text
        assert "tok-s3cret" not in text


# --- subscribers and events() -----------------------------------------------------------


def test_a_raising_subscriber_does_not_stop_the_others(connect: MakeClient) -> None:
    s = connect()

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    s.client.subscribe(broken)
    after = EventRecorder()
    s.client.subscribe(after)
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert after.wait_for(JoinOk, timeout=WAIT).topic == LOBBY
    assert s.events.wait_for(JoinOk, timeout=WAIT).topic == LOBBY


def test_unsubscribed_callable_gets_nothing_more(connect: MakeClient) -> None:
    s = connect()
    seen: list[Event] = []
    unsubscribe = s.client.subscribe(seen.append)
    unsubscribe()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert seen == []


def test_events_iterator_yields_events_and_ends_after_its_timeout(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    # a push that times out again and again keeps events coming until dropped
    s.client.tell(Push(LOBBY, "noreply", timeout=0.1, retry=Every(0.1), ref="it"))
    stream = s.client.events(timeout=WAIT)
    try:
        got = next(e for e in stream if isinstance(e, PushTimeout))
    finally:
        stream.close()  # type: ignore[attr-defined]  # a generator: closing unsubscribes
    assert got.push.ref == "it"
    assert s.client.ask(DropPush(Match(ref="it"))) == 1
    assert list(s.client.events(timeout=0.3)) == []


def test_socket_state_changes_are_reported(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    states = [e.state for e in s.events.of_type(SocketStateChanged)]
    assert states == [SocketState.CONNECTING, SocketState.CONNECTED]


# --- stop and deadlines ------------------------------------------------------------------


def test_ask_and_tell_after_stop_raise_client_closed(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    s.client.stop()
    s.client.stop()  # idempotent
    with pytest.raises(ClientClosedError):
        s.client.ask(GetSocketState())
    with pytest.raises(ClientClosedError):
        s.client.tell(Push(LOBBY, "ping"))


def test_ask_raises_ask_timeout_when_the_answer_is_late(connect: MakeClient) -> None:
    s = connect()
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    with pytest.raises(AskTimeoutError):
        s.client.ask(Push(LOBBY, "slow", {"ms": 2000}), timeout=0.2)


def test_stop_leaves_no_client_thread(server: LoopbackServer) -> None:
    before = set(threading.enumerate())
    client = Client(server.url, options=ConnectOptions(timeout=2.0))
    assert isinstance(client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    assert len(set(threading.enumerate()) - before) >= 5  # actors and the transport reader
    client.stop()
    extra = set(threading.enumerate()) - before
    for thread in extra:
        thread.join(WAIT)
    assert [t.name for t in extra if t.is_alive()] == []


def test_socket_command_right_after_construction_is_accepted(server: LoopbackServer) -> None:
    for _ in range(5):  # the start-up race (fixed in fa09cc8) was lost nearly every time
        client = Client(server.url, options=ConnectOptions(timeout=2.0))
        try:
            client.tell(Connect())
            assert client.ask(GetSocketState(), timeout=WAIT) in set(SocketState)
        finally:
            client.stop()


# --- server dead -------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_dead_server_gives_socket_errors_and_reconnects_on_schedule(
    connect: MakeClient, closed_port: int
) -> None:
    s = connect(f"ws://127.0.0.1:{closed_port}/socket")
    s.client.tell(Connect())
    for _ in range(3):
        error = s.events.wait_for(SocketError, timeout=WAIT)
        assert error.error == "ConnectError"
        assert error.status is None
        closed = s.events.wait_for(SocketClosed, timeout=WAIT)
        assert closed.will_reconnect is True
        assert closed.reconnect_in is not None
        assert 0.0 <= closed.reconnect_in <= 0.05
    assert s.client.ask(GetSocketState()) is not SocketState.CONNECTED


def test_dead_server_join_ask_times_out_and_stop_is_clean(
    connect: MakeClient, closed_port: int
) -> None:
    s = connect(f"ws://127.0.0.1:{closed_port}/socket")
    with pytest.raises(AskTimeoutError):
        s.client.ask(Join(LOBBY), timeout=0.5)
    s.events.wait_for(SocketError, timeout=WAIT)
    s.client.stop()
    with pytest.raises(ClientClosedError):
        s.client.ask(GetSocketState())


def test_a_query_cannot_be_told(connect: MakeClient) -> None:
    session = connect()
    with pytest.raises(InvalidTypeError, match="ask it"):
        session.client.tell(GetSocketState())  # type: ignore[arg-type]
