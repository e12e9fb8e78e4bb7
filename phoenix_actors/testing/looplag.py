"""LoopWatch: how late an asyncio loop runs, and the longest CPU time one callback holds it.

A probe task sleeps ``interval`` in a loop and records how late it wakes:
that lateness is what every other task on the loop suffers, whatever the
cause (a callback that runs long, the GIL held by other threads, the OS
giving the CPU to another process). To tell the causes apart, the watch
also times the CPU each loop callback uses (``time.thread_time``): a
callback holding the loop shows there; time spent waiting for the GIL or
for a CPU does not.

Example:
    >>> async with LoopWatch() as watch:  # doctest: +SKIP
    ...     await work()
    >>> watch.result().longest_callback < 0.005  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any, Self

import msgspec

__all__ = ["LoopLag", "LoopWatch"]

_active = threading.Lock()  # one watch at a time: it wraps a class-wide method


class LoopLag(msgspec.Struct, frozen=True):
    """What one :class:`LoopWatch` measured (all in seconds)."""

    samples: int
    """How many times the probe woke."""
    p50: float
    """Median lateness of the probe."""
    p99: float
    """99th percentile lateness of the probe (nearest rank)."""
    max: float
    """Worst lateness of the probe."""
    longest_callback: float
    """The most CPU time one callback on the watched loop used."""
    callbacks: int
    """How many callbacks ran on the watched loop meanwhile."""


class LoopWatch:
    """Measure the running loop's lateness and its longest callback, as ``async with``.

    Only one watch runs at a time in a process (it wraps
    ``asyncio.Handle._run`` while active, and counts only the callbacks of
    the loop it was entered on).

    Raises:
        RuntimeError: entered while another watch is active.
    """

    def __init__(self, interval: float = 0.001) -> None:
        """Probe every ``interval`` seconds."""
        self.interval = interval
        self._lags: list[float] = []
        self._longest = 0.0
        self._callbacks = 0
        self._stop = asyncio.Event()
        self._probe: asyncio.Task[None] | None = None
        self._original: Any = None

    async def __aenter__(self) -> Self:
        """Start the probe and the callback timer."""
        if not _active.acquire(blocking=False):
            raise RuntimeError("another LoopWatch is active")
        thread = threading.get_ident()
        original = self._original = asyncio.Handle._run  # noqa: SLF001
        clock = time.thread_time

        def timed(handle: asyncio.Handle) -> None:
            if threading.get_ident() != thread:
                original(handle)
                return
            start = clock()
            try:
                original(handle)
            finally:
                used = clock() - start
                self._callbacks += 1
                self._longest = max(self._longest, used)

        try:
            self._probe = asyncio.create_task(self._run_probe())
        except BaseException:
            _active.release()  # entered nothing: the next watch may start
            raise
        asyncio.Handle._run = timed  # type: ignore[assignment,method-assign]  # noqa: SLF001
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the probe; restore the loop's callbacks."""
        self._stop.set()
        try:
            if self._probe is not None:
                await self._probe
        finally:
            asyncio.Handle._run = self._original  # type: ignore[method-assign]  # noqa: SLF001
            _active.release()

    async def _run_probe(self) -> None:
        interval = self.interval
        while not self._stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(interval)
            self._lags.append(max(0.0, time.perf_counter() - start - interval))

    def result(self) -> LoopLag:
        """The figures so far (zeros before the first probe)."""
        ordered = sorted(self._lags)

        def rank(q: float) -> float:
            if not ordered:
                return 0.0
            return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

        return LoopLag(
            samples=len(ordered),
            p50=rank(0.5),
            p99=rank(0.99),
            max=ordered[-1] if ordered else 0.0,
            longest_callback=self._longest,
            callbacks=self._callbacks,
        )
