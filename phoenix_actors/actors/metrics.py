"""Counters: what the client did, for ``client.ask(GetMetrics())``.

Written by the actors and the transport's reader as things happen (under one
lock: a few increments per batch of frames, never per byte), read as one
snapshot. No exporter lives here; ``docs/howto/metrics.md`` shows the shape a
Prometheus or OpenTelemetry exporter takes.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

__all__ = ["RTT_SAMPLES", "Counters"]

RTT_SAMPLES = 1000
"""Heartbeat round trips kept for the percentiles (the most recent)."""


class Counters:
    """Thread-safe counters of one client."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self.totals: Counter[str] = Counter()
        """connects, heartbeats_sent, heartbeats_missed, retries, frames/bytes in and out."""
        self.reconnects: Counter[str] = Counter()
        """Reconnects scheduled, by cause (``close_1006``, ``http_403``, ``heartbeat_timeout``)."""
        self.pushes: Counter[str] = Counter()
        """Push outcomes: ``ok``, ``timeout``, or the PushError status."""
        self.rtts: deque[float] = deque(maxlen=RTT_SAMPLES)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to total ``name``."""
        with self._lock:
            self.totals[name] += n

    def add_io(self, direction: str, frames: int, size: int) -> None:
        """Count ``frames`` frames of ``size`` bytes in all, ``"in"`` or ``"out"``."""
        with self._lock:
            totals = self.totals
            totals[f"frames_{direction}"] += frames
            totals[f"bytes_{direction}"] += size

    def reconnect(self, cause: str) -> None:
        """Count a reconnect scheduled because of ``cause``."""
        with self._lock:
            self.reconnects[cause] += 1

    def push(self, outcome: str) -> None:
        """Count one push outcome."""
        with self._lock:
            self.pushes[outcome] += 1

    def rtt(self, seconds: float) -> None:
        """Record one heartbeat round trip."""
        with self._lock:
            self.rtts.append(seconds)

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], dict[str, int], list[float]]:
        """Copies of the totals, reconnects, pushes and round trips (oldest first)."""
        with self._lock:
            return dict(self.totals), dict(self.reconnects), dict(self.pushes), list(self.rtts)
