"""The messages children send their supervisor (a module of its own, imported by both sides).

The supervisor imports every child actor to start it, so these cannot live
in ``supervisor.py`` without an import cycle.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ChannelFinished", "ChildFailed", "Reroute"]


class ChildFailed(msgspec.Struct, frozen=True):
    """A child crashed; ``state`` is what to restart it from."""

    kind: str
    topic: str | None
    error: str
    state: Any


class ChannelFinished(msgspec.Struct, frozen=True):
    """The channel ``urn`` of ``topic`` is closed for good: stop it."""

    topic: str
    urn: str


class Reroute(msgspec.Struct, frozen=True):
    """A command reached a channel that closed for good: hand it to a fresh one."""

    topic: str
    message: Any
