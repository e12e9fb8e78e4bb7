"""The handler API of the loopback server: what a channel or socket module writes.

A channel is a class deriving from :class:`Channel`. Each successful
``phx_join`` creates one instance and runs it like a Phoenix channel
process: an asyncio task with its own inbox, so a slow ``handle_in`` only
delays later messages *of that channel*. The callbacks mirror
``Phoenix.Channel``:

========================  ====================================================
callback                  Phoenix counterpart and results
========================  ====================================================
``join``                  ``join/3``: return :class:`Ok` or :class:`Error`;
                          raising answers ``{"reason": "join crashed"}``
``after_join``            the usual ``send(self(), :after_join)`` step: runs
                          first in the channel task, after the join reply
                          went out (push ``presence_state`` here)
``handle_in``             ``handle_in/3``: :class:`Reply`, :class:`NoReply`
                          or :class:`Stop`; raising crashes the channel
                          (the client gets ``phx_error``)
``terminate``             ``terminate/2``, with the stop reason
========================  ====================================================

Stop reasons are strings: ``"normal"``, ``"shutdown"`` and
``"shutdown:<why>"`` (Phoenix's ``{:shutdown, why}``: ``left``, ``closed``,
``duplicate_join``, ``disconnected``) are clean and end with ``phx_close``;
any other reason ends with ``phx_error``.

Every callback gets the :class:`~phoenix_actors.server.runtime.ChannelSocket`
of the channel: assigns, topic, join_ref, ``push``, ``broadcast``,
``broadcast_from``, ``reply`` (an answer after :class:`NoReply`), presence
``track`` / ``untrack`` / ``update``, and the server.

A socket module (Phoenix's ``connect/3`` and ``id/1``) is two functions:
``connect(params, info) -> assigns | None`` (None refuses with HTTP 403)
and ``socket_id(assigns) -> str | None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoenix_actors.server.runtime import ChannelSocket

__all__ = [
    "Channel",
    "ChannelFactory",
    "ConnectHook",
    "ConnectInfo",
    "Error",
    "HandleResult",
    "JoinResult",
    "NoReply",
    "Ok",
    "Reply",
    "SocketIdHook",
    "Stop",
    "is_clean_reason",
]


@dataclass(frozen=True)
class Ok:
    """A join succeeded; ``reply`` is the join reply's response (``{:ok, reply, socket}``)."""

    reply: Any = field(default_factory=dict)
    """The response sent with status ``"ok"`` (default ``{}``)."""


@dataclass(frozen=True)
class Error:
    """A join was refused; ``reply`` goes out with status ``"error"`` (``{:error, reply}``)."""

    reply: Any
    """The response sent with status ``"error"``, for example ``{"reason": "unauthorized"}``."""


@dataclass(frozen=True)
class Reply:
    """Answer the message being handled (Phoenix ``{:reply, {status, response}, socket}``).

    A ``bytes`` response goes to V2 clients as a binary reply frame (kind 1).
    """

    status: str
    """Any status string; phoenix.js fires ``receive(status)``."""
    response: Any = field(default_factory=dict)
    """JSON value, or bytes."""


@dataclass(frozen=True)
class NoReply:
    """Send nothing now (Phoenix ``{:noreply, socket}``); ``socket.reply`` may answer later."""


@dataclass(frozen=True)
class Stop:
    """Stop the channel after an optional reply (Phoenix ``{:stop, reason, reply, socket}``).

    A clean reason (see :func:`is_clean_reason`) then sends ``phx_close``;
    any other sends ``phx_error``.
    """

    reason: str = "normal"
    """Why the channel stops; passed to :meth:`Channel.terminate`."""
    reply: Reply | None = None
    """Sent before the channel closes, if given."""


JoinResult = Ok | Error
"""What :meth:`Channel.join` returns."""

HandleResult = Reply | NoReply | Stop
"""What :meth:`Channel.handle_in` returns."""


def is_clean_reason(reason: str) -> bool:
    """Return True for ``normal``, ``shutdown`` and ``shutdown:<why>`` (they close, not error)."""
    return reason in ("normal", "shutdown") or reason.startswith("shutdown:")


@dataclass(frozen=True)
class ConnectInfo:
    """What a socket's ``connect`` hook learns about the connection (Phoenix ``connect_info``)."""

    params: Mapping[str, str]
    """The query parameters, ``vsn`` included."""
    headers: Mapping[str, str]
    """The HTTP request headers (case-insensitive mapping)."""
    auth_token: str | None = None
    """The token phoenix.js 1.8 sends in ``Sec-WebSocket-Protocol``, if any."""
    transport: str = "websocket"
    """``"websocket"`` (or ``"longpoll"``)."""


ConnectHook = Callable[[Mapping[str, str], ConnectInfo], "dict[str, Any] | None"]
"""``connect(params, info) -> assigns``; None refuses the connection with HTTP 403."""

SocketIdHook = Callable[["dict[str, Any]"], "str | None"]
"""``socket_id(assigns) -> id``; sockets sharing an id are disconnected together."""


class Channel:
    """Base class of a channel handler; override the callbacks you need.

    One instance serves one join of one topic on one socket, so instance
    attributes are that channel's state (Phoenix's socket assigns).
    """

    async def join(self, topic: str, payload: Any, socket: ChannelSocket) -> JoinResult:
        """Accept or refuse a ``phx_join`` (default: accept with ``{}``).

        ``socket.push`` is not allowed here (as in Phoenix); push from
        :meth:`after_join`.
        """
        del topic, payload, socket
        return Ok()

    async def after_join(self, socket: ChannelSocket) -> None:
        """Run first in the channel task, after the ok join reply was sent (default: nothing)."""
        del socket

    async def handle_in(self, event: str, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Handle a client event (default: crash, as a Phoenix channel without the clause)."""
        del payload, socket
        msg = f"{type(self).__name__} does not handle event {event!r}"
        raise NotImplementedError(msg)

    async def terminate(self, reason: str, socket: ChannelSocket) -> None:
        """Run when the channel stops, for any reason but a cancelled loop (default: nothing)."""
        del reason, socket


ChannelFactory = Callable[[], Channel]
"""A :class:`Channel` subclass, or any callable making a fresh handler per join."""
