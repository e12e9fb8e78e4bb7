"""EventRecorder: records a client's events and waits for them with deadlines."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from phoenix_actors.errors import AskTimeoutError
from phoenix_actors.messages import Event

__all__ = ["EventRecorder"]

E = TypeVar("E", bound=Event)


class EventRecorder:
    """Subscribe to a client (``client.subscribe(recorder)``) and wait on what arrives.

    Each :meth:`wait_for` consumes matching events in order, so a test can
    wait for the same type twice and get two different events. No sleeps:
    waits are on a condition with a deadline.
    """

    def __init__(self) -> None:
        """Create an empty recorder."""
        self.events: list[Event] = []
        self._taken: set[int] = set()
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        """Record ``event`` (the subscriber callback)."""
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of_type(self, event_type: type[E]) -> list[E]:
        """Every recorded event of ``event_type``, oldest first."""
        with self._cond:
            return [e for e in self.events if isinstance(e, event_type)]

    def wait_for(
        self,
        event_type: type[E],
        predicate: Callable[[E], bool] | None = None,
        timeout: float = 10.0,
    ) -> E:
        """Return the oldest not-yet-taken event of ``event_type`` matching ``predicate``.

        Raises:
            AskTimeoutError: none arrived within ``timeout`` seconds (the
                message lists the events seen).
        """
        found: list[E] = []

        def ready() -> bool:
            for i, event in enumerate(self.events):
                if i in self._taken or not isinstance(event, event_type):
                    continue
                if predicate is None or predicate(event):
                    self._taken.add(i)
                    found.append(event)
                    return True
            return False

        with self._cond:
            if not self._cond.wait_for(ready, timeout=timeout):
                seen = [type(e).__name__ for e in self.events[-30:]]
                msg = f"no {event_type.__name__} within {timeout} s; last events: {seen}"
                raise AskTimeoutError(msg)
        return found[0]

    def clear(self) -> None:
        """Forget every recorded event."""
        with self._cond:
            self.events.clear()
            self._taken.clear()
