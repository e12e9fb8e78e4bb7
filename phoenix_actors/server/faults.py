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

    The actions :meth:`close_all`, :meth:`abort_all` and :meth:`break_all` need a running
    server; the owner wires them with :meth:`attach`.
    """

    def __init__(self) -> None:
        """Create a switchboard with every fault off."""
        self._lock = threading.Lock()
        self._reply_delay = 0.0
        self._drop_replies: int | None = 0  # None = every reply
        self._drop_frames = 0
        self._heartbeats_stopped = False
        self._handshake_failures = 0
        self._handshake_status = 500
        self._handshake_delay = 0.0
        self._close_all: Callable[[int, str], None] | None = None
        self._abort_all: Callable[[], None] | None = None
        self._break_all: Callable[[], None] | None = None

    def attach(
        self,
        close_all: Callable[[int, str], None],
        abort_all: Callable[[], None],
        break_all: Callable[[], None] | None = None,
    ) -> None:
        """Wire the actions to a server (done by the server or its runner)."""
        self._close_all = close_all
        self._abort_all = abort_all
        self._break_all = break_all

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

    def fail_handshakes(self, n: int, status: int = 500, delay: float = 0.0) -> None:
        """Answer the next ``n`` websocket upgrades with HTTP ``status`` after ``delay`` seconds.

        The request is held for ``delay`` seconds first (the client stays
        *connecting* meanwhile), then refused without an upgrade: the
        client's transport reports an error and a close (1006).
        """
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise InvalidArgumentError(f"status must be an HTTP error status, got {status!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise InvalidArgumentError(f"delay must be a number >= 0, got {delay!r}")
        with self._lock:
            self._handshake_failures = _count(n, "n")
            self._handshake_status = status
            self._handshake_delay = float(delay)

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
            self._handshake_failures = 0

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

    def break_all(self) -> None:
        """Write a websocket frame with a reserved opcode to every websocket connection.

        The frame is a protocol error (RFC 6455 section 5.2): the client's
        websocket library fails the connection (its error path, then a
        close, 1002 for most libraries). Long-poll sessions are untouched.
        """
        if self._break_all is None:
            raise RuntimeError("the server is not running")
        self._break_all()

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

    def take_handshake_failure(self) -> tuple[int, float] | None:
        """``(status, delay)`` if this websocket upgrade must fail (uses up one), else None."""
        if not self._handshake_failures:  # fast path without the lock
            return None
        with self._lock:
            if self._handshake_failures > 0:
                self._handshake_failures -= 1
                return self._handshake_status, self._handshake_delay
            return None

    def take_frame_drop(self) -> bool:
        """Return True if the frame just received must be ignored (uses up one drop)."""
        if not self._drop_frames:  # fast path without the lock
            return False
        with self._lock:
            if self._drop_frames > 0:
                self._drop_frames -= 1
                return True
            return False
