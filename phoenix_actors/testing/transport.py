"""MemoryTransport: the in-memory twin of the websocket transport, for tests.

Like httpcore's public ``MockStream``, it implements the real
:class:`~phoenix_actors.transport.base.Transport` interface with no socket,
so a test can play the server, slipstream style::

    network = MemoryNetwork(auto_accept=True)
    client = Client(url, transport_factory=network)     # whatever the client takes
    server = network.wait_for_transport(timeout=1.0)
    join = server.expect_join("room:lobby", timeout=1.0)
    server.reply(join, response={"hello": "world"})
    server.push("room:lobby", "new_msg", {"body": "hi"}, join_ref=join.join_ref)

Callbacks run on the transport's own named thread, in the real order
(``on_open``, ``on_message``..., ``on_error``?, ``on_close`` last), because
the test-side calls only queue actions that thread performs. Every wait has a
deadline and fails with an :class:`AssertionError` that lists what was seen.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qs, urlsplit

from phoenix_actors.errors import (
    ConnectionLostError,
    FrameError,
    InvalidArgumentError,
    PhoenixError,
    TransportError,
)
from phoenix_actors.protocol.frames import (
    Event,
    Message,
    Role,
    V1JSONSerializer,
    V2JSONSerializer,
    serializer_for,
)
from phoenix_actors.transport._lifecycle import TransportLifecycle
from phoenix_actors.transport.base import (
    FrameTooLargeError,
    ReadyState,
    TransportOptions,
    TransportSink,
    connect_error,
)

__all__ = ["DEFAULT_WAIT", "MemoryNetwork", "MemoryTransport"]

DEFAULT_WAIT: Final = 2.0
"""Seconds a wait allows when the test gives no timeout."""

_thread_numbers = itertools.count(1)

Frame = tuple[bytes, bool]
"""One websocket frame: ``(data, binary)``."""

_log = logging.getLogger("phoenix_actors.testing")


# Actions the transport thread performs, in order.
class _Open(NamedTuple):
    pass


class _Deliver(NamedTuple):
    data: bytes
    binary: bool


class _End(NamedTuple):
    code: int
    reason: str
    clean: bool
    error: TransportError | None


_Action = _Open | _Deliver | _End


def _serializer(url: str) -> V1JSONSerializer | V2JSONSerializer:
    """The server-role serializer for the URL's ``vsn`` (V2 when absent or unknown)."""
    try:
        vsn = parse_qs(urlsplit(url).query).get("vsn", ["2.0.0"])[0]
        return serializer_for(vsn, Role.SERVER)
    except (PhoenixError, ValueError):
        return V2JSONSerializer(Role.SERVER)


class MemoryTransport(TransportLifecycle):
    """A :class:`~phoenix_actors.transport.base.Transport` with a test playing the server.

    Made by :class:`MemoryNetwork` (or directly). The client side uses the
    Transport methods; the test uses the rest.

    Args:
        url: the URL the client asked for (kept in :attr:`url`).
        options: the client's options (kept in :attr:`options`).
        sink: the client's callbacks.
        auto_accept: accept the connection as soon as it is opened.
        refuse_status: fail every connect with a :class:`ConnectError`
            carrying this HTTP status (``0`` means no status).
    """

    def __init__(
        self,
        url: str,
        options: TransportOptions,
        sink: TransportSink,
        *,
        auto_accept: bool = False,
        refuse_status: int | None = None,
    ) -> None:
        """Create an unopened transport."""
        self.url: Final = url
        """The URL the client connected to."""
        self.options: Final = options
        """The options the client passed (subprotocols, headers...)."""
        self.serializer: V1JSONSerializer | V2JSONSerializer = _serializer(url)
        """The server-role serializer used by the ``*_message`` helpers."""
        self._sink = sink
        self._auto_accept = auto_accept
        self._refuse_status = refuse_status
        self._cond = threading.Condition()
        self._actions: deque[_Action] = deque()
        self._state: ReadyState = "connecting"
        self._started = False
        self._accepted = False
        self._ending: str | None = None  # who queued the end: "client" or "server"
        self._thread: threading.Thread | None = None
        self._sent: list[Frame] = []
        self._unread: list[Frame] = []
        self._client_close: tuple[int, str] | None = None
        self._closed: tuple[int, str, bool] | None = None
        self.sink_errors: list[Exception] = []
        """Exceptions the client's callbacks raised (logged, then kept here)."""

    def __repr__(self) -> str:
        """Show the state and the number of frames sent."""
        return f"<MemoryTransport {self._state} sent={len(self._sent)}>"

    # -- the Transport interface (client side) -------------------------------------

    def open(self) -> None:
        """Start the transport thread; the connection opens on :meth:`accept`.

        Raises:
            RuntimeError: already opened, or closed before it was opened.
        """
        with self._cond:
            self._mark_started()
            if self._refuse_status is not None:
                status = self._refuse_status or None
                error = connect_error(
                    f"connection refused by the test (HTTP {status})", status=status
                )
                self._queue_end("server", _End(1006, str(error), clean=False, error=error))
            elif self._auto_accept:
                self._accepted = True
                self._actions.append(_Open())
            name = f"{self.options.name}-{next(_thread_numbers)}"
            self._thread = self._start_thread(self._run, name)

    def send(self, data: bytes, binary: bool) -> None:  # noqa: FBT001
        """Record one frame the client sends; never blocks.

        The test reads what was sent at its own pace, so this twin's
        outgoing buffer is never full: ``options.write_timeout`` and
        ``max_buffered`` are not enforced. To play a peer that stopped
        reading, :meth:`fail` with the
        :class:`~phoenix_actors.errors.ConnectionLostError` the real
        transport reports (``on_error``, then ``on_close(1006)``).

        Raises:
            ConnectionLostError: the transport is not open.
        """
        with self._cond:
            self._check_open()
            frame = (bytes(data), binary)
            self._sent.append(frame)
            self._unread.append(frame)
            self._cond.notify_all()

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Record several frames, in order, atomically; never blocks (as :meth:`send`).

        Raises:
            ConnectionLostError: the transport is not open.
        """
        with self._cond:
            self._check_open()
            for data, binary in frames:
                frame = (bytes(data), binary)
                self._sent.append(frame)
                self._unread.append(frame)
            self._cond.notify_all()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close as a client: ``on_close(code, reason, clean=True)`` follows.

        Non-blocking and idempotent; before :meth:`open` it just marks the
        transport closed (no callbacks), as the real transport does.

        Raises:
            InvalidArgumentError: ``code`` is outside 1000-4999.
        """
        if not 1000 <= code <= 4999:
            raise InvalidArgumentError(f"close code {code} cannot be sent (1000-4999)")
        with self._cond:
            if self._ending is not None or self._state == "closed":
                return
            self._client_close = (code, reason)
            if self._close_unopened():
                self._ending = "client"
                self._cond.notify_all()
                return
            self._state = "closing"
            self._queue_end("client", _End(code, reason, clean=True, error=None))

    def _threads(self) -> tuple[threading.Thread | None, ...]:
        return (self._thread,)

    # -- the test side: connection ----------------------------------------------------

    def accept(self) -> None:
        """Accept the connection: ``on_open`` follows on the transport thread.

        Raises:
            AssertionError: not opened by the client, already accepted, or ended.
        """
        with self._cond:
            if not self._started:
                raise AssertionError("the client has not opened this transport")
            if self._accepted:
                raise AssertionError("already accepted")
            if self._ending is not None:
                raise AssertionError(f"already ended by the {self._ending}")
            self._accepted = True
            self._actions.append(_Open())
            self._cond.notify_all()

    def server_close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the server: ``on_close(code, reason, clean=True)``."""
        self._end_by_server(_End(code, reason, clean=True, error=None))

    def drop(self) -> None:
        """Drop the connection abruptly: ``ConnectionLostError``, then ``on_close(1006)``."""
        error = ConnectionLostError("connection dropped by the test", abrupt=True)
        self._end_by_server(_End(1006, "", clean=False, error=error))

    def fail(self, error: TransportError) -> None:
        """End with ``error``: ``on_error(error)``, then ``on_close(1006, str(error))``."""
        self._end_by_server(_End(1006, str(error), clean=False, error=error))

    # -- the test side: frames to the client ------------------------------------------

    def deliver(self, data: bytes, binary: bool = False) -> None:  # noqa: FBT001, FBT002
        """Send one frame to the client (``on_message``), after everything queued.

        A frame over ``options.max_frame_size`` fails the connection with
        :class:`~phoenix_actors.transport.FrameTooLargeError` and close 1009,
        as the real transport does. Frames after a client close are dropped.

        Raises:
            AssertionError: not accepted, or already ended by the server.
        """
        with self._cond:
            if self._ending == "client":
                return  # the client closed: a real network would drop it too
            self._check_can_deliver()
            limit = self.options.max_frame_size
            if limit is not None and len(data) > limit:
                error = FrameTooLargeError(f"{len(data)}-byte frame over max_frame_size={limit}")
                self._queue_end("server", _End(1009, str(error), clean=False, error=error))
                return
            self._actions.append(_Deliver(bytes(data), binary))
            self._cond.notify_all()

    def deliver_message(self, msg: Message) -> None:
        """Encode ``msg`` with the server-role serializer and :meth:`deliver` it."""
        data, binary = self.serializer.encode(msg)
        self.deliver(data, binary)

    def push(
        self, topic: str, event: str, payload: Any = None, *, join_ref: str | None = None
    ) -> Message:
        """Push ``event`` on ``topic`` to the client (a broadcast when ``join_ref`` is None).

        Returns:
            The message delivered.
        """
        msg = Message(join_ref, None, topic, event, {} if payload is None else payload)
        self.deliver_message(msg)
        return msg

    def reply(self, msg: Message, status: str = "ok", response: Any = None) -> Message:
        """Answer ``msg`` (a join, push or heartbeat) with a ``phx_reply``.

        Returns:
            The reply delivered (same join_ref, ref and topic as ``msg``).
        """
        payload = {"status": status, "response": {} if response is None else response}
        answer = Message(msg.join_ref, msg.ref, msg.topic, Event.REPLY, payload)
        self.deliver_message(answer)
        return answer

    # -- the test side: what the client sent ------------------------------------------

    @property
    def sent(self) -> list[Frame]:
        """Every frame the client sent, in order (a copy)."""
        with self._cond:
            return list(self._sent)

    def wait_for_sent(
        self, predicate: Callable[[Frame], bool] | None = None, timeout: float = DEFAULT_WAIT
    ) -> Frame:
        """Return the next sent frame matching ``predicate`` (any frame when None).

        Each frame is returned once: a match is taken out of the unread
        frames; frames that do not match stay for later waits.

        Raises:
            AssertionError: no match within ``timeout`` seconds (lists what was sent).
        """
        match = predicate or (lambda _frame: True)
        found: list[Frame] = []

        def take() -> bool:
            for index, frame in enumerate(self._unread):
                if match(frame):
                    found.append(self._unread.pop(index))
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(take, timeout):
                msg = f"no matching frame sent within {timeout}s; unread: {self._unread}"
                raise AssertionError(msg)
        return found[0]

    def wait_for_message(
        self, predicate: Callable[[Message], bool] | None = None, timeout: float = DEFAULT_WAIT
    ) -> Message:
        """Return the next sent frame that decodes to a :class:`Message` matching ``predicate``.

        Raises:
            AssertionError: no match within ``timeout`` seconds.
        """
        decoded: dict[int, Message] = {}

        def matches(frame: Frame) -> bool:
            try:
                msg = self.serializer.decode(frame[0], binary=frame[1])
            except FrameError:
                return False
            if predicate is None or predicate(msg):
                decoded[0] = msg
                return True
            return False

        self.wait_for_sent(matches, timeout)
        return decoded[0]

    def expect_join(self, topic: str, timeout: float = DEFAULT_WAIT) -> Message:
        """Wait for the client's ``phx_join`` on ``topic``.

        Raises:
            AssertionError: none within ``timeout`` seconds.
        """
        return self.wait_for_message(
            lambda m: m.topic == topic and m.event == Event.JOIN, timeout=timeout
        )

    def expect_push(self, topic: str, event: str, timeout: float = DEFAULT_WAIT) -> Message:
        """Wait for the client's push of ``event`` on ``topic``.

        Raises:
            AssertionError: none within ``timeout`` seconds.
        """
        return self.wait_for_message(
            lambda m: m.topic == topic and m.event == event, timeout=timeout
        )

    def refute_sent(
        self, predicate: Callable[[Frame], bool] | None = None, within: float = 0.05
    ) -> None:
        """Assert no unread frame matching ``predicate`` is sent within ``within`` seconds.

        Raises:
            AssertionError: a matching frame was (or is) sent.
        """
        match = predicate or (lambda _frame: True)
        with self._cond:
            if self._cond.wait_for(lambda: any(match(f) for f in self._unread), within):
                raise AssertionError(f"unexpected frame sent: {self._unread}")

    # -- the test side: the end -------------------------------------------------------

    @property
    def client_close(self) -> tuple[int, str] | None:
        """``(code, reason)`` if the client called :meth:`close`, else None."""
        return self._client_close

    def wait_closed(self, timeout: float = DEFAULT_WAIT) -> tuple[int, str, bool]:
        """Wait until ``on_close`` ran; return its ``(code, reason, clean)``.

        Raises:
            AssertionError: not closed within ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed is not None, timeout):
                raise AssertionError(f"not closed within {timeout}s: {self!r}")
            assert self._closed is not None
            return self._closed

    # -- internals --------------------------------------------------------------------

    def _check_can_deliver(self) -> None:
        if not self._accepted:
            raise AssertionError("accept() the connection before delivering frames")
        if self._ending is not None:
            raise AssertionError(f"the connection was already ended by the {self._ending}")

    def end(self, code: int = 1001, reason: str = "") -> None:
        """Close from the server unless the connection is already ending; never raises."""
        with self._cond:
            if not self._started or self._ending is not None:
                return
            self._queue_end("server", _End(code, reason, clean=True, error=None))

    def _end_by_server(self, action: _End) -> None:
        with self._cond:
            if self._ending == "client":
                return  # the client's close won the race, as on a network
            if not self._started:
                raise AssertionError("the client has not opened this transport")
            if self._ending is not None:
                raise AssertionError("the connection was already ended by the server")
            self._queue_end("server", action)

    def _queue_end(self, who: str, action: _End) -> None:
        self._ending = who
        self._actions.append(action)
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._actions))
                action = self._actions.popleft()
                match action:
                    case _Open() if self._state == "connecting":
                        self._state = "open"
                    case _End():
                        self._state = "closed"
                state = self._state
            match action:
                case _Open():
                    if state == "open":
                        self._call("on_open")
                case _Deliver(data, binary):
                    if state == "open":  # dropped after a client close, as on a network
                        self._call("on_message", data, binary)
                case _End(code, reason, clean, error):
                    if error is not None:
                        self._call("on_error", error)
                    self._call("on_close", code, reason, clean)
                    with self._cond:
                        self._closed = (code, reason, clean)
                        self._cond.notify_all()
                    return

    def _call(self, name: str, *args: Any) -> None:
        # A raising sink must not kill the thread (the real transport logs too);
        # the error is kept in sink_errors for the test to check.
        try:
            getattr(self._sink, name)(self, *args)
        except Exception as exc:  # noqa: BLE001
            _log.exception("MemoryTransport sink %s raised", name)
            with self._cond:
                self.sink_errors.append(exc)


class MemoryNetwork:
    """A :data:`~phoenix_actors.transport.base.TransportFactory` of :class:`MemoryTransport`.

    Hand it to the client as its transport factory; every connection attempt
    is recorded, so the test can find it and play the server.

    Args:
        auto_accept: accept every connection as soon as the client opens it.
    """

    def __init__(self, *, auto_accept: bool = False) -> None:
        """Create a network with no transports."""
        self.auto_accept = auto_accept
        """Accept new connections at once (may be changed between connects)."""
        self._cond = threading.Condition()
        self._transports: list[MemoryTransport] = []
        self._handed_out = 0
        self._refuse_status: int | None = None
        self._refuse_left: int | None = None

    def __call__(self, url: str, options: TransportOptions, sink: TransportSink) -> MemoryTransport:
        """Make (and record) the transport for one connection attempt."""
        with self._cond:
            refuse = self._refuse_status
            if refuse is not None and self._refuse_left is not None:
                self._refuse_left -= 1
                if self._refuse_left <= 0:
                    self._refuse_status = self._refuse_left = None
            transport = MemoryTransport(
                url, options, sink, auto_accept=self.auto_accept, refuse_status=refuse
            )
            self._transports.append(transport)
            self._cond.notify_all()
        return transport

    def refuse(self, status: int | None = 403, *, times: int | None = None) -> None:
        """Fail the next connects with a :class:`ConnectError` (``status`` set on it).

        Args:
            status: the HTTP status the error carries; None for no status
                (a refused TCP connection).
            times: how many connects to refuse; None refuses until :meth:`allow`.
        """
        with self._cond:
            self._refuse_status = 0 if status is None else status
            self._refuse_left = times

    def allow(self) -> None:
        """Stop refusing connects."""
        with self._cond:
            self._refuse_status = self._refuse_left = None

    @property
    def transports(self) -> list[MemoryTransport]:
        """Every transport made so far, oldest first (a copy)."""
        with self._cond:
            return list(self._transports)

    @property
    def last(self) -> MemoryTransport:
        """The newest transport.

        Raises:
            AssertionError: none was made yet.
        """
        with self._cond:
            if not self._transports:
                raise AssertionError("no transport was made yet")
            return self._transports[-1]

    def wait_for_transport(self, timeout: float = DEFAULT_WAIT) -> MemoryTransport:
        """Return the next transport not yet returned by this method, waiting for it.

        Successive calls walk through the connection attempts in order (the
        first connect, then the reconnect...).

        Raises:
            AssertionError: no new transport within ``timeout`` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._transports) > self._handed_out, timeout):
                msg = (
                    f"no new transport within {timeout}s "
                    f"({len(self._transports)} made, all handed out)"
                )
                raise AssertionError(msg)
            transport = self._transports[self._handed_out]
            self._handed_out += 1
            return transport

    def close_all(self, timeout: float = DEFAULT_WAIT) -> None:
        """End every transport (as a server close 1001) and join their threads.

        Raises:
            AssertionError: a thread did not end within ``timeout`` seconds.
        """
        for transport in self.transports:
            transport.end(1001, "test network closed")
            if not transport.join(timeout):
                raise AssertionError(f"{transport!r} thread did not end")
