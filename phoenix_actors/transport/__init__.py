"""Transports: move websocket frames as bytes, with a reader thread and a sink.

See :mod:`phoenix_actors.transport.base` for the interface and
:class:`phoenix_actors.testing.transport.MemoryTransport` for its in-memory twin.
"""

from __future__ import annotations

from phoenix_actors.transport.base import (
    FrameTooLargeError,
    ReadyState,
    Transport,
    TransportFactory,
    TransportOptions,
    TransportSink,
    connect_error,
)
from phoenix_actors.transport.websocket import (
    CLOSE_GRACE,
    WebSocketTransport,
    websocket_transport_factory,
)

__all__ = [
    "CLOSE_GRACE",
    "FrameTooLargeError",
    "ReadyState",
    "Transport",
    "TransportFactory",
    "TransportOptions",
    "TransportSink",
    "WebSocketTransport",
    "connect_error",
    "websocket_transport_factory",
]
