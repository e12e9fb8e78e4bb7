"""phoenix_actors: a Phoenix Channels client built on pykka actors.

Public names are re-exported here; see ``__all__``.
"""

from __future__ import annotations

from phoenix_actors.errors import (
    AskTimeoutError,
    ClientClosedError,
    ConnectError,
    ConnectionLostError,
    FrameError,
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    PayloadTooLargeError,
    PhoenixError,
    ProtocolError,
    RemoteProtocolError,
    TransportError,
    UnknownTopicError,
)

__version__ = "0.1.0"

__all__ = [
    "AskTimeoutError",
    "ClientClosedError",
    "ConnectError",
    "ConnectionLostError",
    "FrameError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "LocalProtocolError",
    "PayloadTooLargeError",
    "PhoenixError",
    "ProtocolError",
    "RemoteProtocolError",
    "TransportError",
    "UnknownTopicError",
    "__version__",
]
