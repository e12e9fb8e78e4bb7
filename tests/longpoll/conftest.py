"""Fixtures for the long-poll tests: loopback servers with short poll windows and a sink."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self

import pytest

from phoenix_actors.protocol.frames import Message, Role, serializer_for
from phoenix_actors.server import LoopbackServer
from phoenix_actors.transport.base import Transport, TransportOptions
from phoenix_actors.transport.longpoll import LongPollTransport
from tests.transport.sinks import Event
from tests.transport.sinks import Recorder as RecordingSink

WAIT = 5.0  # bound of every wait; a passing test never reaches it
WINDOW = 0.25  # server poll window: idle polls come back quickly
SESSION_TIMEOUT = 1.0  # server session timeout: a session left alone ends quickly

CLIENT = serializer_for("2.0.0", Role.CLIENT)


def longpoll_server(
    *, window: float = WINDOW, session_timeout: float = SESSION_TIMEOUT, **kwargs: Any
) -> LoopbackServer:
    """A LoopbackServer whose long-poll endpoint uses ``window`` and ``session_timeout``."""
    return LoopbackServer(longpoll_window=window, longpoll_timeout=session_timeout, **kwargs)


class Recorder(RecordingSink):
    """The shared recording sink, with a batch end and decoded-message waits."""

    def on_batch_end(self, transport: Transport) -> None:
        pass

    def wait_message(self, predicate: Callable[[Message], bool], timeout: float = WAIT) -> Message:
        def match(event: Event) -> bool:
            return event[0] == "message" and predicate(CLIENT.decode(event[1], binary=event[2]))

        return decode_event(self.wait_for(match, timeout))

    def wait_close(self, timeout: float = WAIT) -> Event:
        return self.wait_kind("close", timeout)


def frame(msg: Message) -> tuple[bytes, bool]:
    """Encode a client message as ``(data, binary)``."""
    wire = CLIENT.encode(msg)
    return wire.data, wire.binary


def decode_event(event: Event) -> Message:
    """Decode a recorded ``("message", data, binary)`` event."""
    return CLIENT.decode(event[1], binary=event[2])


def reply_to(ref: str) -> Callable[[Message], bool]:
    return lambda m: m.event == "phx_reply" and m.ref == ref


def lp_url(server: LoopbackServer, query: str = "") -> str:
    return f"{server.http_url}/socket/longpoll?vsn=2.0.0{'&' + query if query else ''}"


class Opened:
    """An open LongPollTransport and its recorder; closed and joined on exit."""

    def __init__(self, url: str, options: TransportOptions | None = None, **kwargs: Any) -> None:
        self.sink = Recorder()
        self.options = options or TransportOptions(name="lp-test")
        self.transport = LongPollTransport(url, self.options, self.sink, **kwargs)

    def __enter__(self) -> Self:
        self.transport.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.transport.close()
        assert self.transport.join(WAIT), "long-poll threads did not end"

    def send(self, msg: Message) -> None:
        data, binary = frame(msg)
        self.transport.send(data, binary)

    def join(self, topic: str, join_ref: str, payload: Any = None) -> Message:
        self.send(Message(join_ref, join_ref, topic, "phx_join", payload or {}))
        return self.sink.wait_message(reply_to(join_ref))


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with longpoll_server() as srv:
        yield srv
