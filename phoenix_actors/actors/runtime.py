"""What every actor of one client shares: the context, the event dispatcher, the wire.

Nothing here owns a thread. The :class:`Runtime` is written by the client and
the supervisor and read by the actors (single attribute reads and dict
look-ups, atomic under the GIL).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import pykka

from phoenix_actors.actors.dispatch import EventDispatcher
from phoenix_actors.actors.metrics import Counters
from phoenix_actors.actors.supervision import Deliver
from phoenix_actors.clock import Clock
from phoenix_actors.errors import LocalProtocolError, TransportError
from phoenix_actors.messages import ConnectOptions, JoinConfig, LeaveConfig
from phoenix_actors.protocol.frames import Message, Serializer, V2JSONSerializer
from phoenix_actors.transport.base import Transport, TransportFactory

__all__ = ["FRAME_OVERHEAD", "Inflow", "RefCounter", "Runtime", "Wire", "log"]

log = logging.getLogger("phoenix_actors")

ChildKind = Literal["socket", "presence", "scheduler"]
"""The children the supervisor keeps one of."""
frame_log = logging.getLogger("phoenix_actors.frames")


class RefCounter:
    """The socket's one increasing ref counter, shared by every actor (thread-safe)."""

    def __init__(self) -> None:
        """Start at "1"."""
        self._next = itertools.count(1).__next__  # next() on a count is atomic in CPython

    def __call__(self) -> str:
        """Return the next ref."""
        return str(self._next())


INFLOW_LIMIT = 32 * 1024 * 1024
"""Bytes of received frames not yet handled by an actor before the reader stops reading."""
FRAME_OVERHEAD = 256
"""Bytes each frame counts for beyond its length, so floods of tiny frames are bounded too."""


class Inflow:
    """The bound on frames read from the network and not yet handled (backpressure).

    The transport's reader :meth:`take`s the size of what it hands to actors
    and waits while the total is over the limit: it stops reading, so TCP
    slows the server down and actor mailboxes fed by the network stay
    bounded. Actors :meth:`release` what they handled. Nothing is dropped.
    There is one per connection, carried by the frames themselves: what a
    stopped actor never released is forgotten with its connection.
    """

    def __init__(self, limit: int = INFLOW_LIMIT) -> None:
        """Create an empty inflow bounded at ``limit`` bytes."""
        self.limit = limit
        self._cond = threading.Condition(threading.Lock())
        self._held = 0
        self._waiting = False

    @property
    def held(self) -> int:
        """Bytes handed to actors and not yet released."""
        return self._held

    def take(self, size: int, cancelled: Callable[[], bool]) -> None:
        """Count ``size`` bytes in; first wait while over the limit, unless ``cancelled()``."""
        with self._cond:
            while self._held >= self.limit and not cancelled():
                self._waiting = True
                self._cond.wait(1.0)  # woken by release() or wake(); the timeout is a safety net
            self._held += size

    def release(self, size: int) -> None:
        """Count ``size`` bytes out (an actor handled them)."""
        with self._cond:
            self._held -= size
            if self._waiting and self._held < self.limit:
                self._waiting = False
                self._cond.notify_all()

    def wake(self) -> None:
        """Wake a waiting reader so it re-checks ``cancelled`` (its transport was let go)."""
        with self._cond:
            self._cond.notify_all()


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
        self.counters = Counters()
        """Where written frames are counted (the runtime's, once it has one)."""
        self.generation = 0
        """Counts connections: a write for an older one is refused (stale join_ref)."""
        self.largest: tuple[int, str, str] | None = None
        """``(size, topic, ref)`` of the largest frame written on this connection:
        the push a 1009 ("message too big") close is blamed on."""

    def send_many(
        self, msgs: list[Message], generation: int
    ) -> tuple[list[tuple[Message, LocalProtocolError]], bool]:
        """Encode and write ``msgs`` in one transport write, on connection ``generation``.

        Returns the messages that could not be encoded (with why), and
        whether the write was refused: the connection the writer last saw
        is gone or going (a newer generation, none open, or the transport
        no longer takes frames). A refused writer keeps its pushes queued:
        it is about to hear of the close, and rejoins before sending them.
        """
        if generation != self.generation or not self.open or self.transport is None:
            return [], True
        failed: list[tuple[Message, LocalProtocolError]] = []
        frames: list[tuple[bytes, bool]] = []
        size = 0
        encode = self.serializer.encode
        for msg in msgs:
            try:
                frame = encode(msg)
            except LocalProtocolError as exc:
                failed.append((msg, exc))
                continue
            data = frame.data
            size += len(data)
            frames.append((data, frame.binary))
            if msg.ref is not None and (self.largest is None or len(data) > self.largest[0]):
                self.largest = (len(data), msg.topic, msg.ref)
        if self.log_frames:
            for m in msgs:
                frame_log.debug("push %s %s (%s) %r", m.topic, m.event, m.ref, m.payload)
        transport = self.transport
        if frames and transport is not None:
            try:
                if len(frames) == 1:
                    transport.send(*frames[0])
                else:
                    transport.send_many(frames)
            except TransportError:
                return failed, True
            self.counters.add_io("out", len(frames), size)
        return failed, False


@dataclass(eq=False)
class Runtime:
    """The shared context of one client's actors."""

    endpoint: str
    clock: Clock
    transport_factory: TransportFactory
    longpoll_factory: TransportFactory
    name: str = "phoenix"
    """Prefix of every thread name of this client (unique per client)."""
    events: EventDispatcher = field(default_factory=EventDispatcher)
    counters: Counters = field(default_factory=Counters)
    """What the client did (``GetMetrics``)."""
    inflow_limit: int = INFLOW_LIMIT
    """The bound of each connection's :class:`Inflow`."""
    inflow: Inflow | None = None
    """The current connection's inflow (one per connection, so nothing a stopped
    actor failed to release outlives its connection)."""
    random: random.Random = field(default_factory=random.Random)
    """Jitter's source (seed it in tests)."""
    loop: asyncio.AbstractEventLoop | None = None
    """The AsyncClient's event loop: async params / auth_token callables run there."""
    last_socket_error: str | None = None
    """The reason of the last SocketError since the socket last opened."""
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

    def __post_init__(self) -> None:
        """Share the counters with the wire; create the condition restarts notify."""
        self.wire.counters = self.counters
        self._changed = threading.Condition(threading.Lock())

    def children_changed(self) -> None:
        """Wake callers waiting for a restarted child (the supervisor calls this)."""
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait up to ``timeout`` s, woken at each restart, until ``predicate()`` holds."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def tell_child(self, kind: ChildKind, message: Any) -> bool:
        """Tell child ``kind`` ``message``; while it is down, the supervisor holds it."""
        if self.tell(getattr(self, kind), message):
            return True
        return self.tell(self.supervisor, Deliver(kind, message))

    def tell(self, ref: pykka.ActorRef[Any] | None, message: Any) -> bool:
        """Tell ``ref`` ``message`` if it is alive; return whether it was delivered."""
        if ref is None:
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            return False
        return True
