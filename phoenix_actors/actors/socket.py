"""SocketActor: one transport at a time, heartbeats, reconnects.

Decisions come from :class:`~phoenix_actors.protocol.socket.SocketCore`; this
actor carries out its effects. The transport's reader thread runs
:class:`_Sink`, which only decodes frames and tells them on: channel frames
straight to their ChannelActor (one hop), ``phoenix`` topic replies and
lifecycle callbacks to this actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import pykka

from phoenix_actors.actors.reply import Call
from phoenix_actors.actors.runtime import FRAME_OVERHEAD, Inflow, Runtime, frame_log, log
from phoenix_actors.actors.scheduler import ArmTimer, CancelTimer
from phoenix_actors.actors.supervision import ChildFailed, ClientActor, Crash, CrashInjectedError
from phoenix_actors.errors import (
    ConnectError,
    ConnectionLostError,
    FrameError,
    PhoenixError,
    TransportError,
)
from phoenix_actors.messages import (
    AddConnectOptions,
    AddEvents,
    Connect,
    ConnectOptions,
    Disconnect,
    DropEvents,
    GetConnectionState,
    GetDisconnectReason,
    GetEndpointURL,
    GetIsConnected,
    GetProtocol,
    GetSocketState,
    GetSocketStateString,
    HeartbeatReply,
    InternalError,
    Log,
    Refusal,
    SetConnectOptions,
    SetConnectParams,
    SocketClosed,
    SocketError,
    SocketOpened,
    SocketState,
    SocketStateChanged,
    StartLogging,
    StopLogging,
)
from phoenix_actors.protocol.frames import PHOENIX_TOPIC, Message, Role, serializer_for
from phoenix_actors.protocol.schedule import make_schedule, reconnect_after
from phoenix_actors.protocol.socket import (
    CloseTransport,
    ConnState,
    HeartbeatTimedOut,
    NotifyChannels,
    OpenTransport,
    Rearm,
    SendFrame,
    SocketCore,
    SocketEffect,
    Stop,
    TransportKind,
)
from phoenix_actors.protocol.url import auth_token_protocols, endpoint_url
from phoenix_actors.transport.base import Transport, TransportOptions

__all__ = ["EnsureConnected", "Frames", "SocketActor", "SocketClosedNotice", "SocketOpenedNotice"]

_STATE = {
    ConnState.CONNECTING: SocketState.CONNECTING,
    ConnState.OPEN: SocketState.CONNECTED,
    ConnState.CLOSING: SocketState.DISCONNECTING,
    ConnState.CLOSED: SocketState.DISCONNECTED,
}


HEARTBEAT_EVENT = "heartbeat"
"""``AddEvents("phoenix", ["heartbeat"])`` turns HeartbeatReply events on."""

_CALL: Any = object()  # "evaluate the params callable" (None is a valid params value)


class Frames(msgspec.Struct, frozen=True):
    """Frames for one channel, read from the socket in one go (never empty)."""

    messages: list[Message]
    size: int
    """Bytes of ``inflow`` they hold, released by whoever handles them."""
    inflow: Inflow


class EnsureConnected(msgspec.Struct, frozen=True):
    """A channel wants the socket: connect unless already connecting or open.

    If the socket is already open, ``channel`` is told so: a channel started
    while the socket was opening may have missed the notice.
    """

    channel: Any = None


class SocketOpenedNotice(msgspec.Struct, frozen=True):
    """Told to every channel when the socket opens: connection ``generation``."""

    generation: int = 0


class SocketClosedNotice(msgspec.Struct, frozen=True):
    """Told to every channel when the socket goes away."""

    reason: str
    too_large: str | None = None
    """The ref of this channel's push the server closed the socket for (1009)."""


class _Opened(msgspec.Struct, frozen=True):
    transport: Any


class _Closed(msgspec.Struct, frozen=True):
    transport: Any
    code: int
    reason: str
    clean: bool


class _Failed(msgspec.Struct, frozen=True):
    transport: Any
    error: Any


class _PhoenixReply(msgspec.Struct, frozen=True):
    message: Message
    size: int
    inflow: Inflow


class _Resolved(msgspec.Struct, frozen=True):
    """Async params / auth_token callables were awaited for connection attempt ``attempt``."""

    kind: Any
    attempt: int
    future: Any


class _SocketTimer(msgspec.Struct, frozen=True):
    name: str
    at: float


class _Sink:
    """Runs on the transport's reader thread: decode, then tell. Nothing else.

    What it hands on is counted into the runtime's :class:`Inflow` first, so
    when actors fall behind the reader stops reading (backpressure).
    """

    def __init__(self, rt: Runtime, socket: pykka.ActorRef[Any], serializer: Any) -> None:
        self.rt = rt
        self.socket = socket
        self.decode = serializer.decode
        self.batching = False
        self.detached = False
        """Set when the socket actor lets this transport go: stop waiting on inflow."""
        self.inflow = Inflow(rt.inflow_limit)
        """What this connection handed to actors and they have not handled yet."""
        # frames read in one go, per channel: one tell hands them all over
        self.pending: dict[pykka.ActorRef[Any], list[Message]] = {}
        self.pending_size = 0
        self.read_frames = 0  # counted since the last batch end: one counter update a batch
        self.read_bytes = 0

    def _cancelled(self) -> bool:
        return self.detached

    def on_open(self, transport: Transport) -> None:
        self.batching = bool(getattr(transport, "delivers_batches", False))
        self.rt.tell(self.socket, _Opened(transport))

    def on_batch_end(self, transport: Transport) -> None:
        del transport
        if self.read_frames:
            self.rt.counters.add_io("in", self.read_frames, self.read_bytes)
            self.read_frames = self.read_bytes = 0
        pending = self.pending
        if not pending:
            return
        self.pending = {}
        size, self.pending_size = self.pending_size, 0
        self._hand_on(pending, size)

    def _hand_on(self, pending: dict[pykka.ActorRef[Any], list[Message]], size: int) -> None:
        inflow = self.inflow
        inflow.take(size, self._cancelled)
        share, rest = divmod(size, len(pending))
        for channel, msgs in pending.items():
            part = share + rest
            rest = 0
            if not self.rt.tell(channel, Frames(msgs, part, inflow)):
                inflow.release(part)
                log.debug("%d frames for a stopped channel: dropped", len(msgs))

    def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:  # noqa: FBT001
        del transport
        self.read_frames += 1
        self.read_bytes += len(data)
        if not self.batching:
            self.rt.counters.add_io("in", 1, len(data))
            self.read_frames = self.read_bytes = 0
        try:
            msg: Message = self.decode(data, binary=binary)
        except FrameError as exc:
            log.warning("malformed frame from the server: %s", exc)
            self.rt.events.emit(InternalError(reason=f"malformed frame: {exc}", error="FrameError"))
            return
        if self.rt.wire.log_frames:
            frame_log.debug("receive %s %s (%s) %r", msg.topic, msg.event, msg.ref, msg.payload)
        size = len(data) + FRAME_OVERHEAD
        if msg.topic == PHOENIX_TOPIC:
            self.inflow.take(size, self._cancelled)
            if not self.rt.tell(self.socket, _PhoenixReply(msg, size, self.inflow)):
                self.inflow.release(size)
            return
        channel = self.rt.registry.get(msg.topic)
        if channel is None:
            log.debug("frame for topic %r, which has no channel: dropped", msg.topic)
        elif self.batching:
            self.pending_size += size
            batch = self.pending.get(channel)
            if batch is None:
                self.pending[channel] = [msg]
            else:
                batch.append(msg)
        else:
            self._hand_on({channel: [msg]}, size)

    def on_error(self, transport: Transport, error: TransportError) -> None:
        self.rt.tell(self.socket, _Failed(transport, error))

    def on_close(self, transport: Transport, code: int, reason: str, clean: bool) -> None:  # noqa: FBT001
        self.on_batch_end(transport)
        self.rt.tell(self.socket, _Closed(transport, code, reason, clean))


def _public_url(url: str) -> str:
    """``url`` without its query string: params (tokens) never reach events or logs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class SocketActor(ClientActor):
    """Owns the transport; runs heartbeats and the reconnect schedule."""

    def __init__(self, runtime: Runtime, inbox: list[Any] | None = None) -> None:
        """Create the socket actor (it connects only when asked).

        ``inbox``: what a crashed predecessor left unread, handled first.
        """
        super().__init__()
        self.rt = runtime
        self.inherited = inbox
        self.core = self._new_core()
        self.transport: Transport | None = None
        self._sink: _Sink | None = None
        self._retired: list[Transport] = []
        self._url = ""
        self._too_large: tuple[str, str] | None = None
        self._attempt = 0  # counts opens that await async params: a late answer is ignored
        self._params: Any = None  # the params of the last attempt
        self._params_async = False
        self._refused: int | None = None  # the HTTP status of the last refused handshake
        self._beats: dict[str, float] = {}  # heartbeat ref -> when it was sent
        self._heartbeat_events = False  # AddEvents("phoenix", ["heartbeat"]) opts in

    def _new_core(self) -> SocketCore:
        rt = self.rt
        schedule = make_schedule(rt.option("reconnect_after", None), reconnect_after)
        return SocketCore(
            rt.refs,
            heartbeat_interval=float(rt.option("heartbeat_interval", 30.0)),
            reconnect_schedule=schedule,
            transport=rt.option("transport", "websocket"),
            longpoll_fallback=rt.option("longpoll_fallback", None),
            reconnect_policy=rt.option("reconnect_policy", None),
            reconnect_jitter=float(rt.option("reconnect_jitter", 0.0)),
            random=rt.random.random,
        )

    def _heartbeat_answered(self, now: float, ref: str | None) -> None:
        sent = None if ref is None else self._beats.pop(ref, None)
        if sent is None:
            return
        self._beats.clear()  # older ones were never answered: forget them
        rtt = now - sent
        self.rt.counters.rtt(rtt)
        if self._heartbeat_events or self.rt.option("heartbeat_events", False):  # noqa: FBT003
            self.rt.events.emit(HeartbeatReply(rtt=rtt))

    def _refreshable(self) -> bool:
        """Whether a token or params callable can answer a refusal with fresh credentials."""
        return callable(self.rt.option("auth_token", None)) or callable(self.rt.params)

    # --- lifecycle -----------------------------------------------------------------

    def on_start(self) -> None:
        """Name the thread; handle what a crashed predecessor left unread."""
        self.name_thread("socket")
        self.replay_inbox()

    def on_stop(self) -> None:
        """Close the transport and wait (bounded) for every reader thread to end."""
        self._close_transport(1000, "client stopped")
        for transport in self._retired:
            if not transport.join(5.0):
                log.warning("transport thread did not stop within 5 s")
        self._retired.clear()

    def on_failure(self, *args: object) -> None:
        """Close the transport, tell everyone the connection is gone, report the crash.

        The restarted actor opens a new connection if this one was wanted;
        the channels, told now, rejoin on it with fresh join_refs.
        """
        rt = self.rt
        inbox = self.take_inbox()
        live = self.transport is not None
        self.on_stop()
        wanted = not self.core.close_was_clean and (
            live or self.core.state is not ConnState.CLOSED or self.core.reconnect_at is not None
        )
        if live:
            rt.events.emit(
                SocketClosed(
                    code=1006,
                    reason="socket actor restarted",
                    was_clean=False,
                    will_reconnect=wanted,
                )
            )
        notice = SocketClosedNotice("connection_closed")
        for channel in list(rt.registry.values()):
            rt.tell(channel, notice)
        rt.tell(rt.supervisor, ChildFailed("socket", None, repr(args[1]), wanted, inbox))

    # --- messages ------------------------------------------------------------------

    def on_receive(self, message: Any) -> Any:
        """Dispatch commands, queries, transport callbacks and timers."""
        now = self.rt.clock.now()
        match message:
            case Crash():
                raise CrashInjectedError("socket")
            case _Resolved(kind=kind, attempt=attempt, future=future):
                if attempt != self._attempt or self.core.state is not ConnState.CONNECTING:
                    return None  # a later attempt, or a disconnect, overtook it
                if future.cancelled() or future.exception() is not None:
                    self._refuse_open("params callable raised", future.exception())
                else:
                    self._open_with(kind, *future.result())
            case Call():
                self.answer(message)
            case _PhoenixReply(message=msg, size=size, inflow=inflow):
                inflow.release(size)
                self._heartbeat_answered(now, msg.ref)
                self._run(self.core.heartbeat_reply(now, msg.ref))
            case _SocketTimer(name=name):
                self._run(self.core.timer(now, name))
            case _Opened(transport=t) if t is self.transport:
                self.rt.counters.add("connects")
                self.rt.wire.open = True
                self.rt.last_socket_error = None
                self._refused = None
                effects = self.core.opened(now)
                self._emit_state()
                self.rt.events.emit(SocketOpened(url=_public_url(self._url)))
                self._run(effects)
            case _Failed(transport=t, error=err) if t is self.transport:
                status = err.status if isinstance(err, ConnectError) else None
                tls = isinstance(err, ConnectError) and err.tls
                if tls:
                    # a certificate will not become trusted by retrying: no reconnect storm
                    self.core.close_was_clean = True
                self.rt.last_socket_error = str(err)
                self._refused = status
                self.rt.events.emit(
                    SocketError(reason=str(err), error=type(err).__name__, status=status, tls=tls)
                )
                abrupt = isinstance(err, ConnectionLostError) and err.abrupt
                self._run(self.core.errored(now, abrupt=abrupt))
            case _Closed(transport=t, code=code, reason=reason, clean=clean) if t is self.transport:
                largest = self.rt.wire.largest
                self._detach()
                if code == 1009 and largest is not None:
                    self._too_large = (largest[1], largest[2])
                self.core.refreshable = self._refreshable()
                effects = self.core.closed(now, code, reason, self._refused)
                if self.core.reconnect_at is not None:
                    cause = f"http_{self._refused}" if self._refused else f"close_{code}"
                    self.rt.counters.reconnect(cause)
                # the close is emitted before the channels hear of it, so their
                # errors follow it in every subscriber's order (causal order)
                self.rt.events.emit(
                    SocketClosed(
                        code=code,
                        reason=reason,
                        was_clean=clean,
                        will_reconnect=self.core.reconnect_at is not None,
                        reconnect_in=self._reconnect_in(),
                        reconnect_stopped=self.core.reconnect_stopped,
                    )
                )
                self._emit_state()
                self._run(effects)
                self._too_large = None
            case _Opened() | _Failed() | _Closed():
                pass  # a callback from a transport we already let go of
            case EnsureConnected(channel=channel) if self.core.state is ConnState.OPEN:
                self.rt.tell(channel, SocketOpenedNotice(self.rt.wire.generation))
            case Connect() | EnsureConnected():
                self._run(self.core.connect(now))
            case Disconnect(code=code, reason=reason):
                was = self.core.state
                effects = self.core.disconnect(now, code or 1000, reason)
                if was is not ConnState.CLOSED:  # emitted before the channels hear of it
                    self.rt.events.emit(
                        SocketClosed(
                            code=code or 1000, reason=reason, was_clean=True, will_reconnect=False
                        )
                    )
                    self._emit_state()
                self._run(effects)
            case SetConnectOptions(options=options):
                self._set_options(options)
            case AddConnectOptions(options=options):
                self._set_options(self.rt.options.merged(options))
            case AddEvents(events=events) if HEARTBEAT_EVENT in events:
                self._heartbeat_events = True
            case DropEvents(events=events) if HEARTBEAT_EVENT in events:
                self._heartbeat_events = False
            case AddEvents() | DropEvents():
                pass  # no other event of the phoenix topic is delivered
            case SetConnectParams(params=params):
                self.rt.params = params
            case StartLogging():
                self.rt.wire.log_frames = True
                _enable_logging()
            case StopLogging():
                self.rt.wire.log_frames = False
            case Log(level=level, label=label, data=data):
                if self.rt.wire.log_frames:
                    log.log(_level(level), "%s: %r", label, data)
            case GetSocketState():
                return _STATE[self.core.state]
            case GetSocketStateString():
                return str(_STATE[self.core.state])
            case GetIsConnected():
                return self.core.state is ConnState.OPEN
            case GetConnectionState():
                return str(self.core.state)
            case GetDisconnectReason():
                return self.core.disconnect_reason
            case GetEndpointURL():
                return self._build_url()
            case GetProtocol():
                return "wss" if urlsplit(self._build_url()).scheme == "wss" else "ws"
            case _:
                log.warning("socket: unknown message %r", type(message).__name__)
        return None

    def _reconnect_in(self) -> float | None:
        return None if self.core.reconnect_at is None else self.core.reconnect_delay

    def _emit_state(self) -> None:
        self.rt.events.emit(SocketStateChanged(state=_STATE[self.core.state]))

    def _set_options(self, options: ConnectOptions) -> None:
        self.rt.options = options
        core = self.core
        core.transport = self.rt.option("transport", "websocket")
        core.longpoll_fallback = self.rt.option("longpoll_fallback", None)
        core.heartbeat_interval = float(self.rt.option("heartbeat_interval", 30.0))
        core.reconnect_schedule = make_schedule(
            self.rt.option("reconnect_after", None), reconnect_after
        )
        core.reconnect_policy = self.rt.option("reconnect_policy", None)
        core.reconnect_jitter = float(self.rt.option("reconnect_jitter", 0.0))
        if self.rt.option("logger", False):  # noqa: FBT003
            self.rt.wire.log_frames = True
            _enable_logging()

    # --- effects -------------------------------------------------------------------

    def _run(self, effects: list[SocketEffect]) -> None:
        rt = self.rt
        for eff in effects:
            match eff:
                case SendFrame(message=msg):
                    if msg.event == "heartbeat" and msg.ref is not None:
                        rt.counters.add("heartbeats_sent")
                        self._beats[msg.ref] = rt.clock.now()
                    rt.wire.send_many([msg], rt.wire.generation)
                case Rearm(name=name, at=at):
                    timer = _SocketTimer(name, at)
                    rt.tell_child("scheduler", ArmTimer("socket", name, at, self.actor_ref, timer))
                case Stop(name=name):
                    rt.tell_child("scheduler", CancelTimer("socket", name))
                case OpenTransport(kind=kind):
                    self._open(kind)
                case CloseTransport(code=code, reason=reason):
                    self._close_transport(code, reason)
                case NotifyChannels(opened=opened, reason=reason):
                    notice = (
                        SocketOpenedNotice(rt.wire.generation)
                        if opened
                        else SocketClosedNotice(reason)
                    )
                    blamed = self._too_large
                    for topic, channel in list(rt.registry.items()):
                        if blamed is not None and blamed[0] == topic:
                            rt.tell(channel, SocketClosedNotice(reason, too_large=blamed[1]))
                        else:
                            rt.tell(channel, notice)
                case HeartbeatTimedOut():
                    log.info("heartbeat timeout: closing the connection to reconnect")
                    rt.counters.add("heartbeats_missed")
                    self._beats.clear()
                    if self.core.reconnect_at is not None:
                        rt.counters.reconnect("heartbeat_timeout")
                    rt.events.emit(
                        SocketClosed(
                            code=1000,
                            reason="heartbeat timeout",
                            was_clean=False,
                            will_reconnect=self.core.reconnect_at is not None,
                            reconnect_in=self._reconnect_in(),
                            reconnect_stopped=self.core.reconnect_stopped,
                        )
                    )

    def _build_url(self, kind: TransportKind = "websocket", params: Any = _CALL) -> str:
        rt = self.rt
        if params is _CALL:
            params = self._params if self._params_async else _evaluate(rt.params)
            if inspect.isawaitable(params):  # an async callable: use the last it gave
                _discard(params)
                self._params_async = True
                params = self._params
        return endpoint_url(rt.endpoint, params, vsn=rt.option("vsn", "2.0.0"), transport=kind)

    def _open(self, kind: TransportKind) -> None:
        """Evaluate params and token (awaiting async ones on the client's loop), then open."""
        rt = self.rt
        refusal = None
        if self._refused is not None:
            refusal = Refusal(status=self._refused, attempt=self.core.reconnect_tries)
        try:
            params = _evaluate(rt.params, refusal)
            token = _evaluate(rt.option("auth_token", None), refusal)
        except Exception as exc:  # noqa: BLE001 - a user callable may raise anything
            self._refuse_open("params callable raised", exc)
            return
        if inspect.isawaitable(params) or inspect.isawaitable(token):
            loop = rt.loop
            if loop is None or loop.is_closed():
                _discard(params)
                _discard(token)
                self._refuse_open("an async params or auth_token callable needs AsyncClient", None)
                return
            self._attempt += 1
            attempt, ref = self._attempt, self.actor_ref
            # awaited on the client's loop: this thread never waits for it
            pending = asyncio.run_coroutine_threadsafe(_both(params, token), loop)
            pending.add_done_callback(lambda f: _tell(ref, _Resolved(kind, attempt, f)))
            return
        self._open_with(kind, params, token)

    def _refuse_open(self, reason: str, exc: BaseException | None) -> None:
        rt = self.rt
        name = type(exc).__name__ if exc is not None else "InvalidArgumentError"
        if isinstance(exc, PhoenixError):
            reason = str(exc)
        else:
            log.warning("connect failed before opening: %s (%s)", reason, name)
        rt.events.emit(SocketError(reason=reason, error=name))
        self._run(self.core.closed(rt.clock.now(), 1006, reason))

    def _open_with(self, kind: TransportKind, params: Any, token: Any) -> None:
        rt = self.rt
        self._params = params
        try:
            url = self._build_url(kind, params)
            protocols = tuple(auth_token_protocols(token)) if token else ()
        except PhoenixError as exc:
            self._refuse_open(str(exc), exc)
            return
        self._url = url
        serializer = serializer_for(rt.option("vsn", "2.0.0"), Role.CLIENT)
        headers = rt.option("headers", {})
        options = TransportOptions(
            subprotocols=protocols,
            headers=tuple(headers.items()),
            connect_timeout=rt.default_timeout,
            ssl_context=rt.option("ssl_context", None),
            max_frame_size=rt.option("max_frame_size", 10_000_000),
            # a peer that stops reading fails the connection as a lost one would
            write_timeout=rt.option("write_timeout", None)
            or float(rt.option("heartbeat_interval", 30.0)),
            name=f"{rt.name}-transport",
        )
        factory = rt.transport_factory if kind == "websocket" else rt.longpoll_factory
        sink = _Sink(rt, self.actor_ref, serializer)
        transport = factory(url, options, sink)
        self.transport = transport
        self._sink = sink
        rt.inflow = sink.inflow
        rt.wire.serializer = serializer
        rt.wire.transport = transport
        rt.wire.open = False
        rt.wire.largest = None
        rt.wire.generation += 1
        self._emit_state()
        transport.open()

    def _detach(self) -> None:
        transport = self.transport
        self.transport = None
        if self._sink is not None:
            self._sink.detached = True
            self._sink.inflow.wake()
            self._sink = None
        self.rt.wire.open = False
        self.rt.wire.transport = None
        if transport is not None:
            self._retired.append(transport)
        # forget threads that already ended, so a weeks-long run keeps no list of them
        self._retired = [t for t in self._retired if not t.join(0)]

    def _close_transport(self, code: int, reason: str) -> None:
        transport = self.transport
        self._detach()
        if transport is not None:
            transport.close(code, reason)


def _evaluate(value: Any, refusal: Refusal | None = None) -> Any:
    """``value()`` if callable (``value(refusal)`` if it takes an argument), else ``value``."""
    if not callable(value):
        return value
    return value(refusal) if _takes_argument(value) else value()


def _takes_argument(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called with one positional argument (the refusal)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: call it bare
        return False
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


async def _both(params: Any, token: Any) -> tuple[Any, Any]:
    if inspect.isawaitable(params):
        params = await params
    if inspect.isawaitable(token):
        token = await token
    return params, token


def _discard(value: Any) -> None:
    """Close an awaitable that will not be awaited (no "never awaited" warning)."""
    close = getattr(value, "close", None)
    if inspect.iscoroutine(value) and close is not None:
        close()


def _tell(ref: pykka.ActorRef[Any], message: Any) -> None:
    with contextlib.suppress(pykka.ActorDeadError):
        ref.tell(message)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


def _enable_logging() -> None:
    """Make frame logs visible when the user turns logging on and set no level."""
    for name in ("phoenix_actors", "phoenix_actors.frames"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.DEBUG)
