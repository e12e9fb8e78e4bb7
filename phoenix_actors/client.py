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

import queue
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Self, overload

import pykka

from phoenix_actors.actors.channel import (
    Call,
    ChannelInfo,
    GetChannelInfo,
    GetCountdown,
    GetPushes,
)
from phoenix_actors.actors.runtime import Runtime, Subscriber
from phoenix_actors.actors.supervisor import EnsureChannel, Ping, ResetChannels, Supervisor
from phoenix_actors.clock import Clock, MonotonicClock
from phoenix_actors.errors import (
    AskTimeoutError,
    ClientClosedError,
    InvalidArgumentError,
    InvalidTypeError,
)
from phoenix_actors.messages import (
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
    PhoenixMsg,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    Query,
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
ASK_MARGIN = 5.0
"""Seconds an ask waits beyond the protocol timeout that must answer it first."""


class Client:
    """A Phoenix Channels client: a supervised actor system behind ``ask`` and ``tell``.

    Args:
        endpoint: the socket endpoint, e.g. ``"ws://127.0.0.1:4000/socket"``
            (``http(s)`` maps to ``ws(s)``; ``/websocket`` is appended).
        params: connect params, a mapping or a callable re-evaluated on each connect.
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
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
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
        self._rt = Runtime(
            endpoint=endpoint,
            clock=clock or MonotonicClock(),
            transport_factory=transport or websocket_transport_factory,
            longpoll_factory=longpoll_transport or longpoll_transport_factory,
            options=options or ConnectOptions(),
            params=params,
            restart_limit=restart_limit,
        )
        self._supervisor = Supervisor.start(self._rt)
        self._closed = False
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
        """Stop every actor and thread of this client (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._supervisor.stop(block=True, timeout=timeout)
        except pykka.ActorDeadError:
            pass
        except pykka.Timeout as exc:
            raise AskTimeoutError(f"client did not stop within {timeout} s") from exc

    # --- events ------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Deliver every event to ``subscriber``; return a function that unsubscribes.

        A callable runs on an actor thread (keep it short); a pykka
        ``ActorRef`` is ``tell``-ed each event (how an actor service embeds us).

        Raises:
            InvalidTypeError: ``subscriber`` is neither.
        """
        return self._rt.bus.subscribe(subscriber)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate over events as they arrive; stop after ``timeout`` s without one.

        The subscription starts when iteration starts and ends with it.
        """
        q, unsubscribe = self._rt.bus.queue()
        try:
            while True:
                try:
                    yield q.get(timeout=timeout)
                except queue.Empty:
                    return
        finally:
            unsubscribe()

    # --- tell / ask --------------------------------------------------------------------

    def tell(self, message: Command) -> None:
        """Send a command without waiting; outcomes arrive as events.

        Raises:
            InvalidTypeError: ``message`` is not a command (a query must be asked).
            ClientClosedError: the client was stopped.
        """
        if isinstance(message, Query):
            raise InvalidTypeError(f"{type(message).__name__} is a query: ask it, do not tell it")
        self._check_open()
        self._dispatch(message, None, wait=False)

    @overload
    def ask(
        self, message: Join, timeout: float | None = None
    ) -> JoinOk | JoinError | JoinTimeout: ...
    @overload
    def ask(
        self, message: Push, timeout: float | None = None
    ) -> PushOk | PushError | PushTimeout: ...
    @overload
    def ask(self, message: PhoenixMsg, timeout: float | None = None) -> Any: ...

    def ask(self, message: PhoenixMsg, timeout: float | None = None) -> Any:
        """Send a command or query and wait for its answer.

        ``Join`` answers JoinOk / JoinError / JoinTimeout; ``Push`` answers
        PushOk / PushError / PushTimeout; ``Leave`` answers LeaveOk; queries
        answer their value; other commands answer None once applied.

        Args:
            message: the command or query.
            timeout: seconds to wait; by default the protocol timeout plus 5 s.

        Raises:
            AskTimeoutError: no answer in time.
            InvalidTypeError: ``message`` is not a command or query.
            ClientClosedError: the client was stopped.
        """
        self._check_open()
        return self._dispatch(message, timeout, wait=True)

    def _check_open(self) -> None:
        if self._closed or not self._supervisor.is_alive():
            raise ClientClosedError("the client is stopped")

    # --- routing -----------------------------------------------------------------------

    def _channel(self, topic: str) -> pykka.ActorRef[Any]:
        ref = self._rt.registry.get(topic)
        if ref is not None:
            return ref
        result: pykka.ActorRef[Any] = self._wait(
            self._supervisor.ask(EnsureChannel(topic), block=False), None
        )
        return result

    def _wait(self, future: pykka.Future[Any], timeout: float | None) -> Any:
        try:
            return future.get(
                timeout=self._rt.default_timeout + ASK_MARGIN if timeout is None else timeout
            )
        except pykka.Timeout as exc:
            raise AskTimeoutError("no answer before the deadline") from exc
        except pykka.ActorDeadError as exc:
            raise ClientClosedError("the actor that had to answer has stopped") from exc

    def _to_channel(
        self, topic: str, message: Any, timeout: float | None, *, wait: bool, call: bool
    ) -> Any:
        """Send to the topic's channel; retry once if it stopped meanwhile (left)."""
        for _ in range(2):
            ref = self._channel(topic)
            try:
                if call and wait:
                    fut: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
                    ref.tell(Call(message, fut))
                    return self._wait(fut, timeout)
                if wait:
                    return self._wait(ref.ask(message, block=False), timeout)
                ref.tell(message)
            except (pykka.ActorDeadError, ClientClosedError):
                if self._rt.registry.get(topic) is ref:
                    self._rt.registry.pop(topic, None)
            else:
                return None
        raise ClientClosedError(f"the channel of {topic!r} stopped twice while sending")

    def _channels_ask(self, message: Any) -> list[Any]:
        futures = []
        for ref in list(self._rt.registry.values()):
            try:
                futures.append(ref.ask(message, block=False))
            except pykka.ActorDeadError:
                continue
        out = []
        for fut in futures:
            try:
                out.append(self._wait(fut, None))
            except ClientClosedError:
                continue
        return out

    def _infos(self) -> list[ChannelInfo]:
        return self._channels_ask(GetChannelInfo())

    def _pushes(self, where: str) -> dict[str, list[Push]]:
        out: dict[str, list[Push]] = {}
        for pushes in self._channels_ask(GetPushes(where)):
            for push in pushes:
                out.setdefault(push.topic, []).append(push)
        return out

    def _any(self, where: tuple[str, ...], match: Match) -> bool:
        return any(match(p) for w in where for ps in self._pushes(w).values() for p in ps)

    def _dispatch(self, msg: Any, timeout: float | None, *, wait: bool) -> Any:
        rt = self._rt
        match msg:
            case Push(topic=topic) as push:
                if timeout is None:
                    timeout = (push.timeout or rt.default_timeout) + ASK_MARGIN
                return self._to_channel(topic, push, timeout, wait=wait, call=True)
            case Join(topic=topic) as join:
                if timeout is None and isinstance(join.timeout, float | int):
                    timeout = float(join.timeout) + ASK_MARGIN
                return self._to_channel(topic, join, timeout, wait=wait, call=True)
            case Leave(topic=topic):
                if topic not in rt.registry:
                    return LeaveOk(topic=topic) if wait else None
                return self._to_channel(topic, msg, timeout, wait=wait, call=True)
            case AddEvents(topic=topic) | DropEvents(topic=topic):
                return self._to_channel(topic, msg, timeout, wait=wait, call=False)
            case JoinAll(topics=topics):
                for topic in topics:
                    self._to_channel(topic, Join(topic), None, wait=False, call=False)
                return None
            case LeaveAll():
                for topic in list(rt.registry):
                    self._dispatch(Leave(topic), timeout, wait=wait)
                return None
            case SetJoinConfig(config=config):
                rt.join_configs[config.topic] = config
                return None
            case SetLeaveConfig(config=config):
                rt.leave_configs[config.topic] = config
                return None
            case DropPush() | DropQueuedPush() | DropTimeoutPush():
                counts = self._channels_ask(msg)
                return sum(c for c in counts if isinstance(c, int))
            case Disconnect(reset=reset):
                result = self._socket(msg, timeout, wait=wait or reset)
                if reset:
                    self._wait(self._supervisor.ask(ResetChannels(), block=False), timeout)
                    self._socket(SetConnectOptions(ConnectOptions()), timeout, wait=True)
                    rt.params = None
                return result
            case Batch(commands=commands):
                answers = [self._dispatch(c, timeout, wait=wait) for c in commands]
                return answers if wait else None
            case _ if isinstance(msg, (_SOCKET_COMMANDS, _SOCKET_QUERIES)):
                return self._socket(msg, timeout, wait=wait)
            case _ if isinstance(msg, _PRESENCE_QUERIES):
                return self._wait(self._presence().ask(msg, block=False), timeout)
            case Query():
                return self._query(msg)
            case _:
                raise InvalidTypeError(
                    f"not a phoenix_actors command or query: {type(msg).__name__}"
                )

    def _socket(self, msg: Any, timeout: float | None, *, wait: bool) -> Any:
        ref = self._rt.socket
        if ref is None:
            raise ClientClosedError("the socket actor is not running")
        if wait:
            return self._wait(ref.ask(msg, block=False), timeout)
        self._rt.tell(ref, msg)
        return None

    def _presence(self) -> pykka.ActorRef[Any]:
        ref = self._rt.presence
        if ref is None:
            raise ClientClosedError("the presence actor is not running")
        return ref

    def _query(self, msg: Query) -> Any:
        match msg:
            case GetTopicParts(topic=topic):
                return topic_parts(topic)
            case GetQueuedChannels():
                return [i.topic for i in self._infos() if i.queued]
            case GetJoinedChannels():
                return [i.topic for i in self._infos() if i.joined]
            case GetChannelQueued(topic=topic):
                return any(i.topic == topic and i.queued for i in self._infos())
            case GetChannelJoined(topic=topic):
                return any(i.topic == topic and i.joined for i in self._infos())
            case GetAllQueuedPushes():
                return self._pushes("queued")
            case GetQueuedPushes(topic=topic):
                return self._pushes("queued").get(topic, [])
            case GetTimedOutPushes():
                return self._pushes("timed_out")
            case GetPushQueued(match=match):
                return self._any(("queued",), match)
            case GetPushInFlight(match=match):
                return self._any(("in_flight",), match)
            case GetPushTimedOut(match=match):
                return self._any(("timed_out",), match)
            case GetPushWaiting(match=match):
                return self._any(("queued", "in_flight", "timed_out"), match)
            case GetPushCountdown(match=match):
                counts = [c for c in self._channels_ask(GetCountdown(match)) if c is not None]
                return min(counts) if counts else None
        raise InvalidArgumentError(f"unknown query {type(msg).__name__}")
