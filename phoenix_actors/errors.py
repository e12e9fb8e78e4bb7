"""The one exception tree of phoenix_actors.

Protocol *outcomes* (a refused join, a push that timed out) are values, not
exceptions; an exception means the call itself could not be made.

::

    PhoenixError
    ├── InvalidArgumentError(ValueError)   a facade argument has a bad value
    ├── InvalidTypeError(TypeError)        a facade argument has a bad type
    ├── ProtocolError                      abstract: never raised directly
    │   ├── LocalProtocolError             we were asked to send something illegal
    │   └── RemoteProtocolError            the peer sent something illegal
    │       └── FrameError                 bytes or text that are not a frame
    ├── PayloadTooLargeError               a frame over the size limit
    ├── TransportError                     the transport failed
    │   ├── ConnectError                   could not open the connection
    │   └── ConnectionLostError            an open connection went away
    ├── AskTimeoutError(TimeoutError)      the facade's own wait expired
    └── ClientClosedError                  the client was stopped
"""

from __future__ import annotations

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
]


class PhoenixError(Exception):
    """Base of every exception raised by phoenix_actors."""


class InvalidArgumentError(PhoenixError, ValueError):
    """A public call got an argument with a bad value (the message names the field)."""


class InvalidTypeError(PhoenixError, TypeError):
    """A public call got an argument of the wrong type (the message names the field)."""


class ProtocolError(PhoenixError):
    """Abstract base of protocol violations; raise a subclass, never this."""

    def __init__(self, *args: object) -> None:
        """Refuse direct construction, as h11 does for its ProtocolError."""
        if type(self) is ProtocolError:
            msg = "ProtocolError is abstract: raise LocalProtocolError or RemoteProtocolError"
            raise TypeError(msg)
        super().__init__(*args)


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow.

    Raised at the call site before anything is queued, so it has no other
    consequence (for example a binary-frame field longer than 255 bytes).
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""


class FrameError(RemoteProtocolError):
    """Bytes or text that do not decode to a Phoenix frame; the message says why."""


class PayloadTooLargeError(PhoenixError):
    """A frame is larger than the configured limit."""


class TransportError(PhoenixError):
    """The transport (websocket or long-poll) failed."""


class ConnectError(TransportError):
    """The connection could not be opened (refused, handshake rejected, TLS failure)."""

    status: int | None = None
    """HTTP status of a rejected handshake (403 when the server's connect refused)."""
    tls: bool = False
    """True when TLS failed (for example certificate verification)."""


class ConnectionLostError(TransportError):
    """An open connection went away.

    ``abrupt`` is True when it simply ended (the peer closed TCP, a reset):
    a browser reports that as a close alone, so channels are errored with
    ``connection_closed``; any other failure (a protocol error, a frame too
    large, a write deadline) reaches them as ``connection_error``, as
    phoenix.js's ``onConnError`` does.
    """

    def __init__(self, message: str = "", *, abrupt: bool = False) -> None:
        """Create the error; ``abrupt`` as above."""
        super().__init__(message)
        self.abrupt = abrupt


class AskTimeoutError(PhoenixError, TimeoutError):
    """The facade's own wait for an answer expired (not a protocol timeout)."""



class ClientClosedError(PhoenixError):
    """The client (or the actor the call needed) has been stopped."""
