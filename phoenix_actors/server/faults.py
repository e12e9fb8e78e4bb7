"""Fault injection for the loopback server: make it misbehave on purpose, in tests.

Everything is off by default. Settings are read by the server's event loop
and may be changed from any thread; :meth:`Faults.reset` turns them all
off. "Replies" are channel ``phx_reply`` frames (join, leave, event and
error replies); heartbeat replies are governed by
:meth:`Faults.stop_heartbeats` alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from phoenix_actors.errors import InvalidArgumentError

__all__ = ["Faults"]


def _count(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidArgumentError(f"{name} must be an int >= 0, got {n!r}")
    return n


class Faults:
    """Switches that make the server drop, delay or cut things.

    The actions :meth:`close_all` and :meth:`abort_all` need a running
    server; the owner wires them with :meth:`attach`.
    """

    def __init__(self) -> None:
        """Create a switchboard with every fault off."""
        self._lock = threading.Lock()
        self._reply_delay = 0.0
        self._drop_replies: int | None = 0  # None = every reply
        self._drop_frames = 0
        self._heartbeats_stopped = False
        self._close_all: Callable[[int, str], None] | None = None
        self._abort_all: Callable[[], None] | None = None

    def attach(self, close_all: Callable[[int, str], None], abort_all: Callable[[], None]) -> None:
        """Wire the actions to a server (done by the server or its runner)."""
        self._close_all = close_all
        self._abort_all = abort_all

    # -- switches (any thread) -------------------------------------------------

    def delay_replies(self, seconds: float) -> None:
        """Hold every channel reply ``seconds`` before sending it (0 turns it off)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise InvalidArgumentError(f"seconds must be a number >= 0, got {seconds!r}")
        with self._lock:
            self._reply_delay = float(seconds)

    def drop_replies(self, n: int | None = None) -> None:
        """Silently drop the next ``n`` channel replies; None drops all until :meth:`reset`."""
        with self._lock:
            self._drop_replies = None if n is None else _count(n, "n")

    def drop_next_frames(self, n: int) -> None:
        """Silently ignore the next ``n`` frames received, on any socket."""
        with self._lock:
            self._drop_frames = _count(n, "n")

    def stop_heartbeats(self) -> None:
        """Stop answering heartbeats (clients then time out and reconnect)."""
        with self._lock:
            self._heartbeats_stopped = True

    def reset(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._reply_delay = 0.0
            self._drop_replies = 0
            self._drop_frames = 0
            self._heartbeats_stopped = False

    # -- actions ----------------------------------------------------------------

    def close_all(self, code: int, reason: str = "") -> None:
        """Close every connected socket with websocket close ``code`` and ``reason``."""
        if self._close_all is None:
            raise RuntimeError("the server is not running")
        self._close_all(code, reason)

    def abort_all(self) -> None:
        """Drop every connection's TCP stream at once, with no close frame."""
        if self._abort_all is None:
            raise RuntimeError("the server is not running")
        self._abort_all()

    # -- read by the server's loop ----------------------------------------------

    @property
    def reply_delay(self) -> float:
        """Seconds each channel reply is held back (0.0: none)."""
        return self._reply_delay

    @property
    def heartbeats_stopped(self) -> bool:
        """True while heartbeats go unanswered."""
        return self._heartbeats_stopped

    def take_reply_drop(self) -> bool:
        """Return True if the reply about to be sent must be dropped (uses up one drop)."""
        if self._drop_replies == 0:  # fast path without the lock
            return False
        with self._lock:
            if self._drop_replies is None:
                return True
            if self._drop_replies > 0:
                self._drop_replies -= 1
                return True
            return False

    def take_frame_drop(self) -> bool:
        """Return True if the frame just received must be ignored (uses up one drop)."""
        if not self._drop_frames:  # fast path without the lock
            return False
        with self._lock:
            if self._drop_frames > 0:
                self._drop_frames -= 1
                return True
            return False
