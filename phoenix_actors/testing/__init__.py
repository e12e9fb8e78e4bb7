"""Public test kit: a manual clock, an in-memory transport, pytest fixtures."""

from __future__ import annotations

from phoenix_actors.testing.clock import FakeClock

__all__ = ["FakeClock"]
