"""Public test kit: a manual clock, an in-memory transport, an event recorder, crash injection.

Also a loop-lag watch for asyncio code (:class:`LoopWatch`).

The pytest fixture ``phoenix_server`` (a bundled loopback server) comes from
the plugin :mod:`phoenix_actors.testing.plugin`, registered on install.
"""

from __future__ import annotations

from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.crash import crash
from phoenix_actors.testing.looplag import LoopLag, LoopWatch
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork, MemoryTransport

__all__ = [
    "EventRecorder",
    "FakeClock",
    "LoopLag",
    "LoopWatch",
    "MemoryNetwork",
    "MemoryTransport",
    "crash",
]
