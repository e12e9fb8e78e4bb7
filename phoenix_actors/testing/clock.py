"""A manual clock for tests: time moves only when the test says so."""

from __future__ import annotations

import threading
from collections.abc import Callable

from phoenix_actors.errors import InvalidArgumentError

__all__ = ["FakeClock"]


class FakeClock:
    """A :class:`phoenix_actors.clock.Clock` moved by hand with :meth:`advance`.

    Like trio's ``MockClock``, it never goes backwards. Listeners (the
    scheduler) are called after every move so due timers fire at once.

    Args:
        start: the initial reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        """Create a clock reading ``start``."""
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        """Return the current fake time in seconds."""
        return self._now

    def wall(self) -> float:
        """Return the fake time as Unix seconds (the same number)."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every listener.

        Raises:
            InvalidArgumentError: ``seconds`` is negative.
        """
        if seconds < 0:
            msg = f"seconds must be >= 0, got {seconds!r}: a clock never goes backwards"
            raise InvalidArgumentError(msg)
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every :meth:`advance` (from the advancing thread)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
