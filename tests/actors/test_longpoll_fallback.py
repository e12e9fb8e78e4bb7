"""The client picks long-poll when asked, and falls back to it as phoenix.js does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from phoenix_actors.client import Client
from phoenix_actors.messages import Connect, ConnectOptions, Join, JoinOk, SocketError
from phoenix_actors.protocol.frames import Message
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork, MemoryTransport
from tests.actors.conftest import (
    ENDPOINT,
    TOPIC,
    WAIT,
    deadline_of,
    eventually,
    started,
    wait_armed,
)

THRESHOLD = 2.5


@contextmanager
def running(
    clock: FakeClock, ws: MemoryNetwork, lp: MemoryNetwork, **opts: object
) -> Iterator[Client]:
    """A started client over ``ws`` (long-poll ``lp``), stopped on exit."""
    options = ConnectOptions(**opts)  # type: ignore[arg-type]
    client = started(
        Client(ENDPOINT, clock=clock, transport=ws, longpoll_transport=lp, options=options)
    )
    try:
        yield client
    finally:
        client.stop()


def networks() -> tuple[FakeClock, MemoryNetwork, MemoryNetwork]:
    """A fake clock, and websocket and long-poll networks that accept every connect."""
    return FakeClock(), MemoryNetwork(auto_accept=True), MemoryNetwork(auto_accept=True)


def first_ping(client: Client, ws: MemoryNetwork) -> tuple[MemoryTransport, Message]:
    """Connect; return the websocket transport and the client's first heartbeat on it."""
    client.tell(Connect())
    primary = ws.wait_for_transport(timeout=WAIT)
    ping = primary.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
    return primary, ping


def test_longpoll_transport_option_uses_the_long_poll_url() -> None:
    clock, ws, lp = networks()
    with running(clock, ws, lp, transport="longpoll") as client:
        client.tell(Connect())
        server = lp.wait_for_transport(timeout=WAIT)
        assert server.url.startswith("http://127.0.0.1:4000/socket/longpoll?")
        assert ws.transports == []


def test_a_refused_websocket_falls_back_to_long_poll_and_joins_there() -> None:
    clock, ws, lp = FakeClock(), MemoryNetwork(), MemoryNetwork(auto_accept=True)
    ws.refuse(status=None)
    recorder = EventRecorder()
    with running(clock, ws, lp, longpoll_fallback=THRESHOLD) as client:
        client.subscribe(recorder)
        client.tell(Join(TOPIC))
        recorder.wait_for(SocketError, timeout=WAIT)
        server = lp.wait_for_transport(timeout=WAIT)
        msg = server.expect_join(TOPIC, timeout=WAIT)
        server.reply(msg, "ok", {})
        recorder.wait_for(JoinOk, timeout=WAIT)


def test_a_websocket_that_never_answers_the_ping_falls_back_after_the_threshold() -> None:
    clock, ws, lp = networks()
    with running(clock, ws, lp, longpoll_fallback=THRESHOLD) as client:
        primary, ping = first_ping(client, ws)
        assert ping.event == "heartbeat"
        wait_armed(client, "socket", "fallback", at=THRESHOLD)
        clock.advance(THRESHOLD)  # no reply to the ping
        lp.wait_for_transport(timeout=WAIT)
        primary.wait_closed(timeout=WAIT)


def test_a_websocket_that_answers_the_ping_stays() -> None:
    clock, ws, lp = networks()
    with running(clock, ws, lp, longpoll_fallback=THRESHOLD) as client:
        primary, ping = first_ping(client, ws)
        wait_armed(client, "socket", "fallback", at=THRESHOLD)
        primary.reply(ping, "ok", {})
        # the reply stops the fallback timer: its cancellation is the barrier
        eventually(
            client,
            lambda: deadline_of(client, "socket", "fallback") is None,
            "fallback timer cancelled by the ping reply",
        )
        clock.advance(THRESHOLD)
        client.ask(Connect(), timeout=WAIT)
        assert lp.transports == []
        assert primary.client_close is None
