"""Time, injected: the one module that reads the real clock.

Every timer in the system is driven by a :class:`Clock`, so tests can replace
it with :class:`phoenix_actors.testing.FakeClock` and move time by hand.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time in float seconds."""

    def now(self) -> float:
        """Return the current time in seconds; never goes backwards."""
        ...


class MonotonicClock:
    """The real clock: :func:`time.monotonic`."""

    __slots__ = ()

    def now(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def wall(self) -> float:
        """Return Unix time in seconds (for payloads such as ``online_at``)."""
        return time.time()
