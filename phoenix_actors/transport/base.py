"""The transport interface: a byte pipe with a reader thread and a callback sink.

A :class:`Transport` moves websocket frames and knows nothing about Phoenix.
Its owner (the SocketActor) hands it a :class:`TransportSink`; every callback
runs on the transport's own thread, in this order::

    on_open            once, if the connection opened
    on_message         once per received frame
    on_error           optional, at most once, before on_close
    on_close           exactly once, last

Two implementations share the interface, as in httpcore's backends and its
``MockStream``: :class:`phoenix_actors.transport.WebSocketTransport` (real
sockets, websocket-client) and
:class:`phoenix_actors.testing.transport.MemoryTransport` (no sockets).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import msgspec

from phoenix_actors.errors import ConnectError, PayloadTooLargeError, TransportError

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
        """Send one frame; thread-safe.

        Raises:
            ConnectionLostError: the transport is not open.
        """
        ...

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Send ``(data, binary)`` frames in order, under one lock acquisition.

        Raises:
            ConnectionLostError: the transport is not open.
        """
        ...

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake; non-blocking and idempotent.

        ``on_close`` follows from the reader thread.
        """
        ...

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; True if it ended."""
        ...


TransportFactory = Callable[[str, TransportOptions, TransportSink], Transport]
"""Makes a transport from ``(url, options, sink)``; one per connection attempt."""
