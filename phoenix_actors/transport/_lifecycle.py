"""What every transport does the same way: its state, its threads, its sink calls.

:class:`TransportLifecycle` is the base of
:class:`~phoenix_actors.transport.websocket.WebSocketTransport`,
:class:`~phoenix_actors.transport.longpoll.LongPollTransport` and
:class:`~phoenix_actors.testing.transport.MemoryTransport`: the
``ready_state`` property, the once-only :meth:`~Transport.open` check, the
"not open" check of ``send``, a close before open, starting and joining the
threads, and calling the sink so that a sink's bug never kills the thread.
Each transport keeps its own lock and calls the ``_``-methods under it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import ConnectionLostError
from phoenix_actors.transport.base import ReadyState, TransportSink

__all__ = ["TransportLifecycle", "redact_url"]

_log = logging.getLogger("phoenix_actors.transport")
_clock = MonotonicClock()


def redact_url(url: str) -> str:
    """Return ``scheme://host:port/path``: no credentials, no query string."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


class TransportLifecycle:
    """Base of the transports: state checks, threads and guarded sink calls.

    A subclass sets ``_url``, ``_state`` (to ``"connecting"``), ``_started``
    (False) and ``_sink`` in its constructor and lists its threads in :meth:`_threads`.
    """

    _url: str
    _state: ReadyState
    _started: bool
    _sink: TransportSink

    def __repr__(self) -> str:
        """Name the class, the endpoint without its query string, and the state."""
        return f"<{type(self).__name__} {redact_url(self._url)} {self._state}>"

    @property
    def ready_state(self) -> ReadyState:
        """``"connecting"``, ``"open"``, ``"closing"`` or ``"closed"``."""
        return self._state

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the transport's threads; True if they ended."""
        deadline = _clock.now() + timeout
        for thread in self._threads():
            if thread is not None:
                thread.join(max(0.0, deadline - _clock.now()))
                if thread.is_alive():
                    return False
        return True

    def _threads(self) -> tuple[threading.Thread | None, ...]:
        """The threads :meth:`join` waits for (None for one not started)."""
        raise NotImplementedError

    # -- under the subclass's lock ---------------------------------------------

    def _mark_started(self) -> None:
        """Record that :meth:`open` was called (under the lock).

        Raises:
            RuntimeError: :meth:`open` was already called, or the transport
                was closed before it was opened.
        """
        if self._started:
            raise RuntimeError("a transport opens once: make a new one to reconnect")
        if self._state == "closed":
            raise RuntimeError("transport was closed before it was opened")
        self._started = True

    def _check_open(self) -> None:
        """Raise :class:`ConnectionLostError` unless the transport is open (under the lock)."""
        if self._state != "open":
            raise ConnectionLostError(f"cannot send: transport is {self._state}")

    def _close_unopened(self) -> bool:
        """Mark a never-opened transport closed (no callbacks); True if it was one."""
        if self._started:
            return False
        self._state = "closed"
        return True

    @staticmethod
    def _start_thread(target: Callable[[], None], name: str) -> threading.Thread:
        """Start one named daemon thread running ``target``.

        A daemon, as the client's actor threads are: the interpreter joins
        non-daemon threads *before* the atexit hook that stops a client left
        running, so a non-daemon reader would keep such a process alive.
        :meth:`join` still waits for it on a normal close.
        """
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    # -- on the transport's own thread -----------------------------------------

    def _call_sink(self, name: str, *args: Any) -> None:
        """Call ``sink.<name>(self, *args)``; log what it raises rather than die of it."""
        try:
            getattr(self._sink, name)(self, *args)
        except Exception:  # noqa: BLE001 (a sink's bug must not kill the transport's thread)
            _log.exception("transport sink %s raised", name)

    def _end_batch(self) -> None:
        """Call the sink's optional ``on_batch_end`` (see TransportSink)."""
        if getattr(self._sink, "on_batch_end", None) is not None:
            self._call_sink("on_batch_end")
