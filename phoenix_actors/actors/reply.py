"""Reply: the one-shot answer slot an ask waits on, with a deadline the answerer can extend.

The facade creates a :class:`Reply`, sends it inside a
:class:`~phoenix_actors.actors.channel.Call`, and waits. The actor that takes
the command announces, with :meth:`Reply.expect_within`, the protocol timeout
that will answer it (a join's or a push's own timeout), so the ask's guard
never fires before the protocol outcome: the guard is only there for a dead
actor. Completion is a released lock (the cheapest wake-up CPython has), and
done-callbacks let an asyncio front end bridge it without a thread per ask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import AskTimeoutError

__all__ = ["GUARD_MARGIN", "Call", "Reply", "gather", "resolved", "then"]

GUARD_MARGIN = 5.0
"""Real seconds an ask waits beyond the protocol timeout announced for it."""

_real = MonotonicClock()
_UNSET: Any = object()


class Reply:
    """A one-shot result slot: set once (value or exception), waited on with a deadline."""

    __slots__ = ("_callbacks", "_done", "_exc", "_guard", "_lock", "_parents", "_value")

    def __init__(self) -> None:
        """Create an unanswered reply; its guard is :data:`GUARD_MARGIN` from now."""
        self._done = threading.Lock()
        self._done.acquire()  # released once, by the answer
        self._lock = threading.Lock()
        self._value: Any = _UNSET
        self._exc: BaseException | None = None
        self._guard = _real.now() + GUARD_MARGIN
        self._callbacks: list[Callable[[Reply], None]] | None = None
        self._parents: list[Reply] | None = None  # replies combined from this one

    # --- the answering side (an actor thread) ----------------------------------------

    def expect_within(self, seconds: float) -> None:
        """Announce that the answer comes within ``seconds`` (a protocol timeout)."""
        self._guard = max(self._guard, _real.now() + seconds + GUARD_MARGIN)
        for parent in self._parents or ():
            parent.expect_until(self._guard)

    def expect_until(self, guard: float) -> None:
        """Move the guard to at least ``guard`` (real monotonic seconds)."""
        if guard > self._guard:
            self._guard = guard
            for parent in self._parents or ():
                parent.expect_until(guard)

    def set(self, value: Any = None) -> None:
        """Answer with ``value``; a second answer is ignored (exactly-once)."""
        self._complete(value, None)

    def set_exception(
        self, exc: BaseException | None = None, *, exc_info: tuple[Any, ...] | None = None
    ) -> None:
        """Answer with an exception (pykka's ``exc_info=`` form is accepted too)."""
        if exc is None and exc_info is not None:
            exc = exc_info[1]
        self._complete(_UNSET, exc or RuntimeError("answered with no exception"))

    def _complete(self, value: Any, exc: BaseException | None) -> None:
        with self._lock:
            if self._value is not _UNSET or self._exc is not None:
                return
            self._value, self._exc = value, exc
            callbacks, self._callbacks = self._callbacks, None
        self._done.release()
        for callback in callbacks or ():
            callback(self)

    # --- the waiting side --------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether an answer arrived."""
        return self._value is not _UNSET or self._exc is not None

    def add_done_callback(self, callback: Callable[[Reply], None]) -> None:
        """Call ``callback(self)`` once answered (at once, here, if it already is)."""
        with self._lock:
            if not self.done:
                self._callbacks = [*(self._callbacks or ()), callback]
                return
        callback(self)

    @property
    def guard(self) -> float:
        """When a wait without a timeout gives up (real monotonic seconds)."""
        return self._guard

    def exception(self) -> BaseException | None:
        """The exception a done reply was answered with, if any."""
        return self._exc

    def result(self) -> Any:
        """The answer of a done reply (raises its exception)."""
        if self._exc is not None:
            raise self._exc
        return self._value

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the answer and return it (or raise its exception).

        Args:
            timeout: seconds to wait; None waits until the guard, which the
                answerer moves to its protocol timeout plus :data:`GUARD_MARGIN`.

        Raises:
            AskTimeoutError: no answer in time.
        """
        if timeout is not None:
            if not self._done.acquire(timeout=max(0.0, timeout)):
                raise AskTimeoutError(f"no answer within {timeout} s")
            self._done.release()
            return self.result()
        while True:
            left = self._guard - _real.now()
            if left > 0 and self._done.acquire(timeout=left):
                self._done.release()
                return self.result()
            if self._guard <= _real.now():  # not moved meanwhile
                raise AskTimeoutError("no answer before the protocol deadline (actor gone?)")


class Call(msgspec.Struct, frozen=True):
    """A command (or query) whose answer completes ``reply_to`` later: an ask, by tell."""

    command: Any
    reply_to: Reply


def resolved(value: Any = None) -> Reply:
    """A reply answered already with ``value``."""
    reply = Reply()
    reply.set(value)
    return reply


def gather(
    replies: Sequence[Reply],
    combine: Callable[[list[Any]], Any],
    *,
    skip: type[BaseException] | None = None,
) -> Reply:
    """A reply answered with ``combine(results)`` once every one of ``replies`` is.

    A reply answered with an exception of type ``skip`` is left out of the
    results; any other exception answers the combined reply. The combined
    reply's guard follows the latest of theirs.
    """
    parent = Reply()
    if not replies:
        parent.set(combine([]))
        return parent
    left = [len(replies)]
    lock = threading.Lock()

    def one_done(_: Reply) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        results = []
        for reply in replies:
            exc = reply.exception()
            if exc is None:
                results.append(reply.result())
            elif skip is None or not isinstance(exc, skip):
                parent.set_exception(exc)
                return
        try:
            parent.set(combine(results))
        except Exception as exc:  # noqa: BLE001 - the combiner's error is the answer
            parent.set_exception(exc)

    for reply in replies:
        reply._parents = [*(reply._parents or ()), parent]  # noqa: SLF001
        parent.expect_until(reply.guard)
    for reply in replies:
        reply.add_done_callback(one_done)
    return parent


def then(reply: Reply, step: Callable[[Any], Reply]) -> Reply:
    """A reply answered by ``step(result)``'s reply, once ``reply`` is answered."""
    out = Reply()
    out.expect_until(reply.guard)

    def first_done(first: Reply) -> None:
        exc = first.exception()
        if exc is not None:
            out.set_exception(exc)
            return
        try:
            second = step(first.result())
        except Exception as err:  # noqa: BLE001 - the step's error is the answer
            out.set_exception(err)
            return
        second._parents = [*(second._parents or ()), out]  # noqa: SLF001
        out.expect_until(second.guard)
        second.add_done_callback(lambda r: _copy(r, out))

    reply._parents = [*(reply._parents or ()), out]  # noqa: SLF001
    reply.add_done_callback(first_done)
    return out


def _copy(source: Reply, target: Reply) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set(source.result())
