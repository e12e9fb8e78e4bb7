"""What every actor of one client shares: the context, the event bus, the wire.

Nothing here owns a thread. The :class:`Runtime` is written by the client and
the supervisor and read by the actors (single attribute reads and dict
look-ups, atomic under the GIL).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pykka

from phoenix_actors.clock import Clock
from phoenix_actors.errors import InvalidTypeError, LocalProtocolError, TransportError
from phoenix_actors.messages import ConnectOptions, Event, JoinConfig, LeaveConfig
from phoenix_actors.protocol.frames import Message, Serializer, V2JSONSerializer
from phoenix_actors.transport.base import Transport, TransportFactory

__all__ = ["EventBus", "RefCounter", "Runtime", "Subscriber", "Wire", "log"]

log = logging.getLogger("phoenix_actors")
frame_log = logging.getLogger("phoenix_actors.frames")

Subscriber = Callable[[Event], object] | pykka.ActorRef[Any]


class RefCounter:
    """The socket's one increasing ref counter, shared by every actor (thread-safe)."""

    def __init__(self) -> None:
        """Start at "1"."""
        self._next = itertools.count(1).__next__  # next() on a count is atomic in CPython

    def __call__(self) -> str:
        """Return the next ref."""
        return str(self._next())


class EventBus:
    """Delivers events to subscribers: callables, pykka ActorRefs, or queues.

    Callables run on the emitting actor's thread: keep them short, or
    subscribe an ActorRef. A callable that raises is logged and does not
    stop delivery to the others.
    """

    def __init__(self) -> None:
        """Create a bus with no subscribers."""
        self._subs: tuple[tuple[object, Callable[[Event], object]], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; return a function that removes it."""
        token = object()
        candidate: object = subscriber
        if isinstance(candidate, pykka.ActorRef):
            ref = candidate

            def deliver(event: Event) -> None:
                try:
                    ref.tell(event)
                except pykka.ActorDeadError:
                    self._remove(token)

            fn: Callable[[Event], object] = deliver
        elif callable(candidate):
            fn = candidate
        else:
            raise InvalidTypeError("subscriber must be a callable or a pykka ActorRef")
        with self._lock:
            self._subs = (*self._subs, (token, fn))
        return lambda: self._remove(token)

    def _remove(self, token: object) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s[0] is not token)

    def queue(self) -> tuple[queue.SimpleQueue[Event], Callable[[], None]]:
        """Subscribe a new queue; return it and its unsubscribe function."""
        q: queue.SimpleQueue[Event] = queue.SimpleQueue()
        return q, self.subscribe(q.put)

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber, in subscription order."""
        for _, fn in self._subs:
            try:
                fn(event)
            except Exception:
                log.exception("subscriber %r raised on %s", fn, type(event).__name__)


class Wire:
    """The current transport and serializer, written to by any actor.

    The SocketActor swaps the transport; channel actors send through it
    directly, so a push costs one thread hop to reach the socket.
    """

    def __init__(self) -> None:
        """Start with no transport."""
        self.transport: Transport | None = None
        self.serializer: Serializer = V2JSONSerializer()
        self.open = False
        self.log_frames = False

    def send_many(self, msgs: list[Message]) -> list[tuple[Message, LocalProtocolError]]:
        """Encode and write ``msgs`` in one transport write.

        Returns the messages that could not be encoded (with why); the rest
        are written if a transport is open, else dropped (the channel hears
        of the close and its pushes time out or are retried).
        """
        failed: list[tuple[Message, LocalProtocolError]] = []
        frames: list[tuple[bytes, bool]] = []
        encode = self.serializer.encode
        for msg in msgs:
            try:
                frame = encode(msg)
            except LocalProtocolError as exc:
                failed.append((msg, exc))
                continue
            frames.append((frame.data, frame.binary))
        if self.log_frames:
            for m in msgs:
                frame_log.debug("push %s %s (%s) %r", m.topic, m.event, m.ref, m.payload)
        transport = self.transport
        if frames and transport is not None and self.open:
            try:
                if len(frames) == 1:
                    transport.send(*frames[0])
                else:
                    transport.send_many(frames)
            except TransportError:
                pass
        return failed


@dataclass(eq=False)
class Runtime:
    """The shared context of one client's actors."""

    endpoint: str
    clock: Clock
    transport_factory: TransportFactory
    longpoll_factory: TransportFactory
    bus: EventBus = field(default_factory=EventBus)
    wire: Wire = field(default_factory=Wire)
    refs: RefCounter = field(default_factory=RefCounter)
    options: ConnectOptions = field(default_factory=ConnectOptions)
    params: Any = None
    join_configs: dict[str, JoinConfig] = field(default_factory=dict)
    leave_configs: dict[str, LeaveConfig] = field(default_factory=dict)
    registry: dict[str, pykka.ActorRef[Any]] = field(default_factory=dict)
    supervisor: pykka.ActorRef[Any] | None = None
    socket: pykka.ActorRef[Any] | None = None
    scheduler: pykka.ActorRef[Any] | None = None
    presence: pykka.ActorRef[Any] | None = None
    restart_limit: tuple[int, float] = (5, 10.0)

    def option(self, name: str, default: Any) -> Any:
        """Return connect option ``name``, or ``default`` when it is unset."""
        value = getattr(self.options, name)
        return default if value is msgspec.UNSET else value

    @property
    def default_timeout(self) -> float:
        """The socket's default push / join / leave timeout, in seconds."""
        return float(self.option("timeout", 10.0))

    def tell(self, ref: pykka.ActorRef[Any] | None, message: Any) -> bool:
        """Tell ``ref`` ``message`` if it is alive; return whether it was delivered."""
        if ref is None:
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return False
        return True
