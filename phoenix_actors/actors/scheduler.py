"""RetrySchedulerActor: every timer in the system, on the injected clock.

Owners arm named timers (``ArmTimer``); when one is due the scheduler tells
its target the message it was given. Arming a name again moves the timer;
the message carries the deadline so a late firing of a moved timer is
recognised as stale by its owner.

With a real clock a small named "ticker" thread waits until the earliest
deadline and tells the actor to fire; with a clock that has
``add_listener`` (``FakeClock``) every ``advance()`` fires due timers, so
tests drive time by hand and nothing waits on real time.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
from typing import Any

import msgspec
import pykka

from phoenix_actors.actors.runtime import Runtime, log
from phoenix_actors.actors.supervision import ChildFailed, ClientActor, Crash, CrashInjectedError

__all__ = ["ArmTimer", "CancelOwner", "CancelTimer", "GetDeadline", "RetrySchedulerActor"]


class ArmTimer(msgspec.Struct, frozen=True):
    """Start or move timer ``(owner, name)``: at ``at``, tell ``target`` ``message``."""

    owner: str
    name: str
    at: float
    target: Any
    message: Any


class CancelTimer(msgspec.Struct, frozen=True):
    """Stop timer ``(owner, name)``, if armed."""

    owner: str
    name: str


class CancelOwner(msgspec.Struct, frozen=True):
    """Stop every timer of ``owner``."""

    owner: str


class GetDeadline(msgspec.Struct, frozen=True):
    """Ask when timer ``(owner, name)`` fires (None if not armed)."""

    owner: str
    name: str


class _Tick(msgspec.Struct, frozen=True):
    """Fire what is due."""


class _Ticker:
    """A thread that waits (real time) for the earliest deadline, then ticks the actor."""

    def __init__(self, runtime: Runtime, ref: pykka.ActorRef[Any]) -> None:
        self._clock = runtime.clock
        self._ref = ref
        self._cond = threading.Condition()
        self._next = math.inf
        self._running = True
        self._thread = threading.Thread(
            target=self._run, name=f"{runtime.name}-ticker", daemon=True
        )
        self._thread.start()

    def set_next(self, at: float) -> None:
        with self._cond:
            self._next = at
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._running:
                    wait = self._next - self._clock.now()
                    if wait <= 0:
                        break
                    self._cond.wait(None if wait == math.inf else wait)
                if not self._running:
                    return
                self._next = math.inf
            try:
                self._ref.tell(_Tick())
            except pykka.ActorDeadError:
                return

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        self._thread.join(timeout)


class RetrySchedulerActor(ClientActor):
    """Owns every timer: heartbeats, push and join timeouts, rejoin, reconnect, retries."""

    def __init__(
        self,
        runtime: Runtime,
        timers: dict[tuple[str, str], ArmTimer] | None = None,
        inbox: list[Any] | None = None,
    ) -> None:
        """Create the scheduler for one client.

        ``timers`` and ``inbox`` are a crashed predecessor's: every timer it
        held fires at its original deadline, then its unread messages are handled.
        """
        super().__init__()
        self.rt = runtime
        self.inherited = inbox
        self._timers: dict[tuple[str, str], ArmTimer] = dict(timers or {})
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, tuple[str, str]]] = [
            (t.at, next(self._seq), key) for key, t in self._timers.items()
        ]
        heapq.heapify(self._heap)
        self._ticker: _Ticker | None = None
        self._listener: Any = None

    def on_start(self) -> None:
        """Hook into the clock: a listener for a manual clock, else a ticker thread."""
        self.name_thread("scheduler")
        add_listener = getattr(self.rt.clock, "add_listener", None)
        if add_listener is not None:
            ref = self.actor_ref

            def listener() -> None:
                with contextlib.suppress(pykka.ActorDeadError):
                    ref.tell(_Tick())

            self._listener = listener
            add_listener(listener)
        else:
            self._ticker = _Ticker(self.rt, self.actor_ref)
        self.replay_inbox()
        self._fire_due()

    def on_stop(self) -> None:
        """Stop the ticker thread or detach from the manual clock."""
        if self._ticker is not None:
            self._ticker.stop()
        if self._listener is not None:
            self.rt.clock.remove_listener(self._listener)  # type: ignore[attr-defined]

    def on_failure(self, *args: object) -> None:
        """Stop the ticker; report the crash with every armed timer and the unread inbox."""
        inbox = self.take_inbox()
        self.on_stop()
        failure = ChildFailed("scheduler", None, repr(args[1]), dict(self._timers), inbox)
        self.rt.tell(self.rt.supervisor, failure)

    def on_receive(self, message: Any) -> Any:
        """Arm, cancel, fire and answer deadline queries."""
        match message:
            case ArmTimer(owner=owner, name=name, at=at):
                key = (owner, name)
                self._timers[key] = message
                heapq.heappush(self._heap, (at, next(self._seq), key))
                self._fire_due()
            case CancelTimer(owner=owner, name=name):
                self._timers.pop((owner, name), None)
            case CancelOwner(owner=owner):
                for key in [k for k in self._timers if k[0] == owner]:
                    del self._timers[key]
            case _Tick():
                self._fire_due()
            case Crash():
                raise CrashInjectedError("scheduler")
            case GetDeadline(owner=owner, name=name):
                timer = self._timers.get((owner, name))
                return None if timer is None else timer.at
            case _:
                log.warning("scheduler: unknown message %r", type(message).__name__)
        return None

    def _fire_due(self) -> None:
        now = self.rt.clock.now()
        heap = self._heap
        while heap:
            at, _, key = heap[0]
            timer = self._timers.get(key)
            if timer is None or timer.at != at:
                heapq.heappop(heap)  # cancelled or moved
                continue
            if at > now:
                break
            heapq.heappop(heap)
            del self._timers[key]
            if not self.rt.tell(timer.target, timer.message):
                log.debug("scheduler: timer %s for a stopped actor", key)
        if self._ticker is not None:
            self._ticker.set_next(heap[0][0] if heap else math.inf)
