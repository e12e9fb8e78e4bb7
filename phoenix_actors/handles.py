"""Channel handles: ``client.channel(topic)``, sugar over the messages (phoenix.js style).

A handle holds a topic and its join options; every call is the message it
stands for (``ch.push(...)`` is ``client.ask(Push(topic, ...))``), so the
handle adds no state and no rule of its own. ``ch.on(event, callback)`` and
``ch.presence.on_sync(callback)`` are served by one subscription per client
(a router keyed by topic and event), on the client's event thread.

For :class:`~phoenix_actors.AsyncClient`, :class:`AsyncChannel` has the
same methods, awaitable, and callbacks may be coroutine functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from phoenix_actors.errors import InvalidTypeError
from phoenix_actors.messages import (
    ChannelEvent,
    Drop,
    Event,
    GetPresenceState,
    Join,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveOk,
    Presence,
    PresenceSynced,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    RetryStrategy,
    check_topic,
)

if TYPE_CHECKING:
    from phoenix_actors.async_client import AsyncClient
    from phoenix_actors.client import Client

__all__ = ["AsyncChannel", "AsyncChannelPresence", "Channel", "ChannelPresence"]

Handler = Callable[[Any], object]


class _Router:
    """One subscription per client: routes channel events and presence syncs to handlers."""

    def __init__(self, subscribe: Callable[[Callable[[Event], None]], Callable[[], None]]) -> None:
        self._subscribe = subscribe
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], tuple[Handler, ...]] = {}
        self._syncs: dict[str, tuple[Handler, ...]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def _deliver(self, event: Event) -> None:
        if isinstance(event, ChannelEvent):
            for handler in self._events.get((event.topic, event.event), ()):
                handler(event.payload)
        elif isinstance(event, PresenceSynced):
            for handler in self._syncs.get(event.topic, ()):
                handler(event.presences)

    def add(
        self, table: dict[Any, tuple[Handler, ...]], key: Any, handler: Handler
    ) -> Callable[[], None]:
        if not callable(handler):
            raise InvalidTypeError("callback must be callable")
        with self._lock:
            table[key] = (*table.get(key, ()), handler)
            if self._unsubscribe is None:
                self._unsubscribe = self._subscribe(self._deliver)

        def remove() -> None:
            with self._lock:
                left = tuple(h for h in table.get(key, ()) if h is not handler)
                if left:
                    table[key] = left
                else:
                    table.pop(key, None)

        return remove

    def on(self, topic: str, event: str, handler: Handler) -> Callable[[], None]:
        check_topic(event, "event")
        return self.add(self._events, (topic, event), handler)

    def on_sync(self, topic: str, handler: Handler) -> Callable[[], None]:
        return self.add(self._syncs, topic, handler)


def router_of(owner: Any, subscribe: Callable[..., Callable[[], None]]) -> _Router:
    """The router of ``owner`` (a client), made on first use."""
    router: _Router | None = owner.__dict__.get("_router")
    if router is None:
        router = owner.__dict__.setdefault("_router", _Router(subscribe))
    return router


def _join(topic: str, payload: Any, events: Any, timeout: Any) -> Join:
    given = {"payload": payload, "events": events, "timeout": timeout}
    return Join(topic, **{k: v for k, v in given.items() if v is not msgspec.UNSET})


class ChannelPresence:
    """The presence of one channel: its whole list, and a callback when it changes."""

    def __init__(self, channel: Channel) -> None:
        """Wrap ``channel``'s topic (use ``channel.presence``)."""
        self._channel = channel

    def on_sync(self, callback: Callable[[list[Presence]], object]) -> Callable[[], None]:
        """Call ``callback(presences)`` with the whole list after each state or diff.

        phoenix.js ``Presence.onSync``. Returns a function that removes the callback.
        """
        channel = self._channel
        return router_of(channel.client, channel.client.subscribe).on_sync(channel.topic, callback)

    def list(self, timeout: float | None = None) -> list[Presence]:
        """Every presence on the topic now (``GetPresenceState``)."""
        return self._channel.client.ask(GetPresenceState(self._channel.topic), timeout)


class Channel:
    """A handle on ``topic`` of a :class:`~phoenix_actors.Client` (``client.channel(...)``).

    Args:
        client: the client.
        topic: the channel topic.
        payload: the join payload (default: the topic's JoinConfig, else ``{}``).
        events: the event filter for this channel (None: every event).
        timeout: the join timeout (default: the socket's).
    """

    def __init__(
        self,
        client: Client,
        topic: str,
        *,
        payload: Any = msgspec.UNSET,
        events: Sequence[str] | msgspec.UnsetType | None = msgspec.UNSET,
        timeout: float | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None:
        """Make the handle; nothing is sent until :meth:`join` or :meth:`push`."""
        self._join = _join(topic, payload, events, timeout)  # validates now
        self.client = client
        self.topic = topic
        self.presence = ChannelPresence(self)
        """This channel's presence."""

    def join(self, timeout: float | None = None) -> JoinOk | JoinError | JoinTimeout:
        """Join the topic; answers JoinOk, JoinError or JoinTimeout (see ``Client.ask``)."""
        return self.client.ask(self._join, timeout)

    def push(
        self,
        event: str,
        payload: Any = None,
        *,
        timeout: float | None = None,
        retry: RetryStrategy = Drop(),  # noqa: B008 - a frozen Struct
        ask_timeout: float | None = None,
    ) -> PushOk | PushError | PushTimeout:
        """Push ``event``; answers its first outcome (joins first if needed, as Elm does)."""
        push = Push(
            self.topic, event, {} if payload is None else payload, timeout=timeout, retry=retry
        )
        return self.client.ask(push, ask_timeout)

    def leave(self, timeout: float | None = None) -> LeaveOk:
        """Leave the topic."""
        return self.client.ask(Leave(self.topic), timeout)

    def on(self, event: str, callback: Callable[[Any], object]) -> Callable[[], None]:
        """Call ``callback(payload)`` for each ``event`` the server sends on this topic.

        Runs on the client's event thread (it may ask and tell). Returns a
        function that removes the callback (phoenix.js ``channel.on`` / ``off``).
        """
        return router_of(self.client, self.client.subscribe).on(self.topic, event, callback)


# --- asyncio -------------------------------------------------------------------------


def _on_loop(client: AsyncClient, callback: Callable[[Any], object]) -> Handler:
    """A handler for the router: a coroutine function runs as a task on the client's loop."""
    if not asyncio.iscoroutinefunction(callback):
        return callback
    loop = client.client._rt.loop  # noqa: SLF001 - the loop the client was bound to
    coroutine: Callable[[Any], Awaitable[object]] = callback

    def schedule(value: Any) -> None:
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed
                asyncio.run_coroutine_threadsafe(coroutine(value), loop)  # type: ignore[arg-type]

    return schedule


class AsyncChannelPresence:
    """The presence of one :class:`AsyncChannel`."""

    def __init__(self, channel: AsyncChannel) -> None:
        """Wrap ``channel``'s topic (use ``channel.presence``)."""
        self._channel = channel

    def on_sync(self, callback: Callable[[list[Presence]], object]) -> Callable[[], None]:
        """Call ``callback(presences)`` (or schedule it, if a coroutine function) on each sync."""
        channel = self._channel
        blocking = channel.client.client
        handler = _on_loop(channel.client, callback)
        return router_of(blocking, blocking.subscribe).on_sync(channel.topic, handler)

    async def list(self, timeout: float | None = None) -> list[Presence]:  # noqa: ASYNC109
        """Every presence on the topic now."""
        return await self._channel.client.ask(GetPresenceState(self._channel.topic), timeout)


class AsyncChannel:
    """A handle on ``topic`` of an :class:`~phoenix_actors.AsyncClient`; as :class:`Channel`."""

    def __init__(
        self,
        client: AsyncClient,
        topic: str,
        *,
        payload: Any = msgspec.UNSET,
        events: Sequence[str] | msgspec.UnsetType | None = msgspec.UNSET,
        timeout: float | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> None:
        """Make the handle; nothing is sent until :meth:`join` or :meth:`push`."""
        self._join = _join(topic, payload, events, timeout)
        self.client = client
        self.topic = topic
        self.presence = AsyncChannelPresence(self)
        """This channel's presence."""

    async def join(self, timeout: float | None = None) -> JoinOk | JoinError | JoinTimeout:  # noqa: ASYNC109
        """Join the topic."""
        return await self.client.ask(self._join, timeout)

    async def push(
        self,
        event: str,
        payload: Any = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the push's protocol timeout
        retry: RetryStrategy = Drop(),  # noqa: B008 - a frozen Struct
        ask_timeout: float | None = None,
    ) -> PushOk | PushError | PushTimeout:
        """Push ``event``; answers its first outcome."""
        push = Push(
            self.topic, event, {} if payload is None else payload, timeout=timeout, retry=retry
        )
        return await self.client.ask(push, ask_timeout)

    async def leave(self, timeout: float | None = None) -> LeaveOk:  # noqa: ASYNC109
        """Leave the topic."""
        return await self.client.ask(Leave(self.topic), timeout)

    def on(self, event: str, callback: Callable[[Any], object]) -> Callable[[], None]:
        """Call ``callback(payload)`` (or schedule it, if a coroutine function) per ``event``."""
        blocking = self.client.client
        return router_of(blocking, blocking.subscribe).on(
            self.topic, event, _on_loop(self.client, callback)
        )
