"""The Client facade: ``ask`` / ``tell`` / ``subscribe`` / ``events``.

Every public call is a message from :mod:`phoenix_actors.messages`. ``tell``
never blocks; ``ask`` waits with a deadline and raises
:class:`~phoenix_actors.errors.AskTimeoutError` when it expires. Nothing
connects until it is needed (the first join or push, or :class:`Connect`).

Example:
    >>> with Client("ws://127.0.0.1:4000/socket") as client:  # doctest: +SKIP
    ...     client.ask(Join("room:lobby"))
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Self, TypeVar, overload

import msgspec
import pykka

from phoenix_actors.actors.channel import GetChannelInfo, GetCountdown, GetPushes
from phoenix_actors.actors.dispatch import DEFAULT_BACKLOG, EventDispatcher, Overflow, Subscriber
from phoenix_actors.actors.reply import GUARD_MARGIN, Call, Reply, gather, resolved, then
from phoenix_actors.actors.runtime import ChildKind, Runtime
from phoenix_actors.actors.supervision import Fanout, Route
from phoenix_actors.actors.supervisor import Ping, ResetChannels, Supervisor
from phoenix_actors.clock import Clock, MonotonicClock
from phoenix_actors.errors import (
    AskTimeoutError,
    ClientClosedError,
    InvalidArgumentError,
    InvalidTypeError,
    PayloadTooLargeError,
)
from phoenix_actors.handles import Channel
from phoenix_actors.messages import (
    BINARY_TYPES,
    AddConnectOptions,
    AddEvents,
    Batch,
    Command,
    Connect,
    ConnectOptions,
    Disconnect,
    DropEvents,
    DropPush,
    DropQueuedPush,
    DropTimeoutPush,
    Event,
    GetAllQueuedPushes,
    GetChannelJoined,
    GetChannelQueued,
    GetConnectionState,
    GetDisconnectReason,
    GetEndpointURL,
    GetIsConnected,
    GetJoinedChannels,
    GetLastPresenceJoin,
    GetLastPresenceLeave,
    GetMetrics,
    GetPresenceDiffs,
    GetPresenceJoins,
    GetPresenceLeaves,
    GetPresenceState,
    GetProtocol,
    GetPushCountdown,
    GetPushInFlight,
    GetPushQueued,
    GetPushTimedOut,
    GetPushWaiting,
    GetQueuedChannels,
    GetQueuedPushes,
    GetSocketState,
    GetSocketStateString,
    GetTimedOutPushes,
    GetTopicParts,
    Join,
    JoinAll,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveAll,
    LeaveOk,
    Log,
    Match,
    Metrics,
    PhoenixMsg,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    Query,
    Refusal,
    SetConnectOptions,
    SetConnectParams,
    SetJoinConfig,
    SetLeaveConfig,
    StartLogging,
    StopLogging,
)
from phoenix_actors.protocol.url import endpoint_url, topic_parts
from phoenix_actors.transport.base import TransportFactory
from phoenix_actors.transport.longpoll import longpoll_transport_factory
from phoenix_actors.transport.websocket import websocket_transport_factory

__all__ = ["Client"]

_SOCKET_COMMANDS = (
    Connect,
    SetConnectOptions,
    AddConnectOptions,
    SetConnectParams,
    StartLogging,
    StopLogging,
    Log,
)
_SOCKET_QUERIES = (
    GetSocketState,
    GetSocketStateString,
    GetIsConnected,
    GetConnectionState,
    GetDisconnectReason,
    GetEndpointURL,
    GetProtocol,
)
_PRESENCE_QUERIES = (
    GetPresenceState,
    GetPresenceDiffs,
    GetPresenceJoins,
    GetPresenceLeaves,
    GetLastPresenceJoin,
    GetLastPresenceLeave,
)
ASK_MARGIN = GUARD_MARGIN
"""Seconds an ask waits beyond the protocol timeout that must answer it first."""

T = TypeVar("T")
log = logging.getLogger("phoenix_actors")
_real = MonotonicClock()
_numbers = itertools.count(1)
_payload_encoder = msgspec.json.Encoder()
_live: weakref.WeakSet[Client] = weakref.WeakSet()
"""Clients not yet stopped: the exit hook stops them."""


@atexit.register
def _stop_at_exit() -> None:
    """Stop every client still running when the interpreter exits (``stop()`` forgotten)."""
    for client in list(_live):
        with contextlib.suppress(Exception):
            client.stop(timeout=5.0)


class _Deadline:
    """One time budget shared by the steps of a call (None: each step's own default)."""

    __slots__ = ("_at",)

    def __init__(self, timeout: float | None) -> None:
        self._at = None if timeout is None else _real.now() + timeout

    def left(self, default: float | None = None) -> float | None:
        """Seconds left (never negative), or ``default`` when there is no budget."""
        return default if self._at is None else max(0.0, self._at - _real.now())


class Client:
    """A Phoenix Channels client: a supervised actor system behind ``ask`` and ``tell``.

    Args:
        endpoint: the socket endpoint, e.g. ``"ws://127.0.0.1:4000/socket"``
            (``http(s)`` maps to ``ws(s)``; ``/websocket`` is appended).
        params: connect params, a mapping or a callable re-evaluated on each connect
            (one that takes an argument gets the :class:`Refusal` after a refused
            connect, so it can hand over fresh credentials).
        options: connect options (timeouts, heartbeat, schedules, vsn, auth token...).
        clock: the time source (``FakeClock`` in tests).
        transport: the websocket transport factory (``MemoryNetwork`` in tests).
        longpoll_transport: the long-poll transport factory (for
            ``ConnectOptions(transport="longpoll")`` and the fallback).
        restart_limit: ``(N, T)``: more than N actor restarts in T seconds stops the client.

    Raises:
        InvalidArgumentError: the endpoint is not a ws/wss/http/https URL.
        InvalidTypeError: an argument has the wrong type.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        params: Mapping[str, Any]
        | Callable[[], Mapping[str, Any]]
        | Callable[[Refusal | None], Mapping[str, Any]]
        | None = None,
        options: ConnectOptions | None = None,
        clock: Clock | None = None,
        transport: TransportFactory | None = None,
        longpoll_transport: TransportFactory | None = None,
        restart_limit: tuple[int, float] = (5, 10.0),
    ) -> None:
        """Start the actors; nothing connects yet."""
        if params is not None and not (isinstance(params, Mapping) or callable(params)):
            raise InvalidTypeError("params must be a mapping or a callable returning one")
        if options is not None and not isinstance(options, ConnectOptions):
            raise InvalidTypeError("options must be a ConnectOptions")
        endpoint_url(endpoint, None)  # validates the endpoint now, at the call site
        name = f"phoenix-{next(_numbers)}"
        self.name = name
        """Prefix of this client's thread names (``phoenix-<n>``)."""
        self._rt = Runtime(
            endpoint=endpoint,
            clock=clock or MonotonicClock(),
            transport_factory=transport or websocket_transport_factory,
            longpoll_factory=longpoll_transport or longpoll_transport_factory,
            options=options or ConnectOptions(),
            params=params,
            restart_limit=restart_limit,
            name=name,
            events=EventDispatcher(name),
        )
        self._closed = False
        self._stop_lock = threading.Lock()
        self._supervisor = Supervisor.start(self._rt)
        _live.add(self)
        # one round trip: answered only after Supervisor.on_start started the children
        self._wait(self._supervisor.ask(Ping(), block=False), 10.0)

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> Self:
        """Return the client; :meth:`stop` runs on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the client."""
        self.stop()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every actor and thread of this client (idempotent; callable from a callback).

        Waiting events are discarded; once this returns no subscriber
        callback runs (called from a callback, that callback is the last).

        Raises:
            AskTimeoutError: a subscriber callback was still running after ``timeout`` s
                (everything else is stopped; its thread is a daemon).
        """
        with self._stop_lock:
            if self._closed:
                return
            self._closed = True
        _live.discard(self)
        deadline = _Deadline(timeout)
        try:
            self._supervisor.stop(block=True, timeout=deadline.left())
        except pykka.ActorDeadError:
            pass
        except pykka.Timeout:
            log.warning("client %s: actors did not stop within %s s", self.name, timeout)
        if not self._rt.events.stop(deadline.left() or 0.0):
            raise AskTimeoutError(f"a subscriber callback was still running after {timeout} s")

    # --- events ------------------------------------------------------------------------

    def subscribe(
        self,
        subscriber: Subscriber,
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> Callable[[], None]:
        """Deliver every event to ``subscriber``; return a function that unsubscribes.

        A callable runs on the client's event thread, never on an actor
        thread, so it may ``ask``, ``tell`` and ``stop``; a pykka ``ActorRef``
        is ``tell``-ed each event (how an actor service embeds us). Events
        wait in a backlog of at most ``backlog``; past it ``overflow`` decides
        (``"drop_oldest"``, ``"drop_newest"`` or ``"fail"``) and the
        subscriber gets an :class:`~phoenix_actors.messages.EventsDropped`.

        Raises:
            InvalidTypeError: ``subscriber`` is neither a callable nor an ActorRef.
            InvalidArgumentError: a bad ``backlog`` or ``overflow``.
        """
        return self._rt.events.subscribe(subscriber, backlog=backlog, overflow=overflow)

    def events(
        self,
        timeout: float | None = None,
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> Iterator[Event]:
        """Iterate over events as they arrive; stop after ``timeout`` s without one.

        The subscription starts with this call and ends with the iterator (or
        when the client stops). ``backlog`` and ``overflow`` as for :meth:`subscribe`.
        """
        return self._rt.events.iterate(timeout, backlog=backlog, overflow=overflow)

    # --- channel handles ---------------------------------------------------------------

    def channel(
        self,
        topic: str,
        *,
        payload: Any = msgspec.UNSET,
        events: Sequence[str] | msgspec.UnsetType | None = msgspec.UNSET,
        timeout: float | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> Channel:
        """A handle on ``topic``: ``join()``, ``push()``, ``leave()``, ``on()``, ``presence``.

        Sugar over the messages (``ch.push(e, p)`` is ``ask(Push(topic, e, p))``).

        Raises:
            InvalidTypeError, InvalidArgumentError: a bad topic or join option.
        """
        return Channel(self, topic, payload=payload, events=events, timeout=timeout)

    # --- tell / ask --------------------------------------------------------------------

    def tell(self, message: Command) -> None:
        """Send a command without waiting; outcomes arrive as events. Never blocks.

        Raises:
            InvalidTypeError: ``message`` is not a command (a query must be asked).
            PayloadTooLargeError: a push over ``ConnectOptions.max_push_size``.
            ClientClosedError: the client was stopped.
        """
        if isinstance(message, Query):
            raise InvalidTypeError(f"{type(message).__name__} is a query: ask it, do not tell it")
        self._check_open()
        self._submit(message, wait=False)

    @overload
    def ask(
        self, message: Join, timeout: float | None = None
    ) -> JoinOk | JoinError | JoinTimeout: ...
    @overload
    def ask(
        self, message: Push, timeout: float | None = None
    ) -> PushOk | PushError | PushTimeout: ...
    @overload
    def ask(self, message: Leave, timeout: float | None = None) -> LeaveOk: ...
    @overload
    def ask(self, message: Query[T], timeout: float | None = None) -> T: ...
    @overload
    def ask(self, message: Command, timeout: float | None = None) -> Any: ...

    def ask(self, message: PhoenixMsg, timeout: float | None = None) -> Any:
        """Send a command or query and wait for its answer.

        ``Join`` answers JoinOk / JoinError / JoinTimeout; ``Push`` answers
        PushOk / PushError / PushTimeout; ``Leave`` answers LeaveOk; a query
        answers its value (typed: ``Query[T]`` answers ``T``); ``Batch`` a
        list of answers; other commands answer None once applied.

        Args:
            message: the command or query.
            timeout: seconds to wait in all (every channel a query asks
                included). By default a join, push or leave waits for its own
                protocol timeout (the channel's timer answers it) plus a 5 s
                guard against a dead actor; anything else waits 5 s.

        Raises:
            AskTimeoutError: no answer in time.
            InvalidTypeError: ``message`` is not a command or query.
            PayloadTooLargeError: a push over ``ConnectOptions.max_push_size``.
            ClientClosedError: the client was stopped.
        """
        self._check_open()
        return self.submit(message).wait(timeout)

    def submit(self, message: PhoenixMsg) -> Reply:
        """Send a command or query; return its :class:`Reply` at once (never blocks).

        The non-blocking half of :meth:`ask` (what :class:`AsyncClient` awaits):
        ``reply.wait(timeout)`` or ``reply.add_done_callback(fn)``.

        Raises:
            InvalidTypeError: ``message`` is not a command or query.
            PayloadTooLargeError: a push over ``ConnectOptions.max_push_size``.
            ClientClosedError: the client was stopped.
        """
        self._check_open()
        reply = self._submit(message, wait=True)
        assert reply is not None
        return reply

    def _check_open(self) -> None:
        if self._closed or not self._supervisor.is_alive():
            raise ClientClosedError("the client is stopped")

    # --- routing: every path sends and returns; only Reply.wait waits ------------------

    def _wait(self, future: pykka.Future[Any], timeout: float | None) -> Any:
        try:
            return future.get(
                timeout=self._rt.default_timeout + ASK_MARGIN if timeout is None else timeout
            )
        except pykka.Timeout as exc:
            raise AskTimeoutError("no answer before the deadline") from exc
        except pykka.ActorDeadError as exc:
            raise ClientClosedError("the actor that had to answer has stopped") from exc

    def _to_channel(self, topic: str, message: Any, *, wait: bool) -> Reply | None:
        """Send to the topic's channel (through the supervisor if it has none)."""
        reply = Reply() if wait else None
        msg = message if reply is None else Call(message, reply)
        rt = self._rt
        ref = rt.registry.get(topic)
        if (ref is None or not rt.tell(ref, msg)) and not rt.tell(
            self._supervisor, Route(topic, msg)
        ):
            raise ClientClosedError("the client is stopped")
        return reply

    def _to_child(self, kind: ChildKind, message: Any, *, wait: bool) -> Reply | None:
        """Send to the socket or presence actor (held by the supervisor while it restarts)."""
        reply = Reply() if wait else None
        if not self._rt.tell_child(kind, message if reply is None else Call(message, reply)):
            raise ClientClosedError("the client is stopped")
        return reply

    def _to_supervisor(self, message: Any, *, wait: bool) -> Reply | None:
        reply = Reply() if wait else None
        if not self._rt.tell(self._supervisor, message if reply is None else Call(message, reply)):
            raise ClientClosedError("the client is stopped")
        return reply

    def _channels(self, message: Any, combine: Callable[[list[Any]], Any]) -> Reply:
        """Ask every channel; ``combine`` their answers (stopped channels are left out)."""
        outer = Reply()
        if not self._rt.tell(self._supervisor, Fanout(message, outer)):
            raise ClientClosedError("the client is stopped")
        return then(outer, lambda children: gather(children, combine, skip=ClientClosedError))

    def _pushes(self, where: str, pick: Callable[[dict[str, list[Push]]], Any]) -> Reply:
        def combine(answers: list[list[Push]]) -> Any:
            out: dict[str, list[Push]] = {}
            for pushes in answers:
                for push in pushes:
                    out.setdefault(push.topic, []).append(push)
            return pick(out)

        return self._channels(GetPushes(where), combine)

    def _any(self, where: tuple[str, ...], match: Match) -> Reply:
        def combine(answers: list[list[Push]]) -> bool:
            return any(match(p) for pushes in answers for p in pushes)

        return gather(
            [self._channels(GetPushes(w), lambda a: [p for ps in a for p in ps]) for w in where],
            combine,
        )

    def _metrics(self, queued: dict[str, list[Push]]) -> Metrics:
        rt = self._rt
        totals, reconnects, pushes, rtts = rt.counters.snapshot()
        retried = pushes.pop("timeout_retried", 0)
        if retried:
            pushes["timeout"] = pushes.get("timeout", 0) + retried
        ordered = sorted(rtts)
        return Metrics(
            connects=totals.get("connects", 0),
            reconnects=reconnects,
            heartbeats_sent=totals.get("heartbeats_sent", 0),
            heartbeats_missed=totals.get("heartbeats_missed", 0),
            heartbeat_rtt_last=rtts[-1] if rtts else None,
            heartbeat_rtt_p50=_percentile(ordered, 0.5),
            heartbeat_rtt_p99=_percentile(ordered, 0.99),
            pushes=pushes,
            retries=retried,
            queued_pushes={topic: len(ps) for topic, ps in queued.items()},
            events_dropped=rt.events.dropped_total,
            frames_in=totals.get("frames_in", 0),
            bytes_in=totals.get("bytes_in", 0),
            frames_out=totals.get("frames_out", 0),
            bytes_out=totals.get("bytes_out", 0),
        )

    def _check_size(self, push: Push) -> None:
        limit = self._rt.option("max_push_size", None)
        if limit is None:
            return
        payload = push.payload
        size = (
            len(payload)
            if isinstance(payload, BINARY_TYPES)
            else len(_payload_encoder.encode(payload))
        )
        if size > limit:
            raise PayloadTooLargeError(
                f"push {push.event!r} to {push.topic!r}: payload of {size} bytes "
                f"is over max_push_size={limit}"
            )

    def _submit(self, msg: Any, *, wait: bool) -> Reply | None:
        """Send ``msg`` where it goes; with ``wait``, return the Reply that answers it."""
        rt = self._rt
        match msg:
            case Push(topic=topic) as push:
                self._check_size(push)
                return self._to_channel(topic, push, wait=wait)
            case AddEvents(topic="phoenix") | DropEvents(topic="phoenix"):
                # the socket's own topic: its event filter (HeartbeatReply, opt-in)
                return self._to_child("socket", msg, wait=wait)
            case (
                Join(topic=topic)
                | Leave(topic=topic)
                | AddEvents(topic=topic)
                | DropEvents(topic=topic)
            ):
                # a Leave goes to the channel even if none is registered yet: one
                # may be on its way (a Route the supervisor has not handled)
                return self._to_channel(topic, msg, wait=wait)
            case JoinAll(topics=topics):
                for topic in topics:
                    self._to_channel(topic, Join(topic), wait=False)
                return resolved() if wait else None
            case LeaveAll():
                leaves = [self._to_channel(t, Leave(t), wait=wait) for t in list(rt.registry)]
                return gather([r for r in leaves if r is not None], _none) if wait else None
            case SetJoinConfig(config=config):
                rt.join_configs[config.topic] = config
                return resolved() if wait else None
            case SetLeaveConfig(config=config):
                rt.leave_configs[config.topic] = config
                return resolved() if wait else None
            case DropPush() | DropQueuedPush() | DropTimeoutPush():
                if not wait:
                    if not rt.tell(self._supervisor, Fanout(msg)):
                        raise ClientClosedError("the client is stopped")
                    return None
                return self._channels(msg, lambda counts: sum(c for c in counts if c))
            case Disconnect(reset=reset):
                # in order, each by tell: the socket closes, the channels go, then
                # options and params are forgotten
                steps = [self._to_child("socket", msg, wait=wait)]
                if reset:
                    steps.append(self._to_supervisor(ResetChannels(), wait=wait))
                    steps.append(
                        self._to_child("socket", SetConnectOptions(ConnectOptions()), wait=wait)
                    )
                    steps.append(self._to_child("socket", SetConnectParams({}), wait=wait))
                return gather([r for r in steps if r is not None], _first) if wait else None
            case Batch(commands=commands):
                answers = [self._submit(c, wait=wait) for c in commands]
                return gather([r for r in answers if r is not None], list) if wait else None
            case _ if isinstance(msg, (_SOCKET_COMMANDS, _SOCKET_QUERIES)):
                return self._to_child("socket", msg, wait=wait)
            case _ if isinstance(msg, _PRESENCE_QUERIES):
                return self._to_child("presence", msg, wait=True)
            case Query():
                return self._query(msg)
            case _:
                raise InvalidTypeError(
                    f"not a phoenix_actors command or query: {type(msg).__name__}"
                )

    def _query(self, msg: Query[Any]) -> Reply:
        infos = self._channels
        match msg:
            case GetTopicParts(topic=topic):
                return resolved(topic_parts(topic))
            case GetQueuedChannels():
                return infos(GetChannelInfo(), lambda a: [i.topic for i in a if i.queued])
            case GetJoinedChannels():
                return infos(GetChannelInfo(), lambda a: [i.topic for i in a if i.joined])
            case GetChannelQueued(topic=topic):
                return infos(
                    GetChannelInfo(), lambda a: any(i.topic == topic and i.queued for i in a)
                )
            case GetChannelJoined(topic=topic):
                return infos(
                    GetChannelInfo(), lambda a: any(i.topic == topic and i.joined for i in a)
                )
            case GetAllQueuedPushes():
                return self._pushes("queued", lambda by_topic: by_topic)
            case GetQueuedPushes(topic=topic):
                return self._pushes("queued", lambda by_topic: by_topic.get(topic, []))
            case GetTimedOutPushes():
                return self._pushes("timed_out", lambda by_topic: by_topic)
            case GetPushQueued(match=match):
                return self._any(("queued",), match)
            case GetPushInFlight(match=match):
                return self._any(("in_flight",), match)
            case GetPushTimedOut(match=match):
                return self._any(("timed_out",), match)
            case GetPushWaiting(match=match):
                return self._any(("queued", "in_flight", "timed_out"), match)
            case GetMetrics():
                return self._pushes("queued", self._metrics)
            case GetPushCountdown(match=match):

                def soonest(counts: list[int | None]) -> int | None:
                    known = [c for c in counts if c is not None]
                    return min(known) if known else None

                return infos(GetCountdown(match), soonest)
        raise InvalidArgumentError(f"unknown query {type(msg).__name__}")


def _percentile(ordered: list[float], q: float) -> float | None:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def _none(_: list[Any]) -> None:
    return None


def _first(answers: list[Any]) -> Any:
    return answers[0] if answers else None
