"""Fixtures for the wire tests: our Client against the bundled LoopbackServer, over 127.0.0.1.

Real sockets and real time, with small numbers. Two observers sit on the
wire without changing it:

* :class:`WireSpy` wraps the real websocket transport factory: it counts
  connection attempts and records every frame written and read (decoded
  from JSON when it is text), per connection, so a test can check the exact
  frames phoenix.js would send;
* :class:`ConnectLog` is the server's ``connect`` hook (the demo's, plus a
  record of every :class:`~phoenix_actors.server.ConnectInfo`), so a test
  sees the params, headers and auth token each handshake carried.

Every wait has a deadline; there is no sleep. A negative check ("nothing
more happens") waits a bounded window for an event that must not come.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from phoenix_actors import Client, ConnectOptions, EventRecorder, Push, PushOk
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import AskTimeoutError, TransportError
from phoenix_actors.messages import Event
from phoenix_actors.server import ConnectInfo, LoopbackServer
from phoenix_actors.server.demo import demo_connect
from phoenix_actors.transport.base import ReadyState, Transport, TransportOptions, TransportSink
from phoenix_actors.transport.websocket import websocket_transport_factory

WAIT = 5.0
"""Seconds any wait for something that must happen allows."""

QUIET = 0.6
"""Seconds a negative check waits for something that must not happen."""

LOBBY = "room:lobby"

FAST = ConnectOptions(
    timeout=1.0,
    heartbeat_interval=5.0,
    reconnect_after=[0.05],
    rejoin_after=[0.05],
)
"""Short reconnects, rejoins and timeouts.

The heartbeat stays long outside the heartbeat tests: on a loaded machine a
0.2 s heartbeat can time out on its own, which would add reconnects the
other tests do not expect.
"""

CLOCK = MonotonicClock()


def now() -> float:
    """Monotonic seconds (the one clock the package allows)."""
    return CLOCK.now()


# --- the wire spy ------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One frame seen on the wire by the client."""

    conn: int
    """Which connection attempt (1, 2, ...)."""
    direction: str
    """``"out"`` (client to server) or ``"in"``."""
    at: float
    """Monotonic seconds when it was written or read."""
    data: Any
    """The decoded JSON of a text frame, or the bytes of a binary frame."""
    binary: bool

    @property
    def topic(self) -> Any:
        """The topic of a V2 text frame (None otherwise)."""
        return self.data[2] if self._v2 else None

    @property
    def event(self) -> Any:
        """The event of a V2 text frame (None otherwise)."""
        return self.data[3] if self._v2 else None

    @property
    def join_ref(self) -> Any:
        """The join_ref of a V2 text frame (None otherwise)."""
        return self.data[0] if self._v2 else None

    @property
    def ref(self) -> Any:
        """The ref of a V2 text frame (None otherwise)."""
        return self.data[1] if self._v2 else None

    @property
    def payload(self) -> Any:
        """The payload of a V2 text frame (None otherwise)."""
        return self.data[4] if self._v2 else None

    @property
    def _v2(self) -> bool:
        return not self.binary and isinstance(self.data, list) and len(self.data) == 5


class WireSpy:
    """A transport factory that records attempts and frames, then delegates to the real one."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.attempts = 0
        self.urls: list[str] = []
        self.options: list[TransportOptions] = []
        self.closes: list[tuple[int, int, str]] = []
        """``(conn, code, reason)`` of every close the client started."""
        self._cond = threading.Condition()

    # the TransportFactory signature
    def __call__(self, url: str, options: TransportOptions, sink: TransportSink) -> Transport:
        with self._cond:
            self.attempts += 1
            conn = self.attempts
            self.urls.append(url)
            self.options.append(options)
            self._cond.notify_all()
        return _SpyTransport(self, conn, url, options, sink)

    def record(self, conn: int, direction: str, data: bytes, binary: bool) -> None:
        decoded: Any = data if binary else json.loads(data)
        with self._cond:
            self.frames.append(Frame(conn, direction, now(), decoded, binary))
            self._cond.notify_all()

    def snapshot(self) -> list[Frame]:
        with self._cond:
            return list(self.frames)

    def sent(self, pred: Callable[[Frame], bool] = lambda _: True) -> list[Frame]:
        return [f for f in self.snapshot() if f.direction == "out" and pred(f)]

    def received(self, pred: Callable[[Frame], bool] = lambda _: True) -> list[Frame]:
        return [f for f in self.snapshot() if f.direction == "in" and pred(f)]

    def wait_frames(
        self, pred: Callable[[Frame], bool], count: int = 1, timeout: float = WAIT
    ) -> list[Frame]:
        """Wait until ``count`` recorded frames match ``pred``; return them all."""
        found: list[Frame] = []

        def ready() -> bool:
            found[:] = [f for f in self.frames if pred(f)]
            return len(found) >= count

        with self._cond:
            if not self._cond.wait_for(ready, timeout=timeout):
                msg = f"only {len(found)} of {count} frames within {timeout} s"
                raise AskTimeoutError(msg)
            return list(found)

    def wait_attempts(self, count: int, timeout: float = WAIT) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.attempts >= count, timeout=timeout):
                msg = f"{self.attempts} connection attempts within {timeout} s, wanted {count}"
                raise AskTimeoutError(msg)


class _SpySink:
    """Hands the real transport's callbacks on as if they came from the spy transport."""

    def __init__(self, outer: _SpyTransport, sink: TransportSink) -> None:
        self.outer = outer
        self.sink = sink

    def on_open(self, transport: Transport) -> None:
        del transport
        self.sink.on_open(self.outer)

    def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:
        del transport
        self.outer.spy.record(self.outer.conn, "in", data, binary)
        self.sink.on_message(self.outer, data, binary)

    def on_batch_end(self, transport: Transport) -> None:
        del transport
        batch_end = getattr(self.sink, "on_batch_end", None)  # optional in TransportSink
        if batch_end is not None:
            batch_end(self.outer)

    def on_error(self, transport: Transport, error: TransportError) -> None:
        del transport
        self.sink.on_error(self.outer, error)

    def on_close(self, transport: Transport, code: int, reason: str, clean: bool) -> None:
        del transport
        self.sink.on_close(self.outer, code, reason, clean)


class _SpyTransport:
    """The real WebSocketTransport, with every written frame recorded after it went out."""

    def __init__(
        self, spy: WireSpy, conn: int, url: str, options: TransportOptions, sink: TransportSink
    ) -> None:
        self.spy = spy
        self.conn = conn
        self.inner = websocket_transport_factory(url, options, _SpySink(self, sink))
        self.delivers_batches = bool(getattr(self.inner, "delivers_batches", False))

    @property
    def ready_state(self) -> ReadyState:
        return self.inner.ready_state

    def open(self) -> None:
        self.inner.open()

    def send(self, data: bytes, binary: bool) -> None:
        self.inner.send(data, binary)
        self.spy.record(self.conn, "out", data, binary)

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        self.inner.send_many(frames)
        for data, binary in frames:
            self.spy.record(self.conn, "out", data, binary)

    def close(self, code: int = 1000, reason: str = "") -> None:
        with self.spy._cond:
            self.spy.closes.append((self.conn, code, reason))
        self.inner.close(code, reason)

    def join(self, timeout: float) -> bool:
        return self.inner.join(timeout)


# --- the server's connect log --------------------------------------------------------------


class ConnectLog:
    """The demo ``connect`` hook, recording each handshake's :class:`ConnectInfo`."""

    def __init__(self) -> None:
        self.infos: list[ConnectInfo] = []
        self._cond = threading.Condition()

    def __call__(self, params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        # keep a plain copy: the headers mapping belongs to the request
        copy = ConnectInfo(
            params=dict(params),
            headers=dict(info.headers),
            auth_token=info.auth_token,
            transport=info.transport,
        )
        with self._cond:
            self.infos.append(copy)
            self._cond.notify_all()
        return demo_connect(params, info)

    def wait_count(self, count: int, timeout: float = WAIT) -> list[ConnectInfo]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.infos) >= count, timeout=timeout):
                msg = f"{len(self.infos)} handshakes within {timeout} s, wanted {count}"
                raise AskTimeoutError(msg)
            return list(self.infos)


# --- sessions ------------------------------------------------------------------------------


@dataclass
class Session:
    """One client, its recorder (subscribed before anything happened) and its wire spy."""

    client: Client
    events: EventRecorder
    wire: WireSpy
    unsubscribe: Callable[[], None] = field(repr=False)

    def no_event(self, event_type: type[Event], pred: Callable[[Any], bool] | None = None) -> None:
        """Assert that no (further) matching event arrives within :data:`QUIET` seconds."""
        try:
            got = self.events.wait_for(event_type, pred, timeout=QUIET)
        except AskTimeoutError:
            return
        pytest.fail(f"unexpected {got!r}")


class MakeClient(Protocol):
    def __call__(
        self,
        url: str | None = None,
        *,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        options: ConnectOptions | None = None,
    ) -> Session: ...


def merge(base: ConnectOptions, extra: ConnectOptions | None) -> ConnectOptions:
    """``base`` with every field set in ``extra`` overriding."""
    return base if extra is None else base.merged(extra)


def whoami(session: Session, topic: str = LOBBY) -> dict[str, Any]:
    """Ask the demo channel who we are (join_ref, params, serializer...)."""
    reply = session.client.ask(Push(topic, "whoami"), timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    response: dict[str, Any] = reply.response
    return response


@pytest.fixture
def connect_log() -> ConnectLog:
    return ConnectLog()


@pytest.fixture
def server(connect_log: ConnectLog) -> Iterator[LoopbackServer]:
    """The demo channels on 127.0.0.1, with the recording connect hook."""
    srv = LoopbackServer(connect=connect_log)
    srv.start()
    assert srv.url.startswith("ws://127.0.0.1:")
    try:
        yield srv
    finally:
        srv.stop()


def _sessions(default_url: Callable[[], str]) -> Iterator[MakeClient]:
    made: list[Session] = []

    def make(
        url: str | None = None,
        *,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        options: ConnectOptions | None = None,
    ) -> Session:
        spy = WireSpy()
        client = Client(
            url or default_url(), params=params, options=merge(FAST, options), transport=spy
        )
        recorder = EventRecorder()
        session = Session(client, recorder, spy, client.subscribe(recorder))
        made.append(session)
        return session

    yield make
    for session in reversed(made):
        session.client.stop()


@pytest.fixture
def connect(server: LoopbackServer) -> Iterator[MakeClient]:
    """Clients of ``server``, each with a recorder and a wire spy; stopped before the server."""
    yield from _sessions(lambda: server.url)
