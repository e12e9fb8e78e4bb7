"""EventDispatcher: one thread per client runs every subscriber, in one total order.

Actors call :meth:`EventDispatcher.emit`, which never blocks and never runs
user code: it appends the event to each subscriber's bounded backlog, under
one lock, so every subscriber sees the same total order (the order of the
``emit`` calls: within a topic the order frames arrived, across actors causal,
since an actor emits before it tells the next actor what happened).

The dispatcher thread takes backlogs in turn and calls the callbacks (or
``tell``s a pykka ``ActorRef``); an :meth:`~EventDispatcher.iterate` feed is
drained by the thread iterating it. So a callback may ``ask``, ``tell`` and
``stop`` the client: it never runs on an actor thread.

Backlog policies, per subscriber, when its backlog holds ``backlog`` events:

===============  ==============================================================
``drop_oldest``  the oldest waiting event is discarded (the default)
``drop_newest``  the new event is discarded
``fail``         the subscription ends: its backlog is discarded
===============  ==============================================================

Every overflow is reported to that subscriber as an
:class:`~phoenix_actors.messages.EventsDropped` with the count, delivered
before the next event it gets (with ``fail``: as its last event), and logged
once per overflow episode.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Literal, get_args

import pykka

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError
from phoenix_actors.messages import Event, EventsDropped, InternalError

__all__ = ["DEFAULT_BACKLOG", "EventDispatcher", "Overflow", "Subscriber"]

log = logging.getLogger("phoenix_actors")

Subscriber = Callable[[Event], object] | pykka.ActorRef[Any]
"""A callable taking each event, or a pykka ActorRef that is told each event."""

Overflow = Literal["drop_oldest", "drop_newest", "fail"]
"""What a full subscriber backlog does with a new event (see the module docstring)."""

DEFAULT_BACKLOG = 10_000
"""Events a subscriber may have waiting before its overflow policy applies."""

_BATCH = 256  # events taken from one backlog before the next backlog's turn
_SUBSCRIBER_ERROR = "SubscriberError"


class _Subscription:
    __slots__ = (
        "backlog",
        "deliver",
        "dropped",
        "failed",
        "in_hand",
        "limit",
        "name",
        "policy",
        "removed",
        "wake",
    )

    def __init__(
        self, deliver: Callable[[Event], object] | None, limit: int, policy: Overflow, name: str
    ) -> None:
        self.deliver = deliver  # None: an iterator, drained by its own thread
        self.backlog: deque[Event] = deque()
        self.limit = limit
        self.policy = policy
        self.name = name
        self.dropped = 0
        self.failed = False
        # taken from the backlog, not yet delivered: still counts against the limit;
        # written only by the one thread that delivers to this subscription
        self.in_hand = 0
        self.wake: Callable[[], object] | None = None  # a waiting Feed's owner, called once
        self.removed = False

    def _woken(self) -> None:
        wake, self.wake = self.wake, None
        if wake is not None:
            try:
                wake()
            except Exception:
                log.debug("events(): waking the feed's owner failed", exc_info=True)

    def offer(self, event: Event) -> int:
        """Append ``event`` under the dispatcher's lock, applying the overflow policy.

        Returns:
            How many events this dropped.
        """
        if self.failed:
            return 0
        if self.wake is not None:
            self._woken()
        backlog = self.backlog
        if len(backlog) + self.in_hand < self.limit:
            backlog.append(event)
            return 0
        if not self.dropped:
            log.warning(
                "events subscriber %s: backlog of %d full, policy %s",
                self.name,
                self.limit,
                self.policy,
            )
        if self.policy == "fail":
            lost = len(backlog) + 1
            backlog.clear()
            self.failed = True
        else:
            lost = 1
            if self.policy == "drop_oldest" and backlog:  # else the new one goes instead
                backlog.popleft()
                backlog.append(event)
        self.dropped += lost
        return lost

    def take(self, most: int) -> list[Event]:
        """Take up to ``most`` events (an EventsDropped first if some were dropped).

        At most half the backlog is taken at once: taken events still count
        against the limit, and the rest must stay droppable for ``drop_oldest``.
        """
        most = min(most, max(1, self.limit // 2))
        out: list[Event] = []
        if self.dropped:
            out.append(
                EventsDropped(
                    count=self.dropped,
                    policy=self.policy,
                    subscriber=self.name,
                    failed=self.failed,
                )
            )
            self.dropped = 0
        backlog = self.backlog
        if len(backlog) <= most:  # the common case: take it all at once
            out.extend(backlog)
            backlog.clear()
        else:
            out.extend(backlog.popleft() for _ in range(most))
        self.in_hand += len(out)
        return out

    @property
    def pending(self) -> bool:
        return bool(self.backlog) or self.dropped > 0


class EventDispatcher:
    """Delivers one client's events to its subscribers from one thread.

    Args:
        name: prefix of the dispatcher thread's name (``f"{name}-events"``).
    """

    def __init__(self, name: str = "phoenix") -> None:
        """Create a dispatcher; its thread starts with the first callback subscriber."""
        self._name = name
        self._cond = threading.Condition(threading.Lock())
        self._subs: tuple[_Subscription, ...] = ()
        self._thread: threading.Thread | None = None
        self._running = True
        self.dropped_total = 0
        """Events dropped by every backlog so far (for the metrics)."""
        self._finishing = False  # deliver what waits, then end (see finish())

    # --- subscribing -----------------------------------------------------------------

    def subscribe(
        self,
        subscriber: Subscriber,
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> Callable[[], None]:
        """Deliver every event to ``subscriber``; return a function that unsubscribes.

        Raises:
            InvalidTypeError: ``subscriber`` is neither a callable nor an ActorRef.
            InvalidArgumentError: ``backlog`` < 1 or an unknown ``overflow`` policy.
        """
        candidate: object = subscriber
        if isinstance(candidate, pykka.ActorRef):
            ref = candidate
            deliver: Callable[[Event], object] = ref.tell
            name = f"ActorRef({ref.actor_class.__name__})"
        elif callable(candidate):
            deliver = candidate
            name = getattr(candidate, "__qualname__", type(candidate).__qualname__)
        else:
            raise InvalidTypeError("subscriber must be a callable or a pykka ActorRef")
        sub = self._add(deliver, backlog, overflow, name)
        with self._cond:
            if self._thread is None and self._running:
                self._thread = threading.Thread(
                    target=self._run, name=f"{self._name}-events", daemon=True
                )
                self._thread.start()
        return lambda: self._remove(sub)

    def iterate(
        self,
        timeout: float | None = None,
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> Iterator[Event]:
        """Yield events as they arrive, on the iterating thread.

        The subscription starts when this is called and ends when the
        iterator is closed, after ``timeout`` seconds without an event, when
        a ``fail`` policy overflows, or when the dispatcher stops.
        """
        sub = self._add(None, backlog, overflow, "events()")
        return self._iterate(sub, timeout)

    def feed(
        self, *, backlog: int = DEFAULT_BACKLOG, overflow: Overflow = "drop_oldest"
    ) -> Feed:
        """A subscription its owner drains itself, woken by a callback (async iterators)."""
        return Feed(self, self._add(None, backlog, overflow, "events()"))

    def _iterate(self, sub: _Subscription, timeout: float | None) -> Iterator[Event]:
        cond = self._cond
        try:
            while True:
                with cond:
                    if not sub.pending and self._running:
                        cond.wait_for(lambda: sub.pending or not self._running, timeout)
                    if not sub.pending:
                        return
                    events = sub.take(_BATCH)
                for event in events:
                    sub.in_hand -= 1
                    yield event
                if sub.failed and not sub.backlog:
                    return
        finally:
            self._remove(sub)

    def _add(
        self, deliver: Callable[[Event], object] | None, limit: int, policy: Overflow, name: str
    ) -> _Subscription:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgumentError(f"backlog must be an int >= 1, got {limit!r}")
        if policy not in get_args(Overflow):
            raise InvalidArgumentError(f"overflow must be one of {get_args(Overflow)}")
        sub = _Subscription(deliver, limit, policy, name)
        with self._cond:
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: _Subscription) -> None:
        with self._cond:
            self._subs = tuple(s for s in self._subs if s is not sub)
            sub.removed = True
            sub.backlog.clear()

    # --- emitting (actor threads) ----------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue ``event`` for every subscriber; never blocks on a subscriber."""
        if not self._subs:
            return
        with self._cond:
            for sub in self._subs:
                self.dropped_total += sub.offer(event)
            self._cond.notify_all()

    def emit_many(self, events: list[Event]) -> None:
        """Queue ``events``, in order, for every subscriber, under one lock."""
        if not events or not self._subs:
            return
        n = len(events)
        with self._cond:
            for sub in self._subs:
                backlog = sub.backlog
                if (
                    sub.wake is None
                    and not sub.failed
                    and len(backlog) + sub.in_hand + n <= sub.limit
                ):
                    backlog.extend(events)  # room for all: no policy to apply
                    continue
                offer = sub.offer
                for event in events:
                    self.dropped_total += offer(event)
            self._cond.notify_all()

    # --- the dispatcher thread -------------------------------------------------------

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                work = self._work()
                while not work and self._running and not self._finishing:
                    cond.wait()
                    work = self._work()
                if not self._running or not work:
                    self._running = False
                    for sub in self._subs:
                        sub._woken()  # noqa: SLF001 - a waiting feed ends
                    cond.notify_all()  # events() iterators end too
                    return
            for sub, events in work:
                deliver = sub.deliver
                assert deliver is not None
                for event in events:
                    sub.in_hand -= 1
                    if not self._running or sub.removed:
                        break
                    try:
                        deliver(event)
                    except Exception as exc:  # noqa: BLE001 - user code may raise anything
                        self._failed(sub, event, exc)
                if sub.failed and not sub.pending:  # its final report was delivered
                    self._remove(sub)

    def _work(self) -> list[tuple[_Subscription, list[Event]]]:
        """Take a batch from every callback backlog that has events (under the lock)."""
        return [
            (sub, sub.take(_BATCH)) for sub in self._subs if sub.deliver is not None and sub.pending
        ]

    def _failed(self, sub: _Subscription, event: Event, exc: Exception) -> None:
        """A callback raised: log it, report it (a dead subscribed actor is dropped)."""
        if isinstance(exc, pykka.ActorDeadError):
            self._remove(sub)
            return
        log.error("subscriber %s raised on %s", sub.name, type(event).__name__, exc_info=exc)
        if not (isinstance(event, InternalError) and event.error == _SUBSCRIBER_ERROR):
            # reported to everyone, but a failure handling such a report is not
            # reported again (two failing subscribers would feed each other)
            self.emit(
                InternalError(
                    reason=f"subscriber {sub.name} raised {type(exc).__name__}: {exc}",
                    error=_SUBSCRIBER_ERROR,
                )
            )

    # --- stopping ----------------------------------------------------------------------

    def finish(self) -> None:
        """End after delivering what is waiting (the client failed); never blocks."""
        with self._cond:
            self._finishing = True
            if self._thread is None:  # no callbacks: only iterators, which drain themselves
                self._running = False
            self._cond.notify_all()

    def stop(self, timeout: float) -> bool:
        """Stop delivering: no callback starts after this returns; waiting events are dropped.

        Called from a callback, it returns at once (that callback is the last).

        Returns:
            False if a callback was still running after ``timeout`` seconds.
        """
        with self._cond:
            self._running = False
            for sub in self._subs:
                sub.backlog.clear()
                sub._woken()  # noqa: SLF001 - a waiting feed ends
            self._cond.notify_all()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(max(0.0, timeout))
        return not thread.is_alive()


class Feed:
    """A subscription drained by its owner, who is woken (once per wait) when events come.

    The bridge to an event loop: ``take()`` what is waiting; if nothing is,
    ``arm(wake)`` and wait for ``wake()`` (called on an actor thread, so it
    must only schedule, e.g. ``loop.call_soon_threadsafe``). Bounded like any
    subscription.
    """

    def __init__(self, dispatcher: EventDispatcher, sub: _Subscription) -> None:
        """Wrap ``sub`` of ``dispatcher`` (use :meth:`EventDispatcher.feed`)."""
        self._dispatcher = dispatcher
        self._sub = sub

    def take(self, most: int = _BATCH) -> list[Event]:
        """Take up to ``most`` waiting events (an EventsDropped first, if any were dropped)."""
        with self._dispatcher._cond:  # noqa: SLF001 - the dispatcher's own lock
            events = self._sub.take(most)
        self._sub.in_hand -= len(events)  # handed over at once: the owner holds them now
        return events

    def arm(self, wake: Callable[[], object]) -> bool:
        """Call ``wake()`` at the next event; False (not armed) if events already wait."""
        with self._dispatcher._cond:  # noqa: SLF001
            if self._sub.pending or self.ended:
                return False
            self._sub.wake = wake
            return True

    @property
    def ended(self) -> bool:
        """The dispatcher stopped, or a ``fail`` overflow ended this subscription."""
        sub = self._sub
        return not self._dispatcher._running or (sub.failed and not sub.pending)  # noqa: SLF001

    def close(self) -> None:
        """End the subscription."""
        self._sub.wake = None
        self._dispatcher._remove(self._sub)  # noqa: SLF001
