"""AsyncClient: the same client for asyncio code, with no thread per call.

The actors underneath are :class:`~phoenix_actors.client.Client`'s: no
Phoenix rule is implemented twice. What differs is how a caller waits:

* ``await client.ask(...)`` sends at once (:meth:`Client.submit`) and awaits
  the answer's :class:`~phoenix_actors.actors.reply.Reply`, bridged to the
  running loop by a done-callback (``call_soon_threadsafe``): no pool thread
  is held while an ask is in flight. Cancelling the await frees the caller at
  once; the command itself still ends with its outcome event.
* ``client.tell(...)`` is a plain method: it never blocks and never awaits.
* ``async for event in client.events()`` drains a bounded subscription on the
  loop, woken once per wait, and yields control every few events so a flood
  never holds the loop.
* ``params`` and ``auth_token`` may be async callables: they are awaited on
  this loop on each connect, while the socket actor waits for nothing.

Example:
    >>> async with AsyncClient("ws://127.0.0.1:4000/socket") as client:  # doctest: +SKIP
    ...     await client.ask(Join("room:lobby"))
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Self, TypeVar, overload

import msgspec

from phoenix_actors.actors.dispatch import DEFAULT_BACKLOG, Feed, Overflow, Subscriber
from phoenix_actors.actors.reply import Reply
from phoenix_actors.client import Client
from phoenix_actors.clock import Clock, MonotonicClock
from phoenix_actors.errors import AskTimeoutError
from phoenix_actors.handles import AsyncChannel
from phoenix_actors.messages import (
    Command,
    ConnectOptions,
    Event,
    Join,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveOk,
    PhoenixMsg,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    Query,
    Refusal,
)
from phoenix_actors.transport.base import TransportFactory

__all__ = ["AsyncClient"]

T = TypeVar("T")

_COMPACT_AT = 1024
"""Deadline-heap size at which answered asks are swept out (then every as many more)."""

_YIELD_EVERY = 32
"""Events an ``events()`` iterator yields before it lets the loop run other tasks."""

_real = MonotonicClock()


class AsyncClient:
    """A Phoenix Channels client for asyncio: ``await ask``, plain ``tell``, ``async for``.

    Takes the same arguments as :class:`~phoenix_actors.client.Client`
    (``params`` and ``options.auth_token`` may also be async callables).
    Create it in a coroutine (it binds the running loop), preferably as
    ``async with AsyncClient(url) as client``.

    Raises:
        InvalidArgumentError: the endpoint is not a ws/wss/http/https URL.
        InvalidTypeError: an argument has the wrong type.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        params: Mapping[str, Any]
        | Callable[[], Mapping[str, Any]]
        | Callable[[Refusal | None], Mapping[str, Any]]
        | Callable[[], Awaitable[Mapping[str, Any]]]
        | None = None,
        options: ConnectOptions | None = None,
        clock: Clock | None = None,
        transport: TransportFactory | None = None,
        longpoll_transport: TransportFactory | None = None,
        restart_limit: tuple[int, float] = (5, 10.0),
    ) -> None:
        """Start the actors; nothing connects yet."""
        self.client = Client(
            endpoint,
            params=params,  # type: ignore[arg-type]  # async callables are awaited on the loop
            options=options,
            clock=clock,
            transport=transport,
            longpoll_transport=longpoll_transport,
            restart_limit=restart_limit,
        )
        """The blocking client underneath (same actors), for code that is not async."""
        with contextlib.suppress(RuntimeError):  # no running loop: bound on first await
            self._bind(asyncio.get_running_loop())

    def _bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
        self.client._rt.loop = loop  # noqa: SLF001 - where async params are awaited
        return loop

    @property
    def name(self) -> str:
        """Prefix of this client's thread names."""
        return self.client.name

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Return the client (bound to the running loop)."""
        self._bind(asyncio.get_running_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the client."""
        await self.stop()

    async def stop(self, timeout: float = 15.0) -> None:
        """Stop every actor and thread of this client (idempotent).

        The blocking part runs in one worker thread, so the loop stays free.

        Raises:
            AskTimeoutError: a subscriber callback was still running after ``timeout``.
        """
        await asyncio.to_thread(self.client.stop, timeout)

    # --- channel handles ---------------------------------------------------------------

    def channel(
        self,
        topic: str,
        *,
        payload: Any = msgspec.UNSET,
        events: Sequence[str] | msgspec.UnsetType | None = msgspec.UNSET,
        timeout: float | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> AsyncChannel:
        """A handle on ``topic`` with awaitable ``join()``, ``push()``, ``leave()``."""
        return AsyncChannel(self, topic, payload=payload, events=events, timeout=timeout)

    # --- tell / ask ------------------------------------------------------------------

    def tell(self, message: Command) -> None:
        """Send a command; never blocks, never awaits (see :meth:`Client.tell`)."""
        self.client.tell(message)

    @overload
    async def ask(
        self, message: Join, timeout: float | None = None
    ) -> JoinOk | JoinError | JoinTimeout: ...
    @overload
    async def ask(
        self, message: Push, timeout: float | None = None
    ) -> PushOk | PushError | PushTimeout: ...
    @overload
    async def ask(self, message: Leave, timeout: float | None = None) -> LeaveOk: ...
    @overload
    async def ask(self, message: Query[T], timeout: float | None = None) -> T: ...
    @overload
    async def ask(self, message: Command, timeout: float | None = None) -> Any: ...

    async def ask(self, message: PhoenixMsg, timeout: float | None = None) -> Any:
        """Send a command or query and await its answer (see :meth:`Client.ask`).

        Cancelling the await frees the caller at once; the command still ends
        with its outcome event.

        Raises:
            AskTimeoutError: no answer in time.
            InvalidTypeError: ``message`` is not a command or query.
            PayloadTooLargeError: a push over ``ConnectOptions.max_push_size``.
            ClientClosedError: the client was stopped.
        """
        reply = self.client.submit(message)
        return await wait_reply(reply, timeout, self._bind(asyncio.get_running_loop()))

    # --- events ----------------------------------------------------------------------

    def subscribe(
        self,
        subscriber: Subscriber | Callable[[Event], Awaitable[object]],
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> Callable[[], None]:
        """Deliver every event to ``subscriber``; return a function that unsubscribes.

        A coroutine function is run on this loop for each event (in order of
        arrival, each scheduled as its own task); a plain callable or an
        ActorRef is handled as by :meth:`Client.subscribe`.
        """
        if asyncio.iscoroutinefunction(subscriber):
            loop = self._bind(asyncio.get_running_loop())
            handler = subscriber

            def schedule(event: Event) -> None:
                with contextlib.suppress(RuntimeError):  # the loop closed
                    asyncio.run_coroutine_threadsafe(handler(event), loop)

            return self.client.subscribe(schedule, backlog=backlog, overflow=overflow)
        return self.client.subscribe(subscriber, backlog=backlog, overflow=overflow)

    def events(
        self,
        timeout: float | None = None,
        *,
        backlog: int = DEFAULT_BACKLOG,
        overflow: Overflow = "drop_oldest",
    ) -> AsyncIterator[Event]:
        """Iterate (``async for``) over events as they arrive; end after ``timeout`` s without one.

        The subscription starts with this call (events emitted between the
        call and the first iteration are kept) and ends with the iterator
        or when the client stops; ``backlog`` and ``overflow`` as for
        :meth:`Client.subscribe`.
        """
        loop = self._bind(asyncio.get_running_loop())
        feed = self.client._rt.events.feed(backlog=backlog, overflow=overflow)  # noqa: SLF001
        return _drain(feed, timeout, loop)


async def _drain(
    feed: Feed, timeout: float | None, loop: asyncio.AbstractEventLoop
) -> AsyncIterator[Event]:
    try:
        while True:
            events = feed.take(_YIELD_EVERY)
            if events:
                for event in events:
                    yield event
                await asyncio.sleep(0)  # a flood never holds the loop
                continue
            if feed.ended:
                return
            ready = asyncio.Event()
            if not feed.arm(partial(loop.call_soon_threadsafe, ready.set)):
                continue
            try:
                await asyncio.wait_for(ready.wait(), timeout)
            except TimeoutError:
                return
    finally:
        feed.close()


class _Bridge:
    """Hands answers from actor threads to one loop, and keeps the asks' deadlines.

    ``call_soon_threadsafe`` writes to the loop's self-pipe each time; under
    load many answers arrive between two loop turns, so they are queued and
    one wake-up drains them all. Deadlines are one heap with one loop timer
    (at the earliest), not a timer per ask.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._queue: list[Callable[[], None]] = []
        self._scheduled = False
        self._deadlines: list[tuple[float, int, _Wait]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop soon (from any thread); dropped if the loop closed."""
        with self._lock:
            self._queue.append(fn)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop closed: nobody waits any more
            with self._lock:
                self._queue.clear()
                self._scheduled = False

    def _drain(self) -> None:
        with self._lock:
            queue, self._queue = self._queue, []
            self._scheduled = False
        for fn in queue:
            fn()

    def watch(self, wait: _Wait) -> None:
        """Fail ``wait`` at its deadline unless answered first (on the loop)."""
        at = wait.due()
        heap = self._deadlines
        if len(heap) >= _COMPACT_AT and len(heap) % _COMPACT_AT == 0:
            # answered asks stay until their deadline: drop them, so the heap is
            # bounded by the asks in flight, not by the asks of the last guard period
            heap[:] = [entry for entry in heap if not entry[2].future.done()]
            heapq.heapify(heap)
        heapq.heappush(heap, (at, next(self._seq), wait))
        if at < self._timer_at:
            self._arm(at)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_later(max(0.0, at - _real.now()), self._sweep)

    def _sweep(self) -> None:
        self._timer, self._timer_at = None, math.inf
        heap, now = self._deadlines, _real.now()
        while heap and heap[0][0] <= now:
            _, _, wait = heapq.heappop(heap)
            if wait.future.done():
                continue
            at = wait.due()
            if at > now:  # the answerer moved the guard: wait on
                heapq.heappush(heap, (at, next(self._seq), wait))
            else:
                wait.expire()
        while heap and heap[0][2].future.done():
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])


class _Wait:
    """One awaited reply: its loop future and its deadline."""

    __slots__ = ("deadline", "future", "reply", "timeout")

    def __init__(self, reply: Reply, future: asyncio.Future[Any], timeout: float | None) -> None:
        self.reply = reply
        self.future = future
        self.timeout = timeout
        self.deadline = None if timeout is None else _real.now() + timeout

    def due(self) -> float:
        return self.reply.guard if self.deadline is None else self.deadline

    def settle(self) -> None:
        future = self.future
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        exc = self.reply.exception()
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(self.reply.result())

    def expire(self) -> None:
        what = (
            "the protocol deadline (actor gone?)" if self.timeout is None else f"{self.timeout} s"
        )
        self.future.set_exception(AskTimeoutError(f"no answer within {what}"))


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Bridge] = (
    weakref.WeakKeyDictionary()
)


def _bridge(loop: asyncio.AbstractEventLoop) -> _Bridge:
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges.setdefault(loop, _Bridge(loop))
    return bridge


async def wait_reply(reply: Reply, timeout: float | None, loop: asyncio.AbstractEventLoop) -> Any:
    """Await ``reply`` on ``loop``: its answer, or its exception.

    Args:
        reply: the reply to await.
        timeout: seconds; None waits until the reply's guard (its protocol
            timeout plus the guard margin), which the answerer may move.
        loop: the running loop (the answer comes from an actor thread).

    Raises:
        AskTimeoutError: no answer in time.
    """
    bridge = _bridge(loop)
    wait = _Wait(reply, loop.create_future(), timeout)
    bridge.watch(wait)
    reply.add_done_callback(lambda _: bridge.post(wait.settle))
    try:
        return await wait.future
    finally:
        if not wait.future.done():
            wait.future.cancel()
