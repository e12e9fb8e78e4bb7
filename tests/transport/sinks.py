"""The recording TransportSink shared by the transport and long-poll tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from phoenix_actors.errors import TransportError
from phoenix_actors.transport import Transport

WAIT = 5.0  # generous bound for every wait; a passing test never reaches it

Event = tuple[Any, ...]


class Recorder:
    """A TransportSink that records every callback with the thread it ran on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def _add(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def on_open(self, transport: Transport) -> None:
        self._add(("open",))

    def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:
        self._add(("message", data, binary))

    def on_error(self, transport: Transport, error: TransportError) -> None:
        self._add(("error", error))

    def on_close(self, transport: Transport, code: int, reason: str, clean: bool) -> None:
        self._add(("close", code, reason, clean))

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = WAIT) -> Event:
        with self._cond:
            found: list[Event] = []

            def seen() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            if not self._cond.wait_for(seen, timeout):
                raise AssertionError(f"not seen within {timeout}s; events: {self.events}")
            return found[0]

    def wait_kind(self, kind: str, timeout: float = WAIT) -> Event:
        return self.wait_for(lambda e: e[0] == kind, timeout)

    def messages(self) -> list[tuple[bytes, bool]]:
        with self._cond:
            return [(e[1], e[2]) for e in self.events if e[0] == "message"]

    def wait_messages(self, count: int, timeout: float = WAIT) -> list[tuple[bytes, bool]]:
        with self._cond:
            if not self._cond.wait_for(
                lambda: sum(e[0] == "message" for e in self.events) >= count, timeout
            ):
                raise AssertionError(f"wanted {count} messages; events: {self.events}")
        return self.messages()

    def kinds(self) -> list[str]:
        with self._cond:
            return [e[0] for e in self.events]
