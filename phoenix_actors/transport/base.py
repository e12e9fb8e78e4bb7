"""The transport interface: a byte pipe with a reader thread and a callback sink.

A :class:`Transport` moves websocket frames and knows nothing about Phoenix.
Its owner (the SocketActor) hands it a :class:`TransportSink`; every callback
runs on the transport's own thread, in this order::

    on_open            once, if the connection opened
    on_message         once per received frame
    on_error           optional, at most once, before on_close
    on_close           exactly once, last

:meth:`Transport.send` never blocks: what the network does not take at once
waits in a bounded outgoing buffer that the transport's own thread drains.
A peer that stops reading fails the connection like a lost one, once
``TransportOptions.write_timeout`` passes or the buffer would grow over
``TransportOptions.max_buffered`` (``on_error(ConnectionLostError)``, then
``on_close(1006, ..., clean=False)``; the long-poll transport closes with
1011, see :mod:`phoenix_actors.transport.longpoll`).

Two implementations share the interface, as in httpcore's backends and its
``MockStream``: :class:`phoenix_actors.transport.WebSocketTransport` (real
sockets, websocket-client) and
:class:`phoenix_actors.testing.transport.MemoryTransport` (no sockets).
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import msgspec

from phoenix_actors.errors import (
    ConnectError,
    InvalidArgumentError,
    PayloadTooLargeError,
    TransportError,
)

__all__ = [
    "FrameTooLargeError",
    "ReadyState",
    "Transport",
    "TransportFactory",
    "TransportOptions",
    "TransportSink",
    "connect_error",
]

ReadyState = Literal["connecting", "open", "closing", "closed"]
"""The states of a transport, named as the browser's ``WebSocket.readyState``."""


class FrameTooLargeError(TransportError, PayloadTooLargeError):
    """A received frame is over ``TransportOptions.max_frame_size``.

    Both a :class:`TransportError` (it ends the connection, so it travels
    through :meth:`TransportSink.on_error`) and a
    :class:`PayloadTooLargeError` (``except PayloadTooLargeError`` catches it).
    """


def connect_error(message: str, *, status: int | None = None, tls: bool = False) -> ConnectError:
    """Build a :class:`ConnectError` carrying the HTTP status and the TLS flag.

    Args:
        message: what went wrong, with no URL query string and no headers.
        status: the HTTP status of a rejected handshake (for example 403).
        tls: True when the TLS layer failed (certificate verification or handshake).

    Returns:
        The error, with ``status`` and ``tls`` attributes set.
    """
    error = ConnectError(message)
    # errors.py does not declare these attributes (yet): set them dynamically so
    # this keeps type-checking whether or not it does.
    setattr(error, "status", status)  # noqa: B010
    setattr(error, "tls", tls)  # noqa: B010
    return error


class TransportOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How a transport connects; frozen, shared by every reconnect."""

    subprotocols: tuple[str, ...] = ()
    """Subprotocols to offer (may hold the auth token: never logged)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra handshake headers as ``(name, value)`` pairs (never logged)."""
    connect_timeout: float = 10.0
    """Seconds allowed for each step of opening: TCP connect, TLS, HTTP upgrade."""
    ssl_context: ssl.SSLContext | None = None
    """TLS settings for ``wss://``; None means :func:`ssl.create_default_context`."""
    max_frame_size: int | None = None
    """Largest incoming message in bytes; a bigger one closes with 1009."""
    name: str = "phoenix-transport"
    """Prefix of the reader thread's name (``f"{name}-{n}"``)."""
    write_timeout: float | None = 30.0
    """Seconds a byte handed to :meth:`Transport.send` may wait unsent; None: no limit.

    "Sent" means taken by the operating system (written to the socket). When
    the oldest byte still in the outgoing buffer has waited longer, the
    connection fails: ``on_error(ConnectionLostError("write deadline of N s
    passed with M bytes unsent"))``, then ``on_close(1006, ..., clean=False)``
    (after :meth:`Transport.close`, only the ``on_close``: the close was asked
    for). The websocket transport enforces it even when nothing is readable.
    The long-poll transport ignores it: each of its requests is bounded by
    its ``longpoller_timeout`` instead.
    """
    max_buffered: int | None = 64 * 1024 * 1024
    """Bytes the outgoing buffer may hold; None: no limit.

    The buffer holds what :meth:`Transport.send` accepted and the network has
    not taken yet (websocket: encoded frames the socket did not accept;
    long-poll: frames not yet in a POST, counted as their encoded size). A
    send that would take it over the limit is refused with
    :class:`ConnectionLostError` and fails the connection:
    ``on_error(ConnectionLostError("... outgoing buffer over max_buffered=N
    ..."))``, then ``on_close`` (1006 for the websocket, 1011 for long-poll),
    not clean. A websocket's one close frame is never refused.
    """

    def __post_init__(self) -> None:
        """Check the limits: a timeout is finite seconds > 0, a size an int >= 1.

        Raises:
            InvalidArgumentError: ``write_timeout`` or ``max_buffered`` is out of range.
        """
        timeout = self.write_timeout
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise InvalidArgumentError(f"write_timeout must be > 0 seconds, got {timeout!r}")
        size = self.max_buffered
        if size is not None and (isinstance(size, bool) or size < 1):
            raise InvalidArgumentError(f"max_buffered must be >= 1 bytes, got {size!r}")


class TransportSink(Protocol):
    """Receives a transport's events, on the transport's own thread.

    Order: ``on_open`` once (if the connection opened), ``on_message`` per
    frame, then ``on_error`` (optional) and ``on_close`` exactly once, last.

    Optional: a transport whose ``delivers_batches`` attribute is True also
    calls the sink's ``on_batch_end(transport)``, if the sink has one, each
    time it has delivered every frame it has read so far (before it waits
    for more), so a sink may buffer frames and hand them on together;
    ``on_close`` implies the end of a batch too.
    """

    def on_open(self, transport: Transport) -> None:
        """The handshake succeeded; :meth:`Transport.send` now works."""
        ...

    def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:  # noqa: FBT001
        """One complete frame arrived: UTF-8 text (``binary=False``) or bytes."""
        ...

    def on_error(self, transport: Transport, error: TransportError) -> None:
        """The connection failed; ``on_close`` follows.

        A :class:`ConnectError` before open; a :class:`ConnectionLostError` or
        :class:`FrameTooLargeError` after.
        """
        ...

    def on_close(self, transport: Transport, code: int, reason: str, clean: bool) -> None:  # noqa: FBT001
        """The connection is over; ``clean`` is True when a close handshake happened."""
        ...


class Transport(Protocol):
    """A websocket connection owned by one SocketActor.

    Single use: :meth:`open` once, then :meth:`close`; reconnecting means a
    new transport from the :data:`TransportFactory`.
    """

    @property
    def ready_state(self) -> ReadyState:
        """``"connecting"``, ``"open"``, ``"closing"`` or ``"closed"``."""
        ...

    def open(self) -> None:
        """Start the one named thread that connects, calls ``on_open``, then reads.

        Non-blocking: the outcome arrives through the sink.
        """
        ...

    def send(self, data: bytes, binary: bool) -> None:  # noqa: FBT001
        """Send one frame; thread-safe; never blocks on the network.

        What the network does not take at once waits in the outgoing buffer,
        sent whole and in order by the transport's thread (see
        ``TransportOptions.write_timeout`` and ``max_buffered``).

        Raises:
            ConnectionLostError: the transport is not open, or the outgoing
                buffer is full (the frame is not accepted, and the connection
                fails: ``on_error`` and ``on_close`` follow).
        """
        ...

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Send ``(data, binary)`` frames in order, under one lock acquisition; never blocks.

        Raises:
            ConnectionLostError: the transport is not open, or the outgoing
                buffer is full (as :meth:`send`).
        """
        ...

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake; never blocks, idempotent.

        ``on_close`` follows from the reader thread.
        """
        ...

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; True if it ended."""
        ...


TransportFactory = Callable[[str, TransportOptions, TransportSink], Transport]
"""Makes a transport from ``(url, options, sink)``; one per connection attempt."""
