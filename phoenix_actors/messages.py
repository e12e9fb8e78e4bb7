"""The public vocabulary: commands, queries and events, as frozen msgspec Structs.

Every public call is one of these messages, sent with ``client.ask`` or
``client.tell``; every outcome and notification is an event Struct. The names
map one to one to the Elm package's API (``docs/api-mapping.md``):

* **commands** are imperative (:class:`Join`, :class:`Push`, :class:`DropPush`);
* **queries** start with ``Get`` and are only ``ask``-ed;
* **events** are past tense (:class:`SocketOpened`) or use Phoenix's reply
  statuses (:class:`JoinOk`, :class:`PushTimeout`).

Constructors validate their fields (msgspec does not check types on
``__init__``), raising :class:`InvalidTypeError` or :class:`InvalidArgumentError`
naming the field, so a bad command fails at the call site, before queueing.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

import msgspec

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, LocalProtocolError
from phoenix_actors.protocol.frames import BINARY_FIELD_MAX
from phoenix_actors.protocol.presence import Presence, PresenceDiff
from phoenix_actors.protocol.schedule import Backoff, Drop, Every, RetryStrategy

__all__ = [
    "AddConnectOptions",
    "AddEvents",
    "Backoff",
    "Batch",
    "ChannelClosed",
    "ChannelErrored",
    "ChannelEvent",
    "ClientFailed",
    "Command",
    "Connect",
    "ConnectOptions",
    "ConnectParams",
    "Disconnect",
    "Drop",
    "DropEvents",
    "DropPush",
    "DropQueuedPush",
    "DropTimeoutPush",
    "Event",
    "EventsDropped",
    "Every",
    "GetAllQueuedPushes",
    "GetChannelJoined",
    "GetChannelQueued",
    "GetConnectionState",
    "GetDisconnectReason",
    "GetEndpointURL",
    "GetIsConnected",
    "GetJoinedChannels",
    "GetLastPresenceJoin",
    "GetLastPresenceLeave",
    "GetMetrics",
    "GetPresenceDiffs",
    "GetPresenceJoins",
    "GetPresenceLeaves",
    "GetPresenceState",
    "GetProtocol",
    "GetPushCountdown",
    "GetPushInFlight",
    "GetPushQueued",
    "GetPushTimedOut",
    "GetPushWaiting",
    "GetQueuedChannels",
    "GetQueuedPushes",
    "GetSocketState",
    "GetSocketStateString",
    "GetTimedOutPushes",
    "GetTopicParts",
    "HeartbeatReply",
    "InternalError",
    "Join",
    "JoinAll",
    "JoinConfig",
    "JoinError",
    "JoinOk",
    "JoinTimeout",
    "Leave",
    "LeaveAll",
    "LeaveConfig",
    "LeaveOk",
    "Log",
    "Match",
    "Metrics",
    "PhoenixMsg",
    "Presence",
    "PresenceDiff",
    "PresenceDiffReceived",
    "PresenceJoined",
    "PresenceLeft",
    "PresenceStateReceived",
    "PresenceSynced",
    "Push",
    "PushError",
    "PushOk",
    "PushTimeout",
    "Query",
    "Refusal",
    "RetryStrategy",
    "Schedule",
    "SetConnectOptions",
    "SetConnectParams",
    "SetJoinConfig",
    "SetLeaveConfig",
    "SocketClosed",
    "SocketError",
    "SocketOpened",
    "SocketState",
    "SocketStateChanged",
    "StartLogging",
    "StopLogging",
]


T_co = TypeVar("T_co", covariant=True)
"""The answer type of a :class:`Query` (covariant: a ``list[str]`` answer is an iterable)."""

# --- validation helpers (shared by every constructor) -----------------------


def check_topic(value: object, field: str = "topic") -> None:
    """Raise unless ``value`` is a non-empty string."""
    if not isinstance(value, str):
        raise InvalidTypeError(f"{field} must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"{field} must not be empty")


def check_timeout(value: object, field: str = "timeout") -> None:
    """Raise unless ``value`` is None or a finite number of seconds > 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES):
        raise InvalidTypeError(f"{field} must be seconds as a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidArgumentError(f"{field} must be > 0 seconds, got {value!r}")


_payload_encoder = msgspec.json.Encoder()

BINARY_TYPES = (bytes, bytearray, memoryview)
"""Payload types sent as V2 binary frames (a tuple: ``isinstance`` on it is cheap,
where a ``bytes | ...`` union would be built again on every call)."""
_NUMBER_TYPES = (int, float)
_STRATEGY_TYPES = (Drop, Every, Backoff)


def check_payload(value: object, field: str = "payload") -> None:
    """Raise unless ``value`` is bytes or encodes to JSON."""
    if isinstance(value, BINARY_TYPES):
        return
    try:
        _payload_encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidArgumentError(f"{field} is not JSON-encodable: {exc}") from exc


def check_events(value: object, field: str = "events") -> None:
    """Raise unless ``value`` is a sequence of non-empty strings (not a bare str)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidTypeError(f"{field} must be a list of event names")
    for item in value:
        check_topic(item, f"{field}[]")


def check_strategy(value: object, field: str = "retry") -> None:
    """Raise unless ``value`` is a retry strategy."""
    if not isinstance(value, _STRATEGY_TYPES):
        raise InvalidTypeError(f"{field} must be Drop(), Every(s) or Backoff(steps, max)")


# --- base classes ------------------------------------------------------------


class PhoenixMsg(msgspec.Struct, frozen=True, tag=True):
    """Base of every public message (command, query or event)."""


class Command(PhoenixMsg, frozen=True):
    """Base of every command (``tell`` or ``ask``)."""


class Query(PhoenixMsg, Generic[T_co], frozen=True):
    """Base of every query (only ``ask``-ed); ``T`` is the type of its answer.

    ``client.ask(GetJoinedChannels())`` is typed ``list[str]``: each query
    subclasses ``Query[<its answer>]``.
    """


class Event(PhoenixMsg, frozen=True, kw_only=True):
    """Base of every event delivered to subscribers."""


class SocketState(StrEnum):
    """The Elm ``SocketState``: where the socket is in its life."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"
    DISCONNECTED = "disconnected"


# --- socket commands ---------------------------------------------------------


class Connect(Command, frozen=True):
    """Open the socket now (otherwise it opens on the first join or push)."""


class Disconnect(Command, frozen=True, kw_only=True):
    """Close the socket; it does not reconnect until the next :class:`Connect`.

    Channels are not left: they turn errored and rejoin after the next
    connect, as phoenix.js does. With ``reset=True`` (Elm
    ``disconnectAndReset``) every option, config, channel and queued push is
    forgotten too.
    """

    code: int | None = None
    """Close code to send (default 1000)."""
    reason: str = ""
    """Close reason to send."""
    reset: bool = False
    """Also reset options, configs, channels and queued pushes."""

    def __post_init__(self) -> None:
        """Validate the close code."""
        if self.code is not None:
            if isinstance(self.code, bool) or not isinstance(self.code, int):
                raise InvalidTypeError("code must be an int close code")
            if not (self.code == 1000 or 3000 <= self.code <= 4999):
                raise InvalidArgumentError(
                    f"code must be 1000 or 3000-4999 (codes a client may send), got {self.code}"
                )
        if not isinstance(self.reason, str):
            raise InvalidTypeError("reason must be a str")
        if len(self.reason.encode("utf-8")) > CLOSE_REASON_MAX:
            # RFC 6455 section 5.5: a close frame's payload is at most 125 bytes
            raise InvalidArgumentError(f"reason must be at most {CLOSE_REASON_MAX} UTF-8 bytes")
        if not isinstance(self.reset, bool):
            raise InvalidTypeError("reset must be a bool")


CLOSE_REASON_MAX = 123
"""Longest close reason, in UTF-8 bytes, that fits a close frame with its code."""


Schedule = Sequence[float] | Callable[[int], float]
"""A reconnect / rejoin schedule: a list of seconds (last repeated) or ``tries -> seconds``."""


class ConnectOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Socket options (Elm ``ConnectOption``); unset fields keep their default.

    Defaults are phoenix.js's, in seconds.
    """

    timeout: float | msgspec.UnsetType = msgspec.UNSET
    """Default push / join / leave timeout (10.0)."""
    heartbeat_interval: float | msgspec.UnsetType = msgspec.UNSET
    """Seconds between heartbeats (30.0); a heartbeat unanswered for one interval closes."""
    reconnect_after: Schedule | msgspec.UnsetType = msgspec.UNSET
    """Reconnect schedule (0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2, then 5 s)."""
    rejoin_after: Schedule | msgspec.UnsetType = msgspec.UNSET
    """Rejoin schedule (1, 2, 5, then 10 s)."""
    logger: bool | msgspec.UnsetType = msgspec.UNSET
    """Log every frame sent and received at DEBUG (off)."""
    vsn: Literal["1.0.0", "2.0.0"] | msgspec.UnsetType = msgspec.UNSET
    """Serializer version: "2.0.0" (arrays, binary) or "1.0.0" (objects)."""
    transport: Literal["websocket", "longpoll"] | msgspec.UnsetType = msgspec.UNSET
    """Transport to use ("websocket")."""
    longpoll_fallback: float | msgspec.UnsetType | None = msgspec.UNSET
    """Fall back to long-poll if the websocket fails within this many seconds (off)."""
    auth_token: (
        str
        | Callable[[], str]
        | Callable[[Refusal | None], str]
        | Callable[[], Awaitable[str]]
        | msgspec.UnsetType
        | None
    ) = msgspec.UNSET
    """Token sent in Sec-WebSocket-Protocol, as phoenix.js 1.8 does (never logged);
    a callable is called on each connect (an async one, with AsyncClient)."""
    headers: Mapping[str, str] | msgspec.UnsetType = msgspec.UNSET
    """Extra HTTP headers for the handshake."""
    ssl_context: ssl.SSLContext | msgspec.UnsetType | None = msgspec.UNSET
    """TLS context for wss:// (default: system trust, verification on)."""
    max_frame_size: int | msgspec.UnsetType | None = msgspec.UNSET
    """Largest incoming frame in bytes (10_000_000)."""
    max_push_size: int | msgspec.UnsetType | None = msgspec.UNSET
    """Largest push payload in encoded bytes; larger raises PayloadTooLargeError (none)."""
    max_queued_pushes: int | msgspec.UnsetType | None = msgspec.UNSET
    """Pushes a channel queues while it cannot send; more fail as "overflow" (10_000)."""
    reconnect_policy: (
        Callable[[int | None, int | None, int], float | None] | msgspec.UnsetType | None
    ) = msgspec.UNSET
    """``(close_code, http_status, attempt) -> seconds | None``: the wait before each
    reconnect, or None to stop (default: phoenix.js's schedule, after every close the
    client did not start; a 403 stops it unless a token or params callable can take
    the refusal and answer with fresh credentials)."""
    reconnect_jitter: float | msgspec.UnsetType = msgspec.UNSET
    """0..1: each reconnect wait is scaled by a uniform factor in [1 - j, 1 + j] (0)."""
    heartbeat_events: bool | msgspec.UnsetType = msgspec.UNSET
    """Emit a :class:`HeartbeatReply` (the round trip) for each answered heartbeat (off)."""
    write_timeout: float | msgspec.UnsetType | None = msgspec.UNSET
    """Seconds written data may wait for a peer that does not read before the
    connection fails (default: the heartbeat interval)."""

    def __post_init__(self) -> None:
        """Validate each field that is set."""
        for name in ("timeout", "heartbeat_interval"):
            value = getattr(self, name)
            if value is not msgspec.UNSET:
                check_timeout(value, name)
        for name in ("longpoll_fallback", "write_timeout"):
            value = getattr(self, name)
            if value not in (msgspec.UNSET, None):
                check_timeout(value, name)
        jitter = self.reconnect_jitter
        if jitter is not msgspec.UNSET:
            if isinstance(jitter, bool) or not isinstance(jitter, int | float):
                raise InvalidTypeError("reconnect_jitter must be a number")
            if not 0 <= jitter <= 1:
                raise InvalidArgumentError(f"reconnect_jitter must be in 0..1, got {jitter!r}")
        policy = self.reconnect_policy
        if policy not in (msgspec.UNSET, None) and not callable(policy):
            raise InvalidTypeError("reconnect_policy must be a callable")
        for name in ("max_frame_size", "max_push_size", "max_queued_pushes"):
            value = getattr(self, name)
            if value in (msgspec.UNSET, None):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidTypeError(f"{name} must be an int")
            if value < 1:
                raise InvalidArgumentError(f"{name} must be >= 1, got {value}")
        for name in ("reconnect_after", "rejoin_after"):
            value = getattr(self, name)
            if value is not msgspec.UNSET and not callable(value):
                _check_schedule(value, name)
        if self.vsn not in (msgspec.UNSET, "1.0.0", "2.0.0"):
            raise InvalidArgumentError(f"vsn must be '1.0.0' or '2.0.0', got {self.vsn!r}")
        if self.transport not in (msgspec.UNSET, "websocket", "longpoll"):
            raise InvalidArgumentError(
                f"transport must be 'websocket' or 'longpoll', got {self.transport!r}"
            )
        token = self.auth_token
        if token not in (msgspec.UNSET, None) and not (isinstance(token, str) or callable(token)):
            raise InvalidTypeError("auth_token must be a str or a callable returning one")

    def merged(self, other: ConnectOptions) -> ConnectOptions:
        """Return these options with every field set in ``other`` overriding (Elm add)."""
        changes = {
            f: getattr(other, f)
            for f in self.__struct_fields__
            if getattr(other, f) is not msgspec.UNSET
        }
        return msgspec.structs.replace(self, **changes)


def _check_schedule(value: object, field: str) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidTypeError(f"{field} must be a list of seconds or a callable")
    if not value:
        raise InvalidArgumentError(f"{field} must not be empty")
    for step in value:
        if isinstance(step, bool) or not isinstance(step, int | float) or step < 0:
            raise InvalidArgumentError(f"{field} steps must be numbers >= 0, got {step!r}")


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """A refused connect, handed to a params or auth_token callable that takes one argument.

    So a provider fetches fresh credentials after a refusal: ``auth_token=lambda
    refusal: fetch_token(force=refusal is not None)``. None on a first connect or
    a reconnect that follows no refusal.
    """

    status: int
    """The handshake's HTTP status (403 when the server's ``connect/3`` refused)."""
    attempt: int
    """The reconnect attempt this connect is (1 for the first after the refusal)."""


class SetConnectOptions(Command, frozen=True):
    """Replace every connect option (Elm ``setConnectOptions``); applies on the next connect."""

    options: ConnectOptions


class AddConnectOptions(Command, frozen=True):
    """Override only the options set here (Elm ``addConnectOptions``)."""

    options: ConnectOptions


ConnectParams = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""Connect params: a mapping, or a callable re-evaluated on every connect."""


class SetConnectParams(Command, frozen=True):
    """Set the params sent to the server's ``connect/3`` (Elm ``setConnectParams``).

    A callable is called again on every (re)connect, for fresh tokens.
    """

    params: Any
    secret: bool = True
    """Keep the values out of logs (default); the URL is logged without its query."""

    def __post_init__(self) -> None:
        """Validate the params' type."""
        if not (isinstance(self.params, Mapping) or callable(self.params)):
            raise InvalidTypeError("params must be a mapping or a callable returning one")


# --- channel commands --------------------------------------------------------


class _JoinOptions(Command, frozen=True, kw_only=True):
    payload: Any = msgspec.UNSET
    """Join payload sent to the channel's ``join/3`` ({} by default)."""
    events: Sequence[str] | msgspec.UnsetType | None = msgspec.UNSET
    """Events delivered as ChannelEvent; None (default) delivers every event."""
    timeout: float | msgspec.UnsetType | None = msgspec.UNSET
    """Join timeout in seconds (the socket's timeout by default)."""


class JoinConfig(_JoinOptions, frozen=True):
    """How to join ``topic`` (Elm ``JoinConfig``); set ahead with :class:`SetJoinConfig`."""

    topic: str

    def __post_init__(self) -> None:
        """Validate every field."""
        _check_join(self)


def _check_join(cfg: _JoinOptions) -> None:
    check_topic(getattr(cfg, "topic", None))
    if cfg.payload is not msgspec.UNSET:
        check_payload(cfg.payload)
        if isinstance(cfg.payload, BINARY_TYPES):
            raise InvalidArgumentError("payload of a join must be JSON, not bytes")
    if cfg.events not in (msgspec.UNSET, None):
        check_events(cfg.events)
    if cfg.timeout is not msgspec.UNSET:
        check_timeout(cfg.timeout)


class Join(_JoinOptions, frozen=True):
    """Join ``topic``; fields left unset come from its :class:`JoinConfig`.

    ``ask`` returns :class:`JoinOk`, :class:`JoinError` or :class:`JoinTimeout`.
    Connecting is automatic.
    """

    topic: str

    def __post_init__(self) -> None:
        """Validate every field."""
        _check_join(self)


class JoinAll(Command, frozen=True):
    """Join every topic in ``topics`` (batched; replies arrive as events)."""

    topics: Sequence[str]

    def __post_init__(self) -> None:
        """Validate the topics."""
        check_events(self.topics, "topics")


class SetJoinConfig(Command, frozen=True):
    """Store a :class:`JoinConfig` for its topic (used by later joins and rejoins)."""

    config: JoinConfig

    def __post_init__(self) -> None:
        """Validate the config's type."""
        if not isinstance(self.config, JoinConfig):
            raise InvalidTypeError("config must be a JoinConfig")


class LeaveConfig(Command, frozen=True, kw_only=True):
    """How to leave ``topic`` (Elm ``LeaveConfig``)."""

    topic: str
    timeout: float | None = None
    """Leave timeout in seconds (the socket's timeout by default)."""

    def __post_init__(self) -> None:
        """Validate every field."""
        check_topic(self.topic)
        check_timeout(self.timeout)


class SetLeaveConfig(Command, frozen=True):
    """Store a :class:`LeaveConfig` for its topic."""

    config: LeaveConfig

    def __post_init__(self) -> None:
        """Validate the config's type."""
        if not isinstance(self.config, LeaveConfig):
            raise InvalidTypeError("config must be a LeaveConfig")


class Leave(Command, frozen=True):
    """Leave ``topic``; ``ask`` returns :class:`LeaveOk` (also on timeout, as phoenix.js)."""

    topic: str
    timeout: float | None = None

    def __post_init__(self) -> None:
        """Validate every field."""
        check_topic(self.topic)
        check_timeout(self.timeout)


class LeaveAll(Command, frozen=True):
    """Leave every channel."""


class AddEvents(Command, frozen=True):
    """Also deliver ``events`` of ``topic`` as :class:`ChannelEvent` (Elm ``addEvents``)."""

    topic: str
    events: Sequence[str]

    def __post_init__(self) -> None:
        """Validate every field."""
        check_topic(self.topic)
        check_events(self.events)


class DropEvents(Command, frozen=True):
    """Stop delivering ``events`` of ``topic`` (Elm ``dropEvents``)."""

    topic: str
    events: Sequence[str]

    def __post_init__(self) -> None:
        """Validate every field."""
        check_topic(self.topic)
        check_events(self.events)


# --- pushes --------------------------------------------------------------------


class Push(Command, frozen=True):
    """Push ``event`` to ``topic`` (Elm ``PushConfig``).

    Connecting and joining are automatic; the push waits in the channel's
    queue until the join succeeds. ``ask`` returns :class:`PushOk`,
    :class:`PushError` or :class:`PushTimeout` (the first outcome; retries
    report as events).
    """

    topic: str
    event: str
    payload: Any = {}
    """JSON value, or bytes (sent as a V2 binary frame)."""
    timeout: float | None = None
    """Reply timeout in seconds (the socket's timeout by default)."""
    retry: RetryStrategy = Drop()
    """What to do after a timeout: Drop(), Every(s) or Backoff(steps, max)."""
    ref: str | None = None
    """Your own label for the push, to find it again (not the wire ref)."""

    def __post_init__(self) -> None:
        """Validate every field."""
        check_topic(self.topic)
        check_topic(self.event, "event")
        if isinstance(self.payload, BINARY_TYPES):
            for name in ("topic", "event"):
                size = len(getattr(self, name).encode())
                if size > BINARY_FIELD_MAX:
                    msg = f"{name} is {size} UTF-8 bytes; a binary push allows {BINARY_FIELD_MAX}"
                    raise LocalProtocolError(msg)
        check_payload(self.payload)
        check_timeout(self.timeout)
        check_strategy(self.retry)
        if self.ref is not None and not isinstance(self.ref, str):
            raise InvalidTypeError("ref must be a str or None")


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """Selects pushes: every field given must match (Elm's ``PushConfig -> Bool``)."""

    topic: str | None = None
    event: str | None = None
    ref: str | None = None
    where: Callable[[Push], bool] | None = None
    """Any predicate over the :class:`Push`."""

    def __call__(self, push: Push) -> bool:
        """Return whether ``push`` matches."""
        return (
            (self.topic is None or push.topic == self.topic)
            and (self.event is None or push.event == self.event)
            and (self.ref is None or push.ref == self.ref)
            and (self.where is None or bool(self.where(push)))
        )


def _check_match(match: object) -> None:
    if not isinstance(match, Match):
        raise InvalidTypeError("match must be a Match(topic=, event=, ref=, where=)")


class DropPush(Command, frozen=True):
    """Cancel matching pushes everywhere: queued ones, and timed-out ones are never retried."""

    match: Match

    def __post_init__(self) -> None:
        """Validate the match."""
        _check_match(self.match)


class DropQueuedPush(Command, frozen=True):
    """Cancel matching pushes that wait for their channel to join."""

    match: Match

    def __post_init__(self) -> None:
        """Validate the match."""
        _check_match(self.match)


class DropTimeoutPush(Command, frozen=True):
    """Cancel matching pushes that timed out and wait to be retried."""

    match: Match

    def __post_init__(self) -> None:
        """Validate the match."""
        _check_match(self.match)


# --- batching and logging ----------------------------------------------------------


class Batch(Command, frozen=True):
    """Run several commands in order (Elm ``batch``); ``ask`` returns their answers."""

    commands: Sequence[Command]

    def __post_init__(self) -> None:
        """Validate the commands."""
        commands: object = self.commands
        if isinstance(commands, str) or not isinstance(commands, Sequence):
            raise InvalidTypeError("commands must be a list of commands")
        for cmd in commands:
            if not isinstance(cmd, Command):
                raise InvalidTypeError(f"commands[] must be commands, got {type(cmd).__name__}")

    @classmethod
    def with_params(cls, pairs: Sequence[tuple[Callable[[Any], Command], Sequence[Any]]]) -> Batch:
        """Build a batch from ``(constructor, [arg, ...])`` pairs (Elm ``batchWithParams``)."""
        return cls([make(arg) for make, args in pairs for arg in args])


class Log(Command, frozen=True):
    """Log ``label`` and ``data`` at ``level`` through the ``phoenix_actors`` logger.

    Like Elm's ``log``, it prints only while logging is on.
    """

    level: str
    label: str
    data: Any = None


class StartLogging(Command, frozen=True):
    """Log every frame sent and received (logger ``phoenix_actors``, DEBUG)."""


class StopLogging(Command, frozen=True):
    """Stop logging frames."""


# --- queries -----------------------------------------------------------------------


class GetSocketState(Query[SocketState], frozen=True):
    """Ask for the :class:`SocketState`."""


class GetSocketStateString(Query[str], frozen=True):
    """Ask for the socket state as a string."""


class GetIsConnected(Query[bool], frozen=True):
    """Ask whether the socket is open."""


class GetConnectionState(Query[str], frozen=True):
    """Ask for "connecting", "open", "closing" or "closed" (phoenix.js ``connectionState``)."""


class GetDisconnectReason(Query[str | None], frozen=True):
    """Ask why the socket last closed (None if it never did)."""


class GetEndpointURL(Query[str], frozen=True):
    """Ask for the endpoint URL (with ``/websocket``, params and ``vsn``)."""


class GetProtocol(Query[str], frozen=True):
    """Ask for the protocol in use: "ws" or "wss"."""


class GetQueuedChannels(Query[list[str]], frozen=True):
    """Ask for the topics waiting to join."""


class GetChannelQueued(Query[bool], frozen=True):
    """Ask whether ``topic`` waits to join."""

    topic: str


class GetJoinedChannels(Query[list[str]], frozen=True):
    """Ask for the topics joined."""


class GetChannelJoined(Query[bool], frozen=True):
    """Ask whether ``topic`` is joined."""

    topic: str


class GetTopicParts(Query[list[str]], frozen=True):
    """Ask for ``topic`` split on ":" (Elm ``topicParts``)."""

    topic: str


class GetAllQueuedPushes(Query[dict[str, list[Push]]], frozen=True):
    """Ask for every queued push, by topic."""


class GetQueuedPushes(Query[list[Push]], frozen=True):
    """Ask for the pushes queued on ``topic``."""

    topic: str


class GetPushQueued(Query[bool], frozen=True):
    """Ask whether a matching push is queued."""

    match: Match


class GetPushInFlight(Query[bool], frozen=True):
    """Ask whether a matching push was sent and awaits its reply."""

    match: Match


class GetPushWaiting(Query[bool], frozen=True):
    """Ask whether a matching push is queued, in flight, or waiting to retry."""

    match: Match


class GetTimedOutPushes(Query[dict[str, list[Push]]], frozen=True):
    """Ask for the pushes waiting to retry, by topic."""


class GetPushTimedOut(Query[bool], frozen=True):
    """Ask whether a matching push timed out and waits to retry."""

    match: Match


class GetPushCountdown(Query[int | None], frozen=True):
    """Ask for the whole seconds until a matching push retries (None if none waits)."""

    match: Match


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """What the client did since it started (``client.ask(GetMetrics())``)."""

    connects: int
    """Connections opened."""
    reconnects: dict[str, int]
    """Reconnects scheduled, by cause: ``close_<code>``, ``http_<status>``,
    ``heartbeat_timeout``."""
    heartbeats_sent: int
    heartbeats_missed: int
    """Heartbeats unanswered within an interval (each closed the connection)."""
    heartbeat_rtt_last: float | None
    """Seconds, of the last answered heartbeat (None before any)."""
    heartbeat_rtt_p50: float | None
    heartbeat_rtt_p99: float | None
    """Over the last 1,000 answered heartbeats."""
    pushes: dict[str, int]
    """Push outcomes: ``ok``, ``timeout`` (each PushTimeout), or a PushError's status."""
    retries: int
    """Timed-out pushes scheduled to be sent again."""
    queued_pushes: dict[str, int]
    """Pushes waiting for their channel to join, by topic (now)."""
    events_dropped: int
    """Events subscribers' backlogs dropped (each also an EventsDropped)."""
    frames_in: int
    bytes_in: int
    frames_out: int
    bytes_out: int


class GetMetrics(Query[Metrics], frozen=True):
    """Ask for the client's :class:`Metrics`."""


class GetPresenceState(Query[list[Presence]], frozen=True):
    """Ask for the presences on ``topic`` (a list of :class:`Presence`)."""

    topic: str


class GetPresenceDiffs(Query[list[PresenceDiff]], frozen=True):
    """Ask for the presence diffs received on ``topic`` (most recent last, bounded)."""

    topic: str


class GetPresenceJoins(Query[list[Presence]], frozen=True):
    """Ask for the presences that joined ``topic`` (bounded history)."""

    topic: str


class GetPresenceLeaves(Query[list[Presence]], frozen=True):
    """Ask for the presences that left ``topic`` (bounded history)."""

    topic: str


class GetLastPresenceJoin(Query[Presence | None], frozen=True):
    """Ask for the last presence to join ``topic`` (or None)."""

    topic: str


class GetLastPresenceLeave(Query[Presence | None], frozen=True):
    """Ask for the last presence to leave ``topic`` (or None)."""

    topic: str


# --- events ------------------------------------------------------------------------


class SocketOpened(Event, frozen=True):
    """The socket opened."""

    url: str
    """The endpoint URL, without its query string (params may be secret)."""


class SocketClosed(Event, frozen=True):
    """The socket closed; it reconnects unless ``will_reconnect`` is False."""

    code: int
    reason: str
    was_clean: bool
    will_reconnect: bool
    reconnect_in: float | None = None
    """Seconds until the reconnect attempt, when one is scheduled."""
    reconnect_stopped: str | None = None
    """Why no reconnect follows, when the reconnect policy stopped it."""


class SocketError(Event, frozen=True):
    """The transport failed (refused, handshake rejected, TLS, lost)."""

    reason: str
    error: str
    """The exception type name, e.g. "ConnectError"."""
    status: int | None = None
    """HTTP status of a rejected handshake (403 when ``connect/3`` refused)."""
    tls: bool = False
    """TLS failed (e.g. an untrusted certificate): the socket does not retry by itself."""


class SocketStateChanged(Event, frozen=True):
    """The socket moved to ``state``."""

    state: SocketState


class JoinOk(Event, frozen=True):
    """``topic`` joined; ``response`` is the server's join reply."""

    topic: str
    response: Any
    join_ref: str
    rejoin: bool = False
    """True for an automatic rejoin after an error or a reconnect."""


class JoinError(Event, frozen=True):
    """The server refused the join; the channel retries on the rejoin schedule."""

    topic: str
    response: Any
    rejoin_in: float | None = None


class JoinTimeout(Event, frozen=True):
    """No join reply in time; the channel retries on the rejoin schedule.

    A join that waited for a socket that could not connect times out too
    (``rejoin_in`` None: it is sent as soon as the socket opens).
    """

    topic: str
    payload: Any
    rejoin_in: float | None = None
    reason: str | None = None
    """Why, when the socket was down: the last SocketError's reason."""


class LeaveOk(Event, frozen=True):
    """``topic`` was left (the server agreed, or the leave timed out)."""

    topic: str


class ChannelClosed(Event, frozen=True):
    """The server closed the channel (``phx_close``); it does not rejoin."""

    topic: str
    payload: Any


class ChannelErrored(Event, frozen=True):
    """The channel errored (server crash or lost transport); it will rejoin."""

    topic: str
    payload: Any
    rejoin_in: float | None = None


class PushOk(Event, frozen=True):
    """The server replied ok to ``push``."""

    push: Push
    response: Any


class PushError(Event, frozen=True):
    """The server replied with a non-ok status (or the push could not be sent)."""

    push: Push
    response: Any
    status: str = "error"
    """The server's status, or a local one: "overflow" (the channel's queue was
    full), "too_large" (the server closed the socket with 1009 for it), "local"
    (it could not be encoded), "dropped", "left", "closed", "join_error"."""


class PushTimeout(Event, frozen=True):
    """No reply in time; ``retry_in`` says when it is tried again (None: dropped)."""

    push: Push
    retry_in: float | None
    attempt: int = 1
    reason: str | None = None
    """Why, when the socket was down: the last SocketError's reason."""


class ChannelEvent(Event, frozen=True):
    """The server pushed or broadcast ``event`` on ``topic``."""

    topic: str
    event: str
    payload: Any


class PresenceStateReceived(Event, frozen=True):
    """Presence synced on ``topic``: ``presences`` is the whole list now."""

    topic: str
    presences: list[Presence]


class PresenceDiffReceived(Event, frozen=True):
    """A presence diff arrived on ``topic`` and was applied."""

    topic: str
    diff: PresenceDiff


class PresenceSynced(Event, frozen=True):
    """The presence list of ``topic`` changed: ``presences`` is the whole list now.

    phoenix.js ``Presence.onSync``: once per presence state (with the diffs
    held for it) and once per diff applied. Build a "who is online" view
    from this, not from PresenceJoined / PresenceLeft, which are per key
    and per meta (a user with two connections joins twice and leaves once).
    """

    topic: str
    presences: list[Presence]


class PresenceJoined(Event, frozen=True):
    """``presence`` joined ``topic`` (``current`` is what was there before, if any)."""

    topic: str
    presence: Presence
    current: Presence | None = None


class PresenceLeft(Event, frozen=True):
    """``presence`` left ``topic`` (``current`` is what remains, if anything)."""

    topic: str
    presence: Presence
    current: Presence | None = None


class InternalError(Event, frozen=True):
    """Something that should not happen (a malformed frame, a crashed actor)."""

    reason: str
    error: str = ""
    topic: str | None = None


class EventsDropped(Event, frozen=True):
    """A subscriber's backlog overflowed: ``count`` events were not delivered to it.

    Delivered to that subscriber only, before the next event it gets; with
    the ``fail`` policy (``failed=True``) it is the subscription's last event.
    """

    count: int
    policy: str
    """The subscription's overflow policy: drop_oldest, drop_newest or fail."""
    subscriber: str
    """The subscriber's name (a function's qualified name, or events())."""
    failed: bool = False


class HeartbeatReply(Event, frozen=True):
    """The server answered a heartbeat after ``rtt`` seconds.

    Off by default; opt in through the event filter of the socket's own topic,
    ``AddEvents("phoenix", ["heartbeat"])`` (``DropEvents`` turns it off), or
    with ``ConnectOptions(heartbeat_events=True)``.
    """

    rtt: float


class ClientFailed(Event, frozen=True):
    """The supervisor gave up (too many restarts); the client has stopped."""

    reason: str
