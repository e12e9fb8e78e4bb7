"""The channel runtime: one joined topic on one socket, run like a Phoenix channel process.

A :class:`ChannelProcess` owns a handler instance, an inbox and an asyncio
task. The connection routes the socket's frames for the topic into the
inbox; the task feeds them to ``handle_in`` one at a time, so a slow
handler delays only its own channel. The process ends in one of three ways:

* from inside: a :class:`~phoenix_actors.server.api.Stop` result, a
  ``phx_leave`` (reason ``shutdown:left``) or an exception (reason
  ``crash``); the client then gets the reply (if any) and ``phx_close``
  for a clean reason or ``phx_error`` ``{"reason": "channel_crash"}``;
* from outside (:meth:`ChannelProcess.shutdown`): the socket closed, the
  topic was joined again, or the socket was disconnected; nothing is sent.

Either way ``terminate`` runs, the channel leaves the connection's table
(later frames for the topic get ``unmatched topic``), its subscription
ends and every presence it tracked leaves (``presence_diff`` broadcasts).

:class:`ChannelSocket` is what the handler sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from phoenix_actors.protocol.frames import Event, Message
from phoenix_actors.server.api import (
    Channel,
    Error,
    JoinResult,
    NoReply,
    Ok,
    Reply,
    Stop,
    is_clean_reason,
)
from phoenix_actors.server.presence import Presences

if TYPE_CHECKING:
    from phoenix_actors.server.app import PhoenixServer
    from phoenix_actors.server.connection import Connection

__all__ = ["ChannelProcess", "ChannelSocket"]

logger = logging.getLogger("phoenix_actors.server")

SHUTDOWN_WAIT = 5.0
"""Seconds a stopping channel gets before it is left behind (Phoenix's 5 s shutdown)."""


class ChannelSocket:
    """The channel's view of its socket, passed to every handler callback.

    Attribute reads are cheap; the methods send at once (frames are queued
    on the connection in call order).
    """

    def __init__(self, process: ChannelProcess) -> None:
        """Bind to a channel process (done by the runtime)."""
        self._p = process
        self.assigns: dict[str, Any] = dict(process.conn.assigns)
        """This channel's assigns: a copy of the socket's, free to change."""
        self.ref: str | None = None
        """Ref of the message ``handle_in`` is handling (None outside ``handle_in``)."""

    @property
    def topic(self) -> str:
        """The joined topic."""
        return self._p.topic

    @property
    def join_ref(self) -> str | None:
        """The ref of the join that started this channel."""
        return self._p.join_ref

    @property
    def socket_id(self) -> str | None:
        """The socket's id (from the ``socket_id`` hook), or None."""
        return self._p.conn.socket_id

    @property
    def transport(self) -> str:
        """``"websocket"`` or ``"longpoll"``."""
        return self._p.conn.transport

    @property
    def serializer(self) -> str:
        """Phoenix's name of the socket's serializer, e.g. ``Phoenix.Socket.V2.JSONSerializer``."""
        return self._p.conn.serializer.name

    @property
    def params(self) -> dict[str, str]:
        """The connect parameters, ``vsn`` included."""
        return dict(self._p.conn.params)

    @property
    def server(self) -> PhoenixServer:
        """The server (for ``disconnect``, ``broadcast`` to other topics, ``presence_list``)."""
        return self._p.server

    @property
    def joined(self) -> bool:
        """True once the join reply went out, until the channel ends."""
        return self._p.joined and not self._p.ended

    def push(self, event: str, payload: Any) -> None:
        """Send ``[join_ref, null, topic, event, payload]`` to this client (bytes: binary kind 0).

        Raises:
            RuntimeError: called from ``join`` (Phoenix forbids it; push from ``after_join``).
            LocalProtocolError: the payload cannot be encoded for this client.
        """
        if not self._p.joined:
            raise RuntimeError("push is not allowed in join; push from after_join")
        if self._p.ended:
            return
        self._p.conn.send_message(Message(self._p.join_ref, None, self.topic, event, payload))

    def broadcast(self, event: str, payload: Any) -> None:
        """Send ``[null, null, topic, event, payload]`` to every subscriber, this client too."""
        self._p.server.broadcast(self.topic, event, payload)

    def broadcast_from(self, event: str, payload: Any) -> None:
        """Broadcast to every subscriber of the topic except this channel's client."""
        self._p.server.broadcast(self.topic, event, payload, exclude=self._p)

    def reply(self, ref: str | None, status: str, response: Any = None) -> None:
        """Answer the message with ``ref`` later (after :class:`NoReply`); dropped once ended."""
        if self._p.ended:
            return
        self._p.send_reply(ref, status, {} if response is None else response)

    def track(self, key: str, meta: Mapping[str, Any], *, topic: str | None = None) -> None:
        """Track presence ``key`` with ``meta`` on this topic (or ``topic``) for this channel.

        Raises:
            InvalidArgumentError: the key is already tracked by this channel there.
        """
        server = self._p.server
        server.publish_diff(server.presence.track(topic or self.topic, self._p, key, meta))

    def untrack(self, key: str, *, topic: str | None = None) -> None:
        """Stop tracking ``key`` (a ``presence_diff`` with it in ``leaves``)."""
        server = self._p.server
        server.publish_diff(server.presence.untrack(topic or self.topic, self._p, key))

    def update(
        self,
        key: str,
        meta: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]],
        *,
        topic: str | None = None,
    ) -> None:
        """Replace the meta of a tracked key: the new meta joins (``phx_ref_prev``), the old leaves.

        ``meta`` may be a function of the old meta (without ``phx_ref`` keys).

        Raises:
            InvalidArgumentError: the key is not tracked by this channel there.
        """
        server = self._p.server
        server.publish_diff(server.presence.update(topic or self.topic, self._p, key, meta))

    def presence_meta(self, key: str) -> dict[str, Any] | None:
        """Return this channel's current meta for ``key`` on its topic (a copy), or None."""
        return self._p.server.presence.get(self.topic, self._p, key)

    def presence_list(self, topic: str | None = None) -> Presences:
        """Return the presences of this topic (or ``topic``), with the fetch hook applied."""
        return self._p.server.presence_list(topic or self.topic)

    def start_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` beside the channel; it is cancelled when the channel ends."""
        return self._p.start_child(coro)


class ChannelProcess:
    """One channel: handler, inbox and task (created by the connection on ``phx_join``).

    Args:
        conn: the socket's connection.
        server: the server (pubsub, presence).
        handler: a fresh handler instance.
        topic: the joined topic.
        join_ref: the join's ref.
    """

    def __init__(
        self,
        conn: Connection,
        server: PhoenixServer,
        handler: Channel,
        topic: str,
        join_ref: str | None,
    ) -> None:
        """Create the process; :meth:`join` then :meth:`start` run it."""
        self.conn = conn
        self.server = server
        self.handler = handler
        self.topic = topic
        self.join_ref = join_ref
        self.joined = False
        self.ended = False
        self.socket = ChannelSocket(self)
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._children: set[asyncio.Task[Any]] = set()
        self._stop_reason = "shutdown"

    async def join(self, payload: Any) -> JoinResult:
        """Run the handler's ``join``; an exception becomes ``{"reason": "join crashed"}``."""
        try:
            result: object = await self.handler.join(self.topic, payload, self.socket)
            if not isinstance(result, Ok | Error):
                msg = f"join returned {result!r}, expected Ok or Error"
                raise TypeError(msg)  # noqa: TRY301 - reported below like any crash
        except Exception:
            logger.exception("join of %r crashed", self.topic)
            self._cleanup()
            return Error({"reason": "join crashed"})
        if isinstance(result, Error):
            self._cleanup()
        return result

    def start(self) -> None:
        """Start the task after the ok join reply went out (it runs ``after_join`` first)."""
        self.joined = True
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"phoenix-channel:{self.topic}"
        )

    def deliver(self, msg: Message) -> None:
        """Queue a client frame for ``handle_in`` (``phx_leave`` included)."""
        self._inbox.put_nowait(msg)

    def send_reply(self, ref: str | None, status: str, response: Any) -> None:
        """Send ``phx_reply`` for ``ref`` with this channel's join_ref."""
        msg = Message(
            self.join_ref,
            ref,
            self.topic,
            Event.REPLY,
            {"status": status, "response": response},
        )
        self.conn.send_reply(msg)

    def start_child(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a task tied to this channel's life."""
        task = asyncio.get_running_loop().create_task(coro)
        if self.ended:
            task.cancel()
            return task
        self._children.add(task)
        task.add_done_callback(self._child_done)
        return task

    def _child_done(self, task: asyncio.Task[Any]) -> None:
        self._children.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("task of channel %r failed", self.topic, exc_info=task.exception())

    async def shutdown(self, reason: str) -> None:
        """Stop the channel from outside (nothing is sent to the client) and wait for it."""
        self._stop_reason = reason
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=SHUTDOWN_WAIT)
        if not self.ended:  # never started, or the task did not get to run
            await self._end(reason, notify=False)

    async def _run(self) -> None:
        handler, socket = self.handler, self.socket
        try:
            await handler.after_join(socket)
            while True:
                msg = await self._inbox.get()
                if msg.event == Event.LEAVE:
                    self.send_reply(msg.ref, "ok", {})
                    await self._end("shutdown:left", notify=True)
                    return
                socket.ref = msg.ref
                result: object = await handler.handle_in(msg.event, msg.payload, socket)
                socket.ref = None
                if isinstance(result, Reply):
                    self.send_reply(msg.ref, result.status, result.response)
                elif isinstance(result, Stop):
                    if result.reply is not None:
                        self.send_reply(msg.ref, result.reply.status, result.reply.response)
                    await self._end(result.reason, notify=True)
                    return
                elif not isinstance(result, NoReply):
                    msg_text = f"handle_in returned {result!r}, expected Reply, NoReply or Stop"
                    raise TypeError(msg_text)  # noqa: TRY301 - a crash like any other
        except asyncio.CancelledError:
            await self._end(self._stop_reason, notify=False)
            raise
        except Exception:
            logger.exception("channel %r crashed", self.topic)
            await self._end("crash", notify=True)

    async def _end(self, reason: str, *, notify: bool) -> None:
        if self.ended:
            return
        self.ended = True
        cancelled = False
        try:
            await self.handler.terminate(reason, self.socket)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception:
            logger.exception("terminate of channel %r crashed", self.topic)
        finally:
            self._cleanup()
            if notify and not cancelled:
                event = Event.CLOSE if is_clean_reason(reason) else Event.ERROR
                clean = event == Event.CLOSE
                payload: dict[str, str] = {} if clean else {"reason": "channel_crash"}
                msg = Message(self.join_ref, self.join_ref, self.topic, event, payload)
                self.conn.send_message(msg)

    def _cleanup(self) -> None:
        self.ended = True
        self.conn.channel_ended(self)
        self.server.unsubscribe(self.topic, self)
        for diff in self.server.presence.untrack_owner(self):
            self.server.publish_diff(diff)
        for child in list(self._children):
            child.cancel()
        self._children.clear()
