"""The client picks long-poll when asked, and falls back to it as phoenix.js does."""

from __future__ import annotations

from phoenix_actors.client import Client
from phoenix_actors.messages import Connect, ConnectOptions, Join, JoinOk, SocketError
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork
from tests.actors.conftest import ENDPOINT, TOPIC, WAIT, started, wait_armed

THRESHOLD = 2.5


def make(clock: FakeClock, ws: MemoryNetwork, lp: MemoryNetwork, **opts: object) -> Client:
    options = ConnectOptions(**opts)  # type: ignore[arg-type]
    return started(
        Client(ENDPOINT, clock=clock, transport=ws, longpoll_transport=lp, options=options)
    )


def test_longpoll_transport_option_uses_the_long_poll_url() -> None:
    clock, ws, lp = FakeClock(), MemoryNetwork(auto_accept=True), MemoryNetwork(auto_accept=True)
    client = make(clock, ws, lp, transport="longpoll")
    try:
        client.tell(Connect())
        server = lp.wait_for_transport(timeout=WAIT)
        assert server.url.startswith("http://127.0.0.1:4000/socket/longpoll?")
        assert ws.transports == []
    finally:
        client.stop()


def test_a_refused_websocket_falls_back_to_long_poll_and_joins_there() -> None:
    clock, ws, lp = FakeClock(), MemoryNetwork(), MemoryNetwork(auto_accept=True)
    ws.refuse(status=None)
    recorder = EventRecorder()
    client = make(clock, ws, lp, longpoll_fallback=THRESHOLD)
    client.subscribe(recorder)
    try:
        client.tell(Join(TOPIC))
        recorder.wait_for(SocketError, timeout=WAIT)
        server = lp.wait_for_transport(timeout=WAIT)
        msg = server.expect_join(TOPIC, timeout=WAIT)
        server.reply(msg, "ok", {})
        recorder.wait_for(JoinOk, timeout=WAIT)
    finally:
        client.stop()


def test_a_websocket_that_never_answers_the_ping_falls_back_after_the_threshold() -> None:
    clock, ws, lp = FakeClock(), MemoryNetwork(auto_accept=True), MemoryNetwork(auto_accept=True)
    client = make(clock, ws, lp, longpoll_fallback=THRESHOLD)
    try:
        client.tell(Connect())
        primary = ws.wait_for_transport(timeout=WAIT)
        ping = primary.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
        assert ping.event == "heartbeat"
        wait_armed(client, "socket", "fallback", at=THRESHOLD)
        clock.advance(THRESHOLD)  # no reply to the ping
        lp.wait_for_transport(timeout=WAIT)
        primary.wait_closed(timeout=WAIT)
    finally:
        client.stop()


def test_a_websocket_that_answers_the_ping_stays() -> None:
    clock, ws, lp = FakeClock(), MemoryNetwork(auto_accept=True), MemoryNetwork(auto_accept=True)
    client = make(clock, ws, lp, longpoll_fallback=THRESHOLD)
    try:
        client.tell(Connect())
        primary = ws.wait_for_transport(timeout=WAIT)
        ping = primary.wait_for_message(lambda m: m.topic == "phoenix", timeout=WAIT)
        primary.reply(ping, "ok", {})
        # the fallback timer is stopped by the reply; the heartbeat timer stays armed
        wait_armed(client, "socket", "heartbeat")
        client.ask(Connect(), timeout=WAIT)  # a barrier: the reply was handled
        clock.advance(THRESHOLD)
        client.ask(Connect(), timeout=WAIT)
        assert lp.transports == []
    finally:
        client.stop()
