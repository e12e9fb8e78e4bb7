"""Fixtures for the long-poll tests: loopback servers with short poll windows and a sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Self

import pytest

from phoenix_actors.errors import TransportError
from phoenix_actors.protocol.frames import Message, Role, serializer_for
from phoenix_actors.server import LoopbackServer
from phoenix_actors.transport.base import Transport, TransportOptions
from phoenix_actors.transport.longpoll import LongPollTransport

WAIT = 5.0  # bound of every wait; a passing test never reaches it
WINDOW = 0.25  # server poll window: idle polls come back quickly
SESSION_TIMEOUT = 1.0  # server session timeout: a session left alone ends quickly

Event = tuple[Any, ...]
CLIENT = serializer_for("2.0.0", Role.CLIENT)


def longpoll_server(
    *, window: float = WINDOW, session_timeout: float = SESSION_TIMEOUT, **kwargs: Any
) -> LoopbackServer:
    """A LoopbackServer whose long-poll endpoint uses ``window`` and ``session_timeout``."""
    return LoopbackServer(longpoll_window=window, longpoll_timeout=session_timeout, **kwargs)


class Recorder:
    """A TransportSink recording every callback and the thread it ran on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def _add(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def on_open(self, transport: Transport) -> None:
        self._add(("open",))

    def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:
        self._add(("message", data, binary))

    def on_batch_end(self, transport: Transport) -> None:
        pass

    def on_error(self, transport: Transport, error: TransportError) -> None:
        self._add(("error", error))

    def on_close(self, transport: Transport, code: int, reason: str, clean: bool) -> None:
        self._add(("close", code, reason, clean))

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = WAIT) -> Event:
        with self._cond:
            found: list[Event] = []

            def seen() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            if not self._cond.wait_for(seen, timeout):
                pytest.fail(f"no matching event within {timeout}s; got {self.events!r}")
            return found[0]

    def wait_message(self, predicate: Callable[[Message], bool], timeout: float = WAIT) -> Message:
        def match(event: Event) -> bool:
            return event[0] == "message" and predicate(CLIENT.decode(event[1], binary=event[2]))

        event = self.wait_for(match, timeout)
        return CLIENT.decode(event[1], binary=event[2])

    def wait_close(self, timeout: float = WAIT) -> Event:
        return self.wait_for(lambda e: e[0] == "close", timeout)

    def kinds(self) -> list[str]:
        with self._cond:
            return [e[0] for e in self.events]


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
