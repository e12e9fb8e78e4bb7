"""One websocket connection: decode frames, route them, write frames in order.

This plays Phoenix's socket transport process (``Phoenix.Socket`` over the
websocket handler). Reading happens in :meth:`Connection.run`; writing in a
separate writer task fed by a queue, so every ``send_*`` call is
synchronous and frames leave in exactly the order they were queued.

Routing of a decoded frame (``PROTOCOL.md`` §3):

* ``heartbeat`` on ``phoenix``: ``ok {}`` with a null join_ref;
* ``phx_join``: join (a duplicate join first stops the old channel, sends
  the new reply, then ``phx_close`` with the *old* join_ref); no route:
  ``unmatched topic`` with a null join_ref; over the channel limit:
  ``too many channels joined``;
* on an unjoined topic: ``phx_leave`` gets ``ok {}``, anything else
  ``unmatched topic``;
* a non-null join_ref other than the channel's: ignored;
* otherwise: into the channel's inbox.

A frame that does not decode closes the socket with 1011 (Phoenix's
transport crash); no frame for ``idle_timeout`` seconds closes with 1002.
In both cases, and on any close, every channel of the socket stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from phoenix_actors.errors import FrameError, LocalProtocolError
from phoenix_actors.protocol.frames import (
    PHOENIX_TOPIC,
    Event,
    Message,
    V1JSONSerializer,
    V2JSONSerializer,
    WireFrame,
)
from phoenix_actors.server.api import Error, Ok
from phoenix_actors.server.runtime import ChannelProcess

if TYPE_CHECKING:
    from phoenix_actors.server.app import PhoenixServer

__all__ = ["CLOSE_BAD_FRAME", "CLOSE_DISCONNECT", "CLOSE_IDLE", "Connection"]

logger = logging.getLogger("phoenix_actors.server")

CLOSE_IDLE = 1002
"""Close code on idle timeout (Bandit's)."""
CLOSE_BAD_FRAME = 1011
"""Close code when a frame does not decode (the transport crashed)."""
CLOSE_DISCONNECT = 1001
"""Close code of a forced disconnect (Phoenix's ``"disconnect"`` broadcast)."""

WRITER_DRAIN = 3.0
"""Seconds the writer gets to finish the close handshake when the socket ends."""

_HEARTBEAT_OK: dict[str, Any] = {"status": "ok", "response": {}}


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


@dataclass(frozen=True)
class _Raw:
    data: bytes


RESERVED_OPCODE_FRAME = b"\x83\x00"
"""A final, unmasked, empty websocket frame with the reserved opcode 3 (a protocol error)."""


class Connection:
    """One connected socket and its channels.

    Args:
        server: the server it belongs to.
        ws: the prepared aiohttp websocket.
        request: the upgrade request (for aborting the TCP stream).
        serializer: the negotiated serializer.
        params: the connect parameters (``vsn`` included).
        assigns: what the ``connect`` hook returned.
        socket_id: what the ``socket_id`` hook returned.
    """

    transport = "websocket"
    """The transport name handlers see."""

    def __init__(  # noqa: PLR0917 - built in one place, by the server
        self,
        server: PhoenixServer,
        ws: web.WebSocketResponse,
        request: web.BaseRequest,
        serializer: V1JSONSerializer | V2JSONSerializer,
        params: dict[str, str],
        assigns: dict[str, Any],
        socket_id: str | None,
    ) -> None:
        """Create the connection; :meth:`run` drives it."""
        self.server = server
        self.ws = ws
        self.request = request
        self.serializer = serializer
        self.params = params
        self.assigns = assigns
        self.socket_id = socket_id
        self.channels: dict[str, ChannelProcess] = {}
        self.closing = False
        self.task: asyncio.Task[Any] | None = None
        """The task serving this socket (set by the server)."""
        self._out: asyncio.Queue[WireFrame | _Close | _Raw] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._writer_closing = False
        self._stop_reason = "shutdown:closed"

    # -- sending (synchronous: queued in call order) -----------------------------

    def send_frame(self, frame: WireFrame) -> None:
        """Queue an encoded frame (dropped once the socket is closing)."""
        if not self.closing:
            self._out.put_nowait(frame)

    def send_message(self, msg: Message) -> None:
        """Encode ``msg`` with this socket's serializer and queue it.

        Raises:
            LocalProtocolError: the message cannot be encoded for this client.
        """
        if not self.closing:
            self._out.put_nowait(self.serializer.encode(msg))

    def send_reply(self, msg: Message) -> None:
        """Queue a ``phx_reply``, subject to the reply faults (drop, delay).

        Raises:
            LocalProtocolError: the reply cannot be encoded for this client.
        """
        frame = self.serializer.encode(msg)
        faults = self.server.faults
        if faults.take_reply_drop():
            return
        delay = faults.reply_delay
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.send_frame, frame)
        else:
            self.send_frame(frame)

    def _reply(
        self, join_ref: str | None, ref: str | None, topic: str, status: str, response: Any
    ) -> None:
        payload = {"status": status, "response": response}
        self.send_reply(Message(join_ref, ref, topic, Event.REPLY, payload))

    def close(self, code: int, reason: str = "", *, stop_reason: str | None = None) -> None:
        """Close the socket with ``code`` after the frames already queued."""
        if self.closing:
            return
        if stop_reason is not None:
            self._stop_reason = stop_reason
        self.closing = True
        self._out.put_nowait(_Close(code, reason))

    def send_protocol_error(self) -> None:
        """Queue a frame with a reserved opcode, written raw (the fault ``break_all``)."""
        if not self.closing:
            self._out.put_nowait(_Raw(RESERVED_OPCODE_FRAME))

    def abort(self) -> None:
        """Drop the TCP stream at once, with no close frame."""
        self.closing = True
        self._stop_reason = "shutdown:closed"
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def _write(self) -> None:
        ws = self.ws
        text, binary = WSMsgType.TEXT, WSMsgType.BINARY
        try:
            while True:
                item = await self._out.get()
                if isinstance(item, _Close):
                    self._writer_closing = True
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                if isinstance(item, _Raw):
                    transport = self.request.transport
                    if transport is not None:
                        transport.write(item.data)
                    continue
                await ws.send_frame(item.data, binary if item.binary else text)
        except (ConnectionError, RuntimeError) as exc:
            # the peer went away under us; the reader sees it too
            logger.debug("write to socket %s failed: %r", self.socket_id, exc)

    # -- reading -----------------------------------------------------------------

    async def run(self) -> None:
        """Serve the socket until it closes, then stop its channels."""
        ws = self.ws
        idle = self.server.idle_timeout
        faults = self.server.faults
        decode = self.serializer.decode
        self._writer = asyncio.get_running_loop().create_task(
            self._write(), name="phoenix-socket-writer"
        )
        try:
            while not self.closing:
                try:
                    received = await ws.receive(timeout=idle)
                except TimeoutError:
                    logger.info("socket %s idle for %ss: closing", self.socket_id, idle)
                    self.close(CLOSE_IDLE, stop_reason="shutdown:idle")
                    break
                kind = received.type
                if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                    if faults.take_frame_drop():
                        continue
                    try:
                        msg = decode(received.data, binary=kind is WSMsgType.BINARY)
                    except FrameError as exc:
                        logger.warning("bad frame on socket %s: %s", self.socket_id, exc)
                        self.close(CLOSE_BAD_FRAME, stop_reason="crash")
                        break
                    await self._dispatch(msg)
                else:
                    if kind is WSMsgType.ERROR:
                        # oversize (1009) or invalid UTF-8 (1007): aiohttp already closed
                        logger.warning("socket %s failed: %s", self.socket_id, ws.exception())
                    break
        except Exception:
            logger.exception("socket %s crashed", self.socket_id)
            self.close(CLOSE_BAD_FRAME, stop_reason="crash")
        finally:
            await self._teardown()

    async def _teardown(self) -> None:
        self.closing = True
        procs = list(self.channels.values())
        if procs:
            await asyncio.gather(*(p.shutdown(self._stop_reason) for p in procs))
        self.server.unregister(self)
        writer = self._writer
        if writer is not None and not writer.done():
            if self.ws.closed and not self._writer_closing:
                writer.cancel()  # the peer closed: nothing left to write
            await asyncio.wait({writer}, timeout=WRITER_DRAIN)
            if not writer.done():
                writer.cancel()
                await asyncio.wait({writer})

    async def _dispatch(self, msg: Message) -> None:
        topic, event = msg.topic, msg.event
        if event == Event.HEARTBEAT and topic == PHOENIX_TOPIC:
            if not self.server.faults.heartbeats_stopped:
                self.send_message(Message(None, msg.ref, PHOENIX_TOPIC, Event.REPLY, _HEARTBEAT_OK))
            return
        if event == Event.JOIN:
            await self._join(msg)
            return
        proc = self.channels.get(topic)
        if proc is None:
            if event == Event.LEAVE:
                self._reply(msg.join_ref, msg.ref, topic, "ok", {})
            else:
                logger.debug("event %r on unjoined topic %r", event, topic)
                self._reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
            return
        if msg.join_ref is not None and msg.join_ref != proc.join_ref:
            logger.debug("stale join_ref %r on %r: ignored", msg.join_ref, topic)
            return
        proc.deliver(msg)

    async def _join(self, msg: Message) -> None:
        server, topic = self.server, msg.topic
        old = self.channels.get(topic)
        if old is not None:
            logger.debug("duplicate join of %r", topic)
            await old.shutdown("shutdown:duplicate_join")
        elif len(self.channels) >= server.max_channels:
            logger.warning("socket %s: too many channels joined", self.socket_id)
            self._reply(
                msg.join_ref, msg.ref, topic, "error", {"reason": "too many channels joined"}
            )
            return
        factory = server.router.match(topic)
        if factory is None:
            logger.debug("join of unmatched topic %r", topic)
            self._reply(None, msg.ref, topic, "error", {"reason": "unmatched topic"})
        else:
            await self._start_channel(factory, msg)
        if old is not None:
            self.send_message(Message(old.join_ref, old.join_ref, topic, Event.CLOSE, {}))

    async def _start_channel(self, factory: Any, msg: Message) -> None:
        topic = msg.topic
        try:
            handler = factory()
        except Exception:
            logger.exception("creating the handler for %r failed", topic)
            self._reply(msg.join_ref, msg.ref, topic, "error", {"reason": "join crashed"})
            return
        proc = ChannelProcess(self, self.server, handler, topic, msg.join_ref)
        result = await proc.join(msg.payload)
        if isinstance(result, Error):
            self._try_reply(msg, "error", result.reply)
            return
        assert isinstance(result, Ok)
        if self.closing:  # the socket went away while the handler was joining
            await proc.shutdown(self._stop_reason)
            return
        self.channels[topic] = proc
        self.server.subscribe(topic, proc)
        if not self._try_reply(msg, "ok", result.reply):
            await proc.shutdown("crash")
            self._reply(msg.join_ref, msg.ref, topic, "error", {"reason": "join crashed"})
            return
        proc.start()

    def _try_reply(self, msg: Message, status: str, response: Any) -> bool:
        try:
            self._reply(msg.join_ref, msg.ref, msg.topic, status, response)
        except LocalProtocolError:
            logger.exception("join reply for %r cannot be encoded", msg.topic)
            return False
        return True

    def channel_ended(self, proc: ChannelProcess) -> None:
        """Forget a channel that stopped (its topic is unjoined from now on)."""
        if self.channels.get(proc.topic) is proc:
            del self.channels[proc.topic]
            self.server.changed()
