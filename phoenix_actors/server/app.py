"""The asyncio Phoenix-protocol server: endpoint, pubsub, presence and socket registry.

:class:`PhoenixServer` serves ``/socket/websocket`` on one aiohttp port
(and, with ``admin=True``, the admin HTTP routes of
:mod:`phoenix_actors.server.admin`). Use it inside a running event loop::

    server = PhoenixServer()          # the demo channels
    await server.start()
    print(server.url)                 # ws://127.0.0.1:PORT/socket
    ...
    await server.stop()

Its non-async methods (``broadcast``, ``disconnect``, ``presence_list``,
``sockets``...) must be called on the server's loop;
:class:`~phoenix_actors.server.loopback.LoopbackServer` wraps it in a
thread for synchronous code.

Broadcasts are encoded once per serializer and the same bytes are queued
to every subscriber (Phoenix's fastlane). Presence diffs are broadcast
from the loop right after the change (``call_soon``), so a handler's
reply or push made in the same step goes out first, as in Phoenix where
the tracker broadcasts asynchronously.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from phoenix_actors.errors import InvalidArgumentError, LocalProtocolError
from phoenix_actors.protocol.frames import Message, V1JSONSerializer, WireFrame
from phoenix_actors.server.api import ChannelFactory, ConnectHook, ConnectInfo, SocketIdHook
from phoenix_actors.server.connection import CLOSE_DISCONNECT, Connection
from phoenix_actors.server.faults import Faults
from phoenix_actors.server.handshake import HandshakeError, negotiate_serializer, parse_subprotocols
from phoenix_actors.server.origin import CheckOrigin, OriginPolicy
from phoenix_actors.server.presence import Diff, FetchHook, Presences, PresenceTracker, apply_fetch
from phoenix_actors.server.routing import Router
from phoenix_actors.server.runtime import ChannelProcess

__all__ = ["CLOSE_SHUTDOWN", "PhoenixServer", "SocketInfo"]

logger = logging.getLogger("phoenix_actors.server")
logger.addHandler(logging.NullHandler())  # quiet unless the application configures logging

CLOSE_SHUTDOWN = 1012
"""Close code sent to every socket when the server stops (Phoenix's drain)."""

SOCKET_PATH = "/socket/websocket"
STOP_WAIT = 3.0
"""Seconds the sockets get to close when the server stops, before they are aborted."""


@dataclass(frozen=True)
class SocketInfo:
    """A snapshot of one connected socket."""

    socket_id: str | None
    """The id from the ``socket_id`` hook."""
    params: dict[str, str]
    """The connect parameters, ``vsn`` included."""
    transport: str
    """``"websocket"`` or ``"longpoll"``."""
    vsn: str
    """The serializer version in use (``"1.0.0"`` or ``"2.0.0"``)."""
    topics: tuple[str, ...]
    """The joined topics."""
    assigns: dict[str, Any]
    """The assigns from the ``connect`` hook."""


def _accept_all(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
    del params, info
    return {}


def _no_id(assigns: dict[str, Any]) -> str | None:
    del assigns
    return None


class PhoenixServer:
    """A Phoenix-protocol websocket endpoint on one host and port.

    Args:
        handlers: ``{topic pattern: Channel subclass}`` or a :class:`Router`;
            None serves the demo channels (with the demo connect, socket id
            and fetch hooks unless those are given).
        host: interface to bind (loopback by default).
        port: port to bind; 0 picks a free one.
        connect: ``connect(params, info) -> assigns | None`` (None: HTTP 403).
        socket_id: ``socket_id(assigns) -> str | None``.
        presence_fetch: ``fetch(topic, presences) -> presences``, Phoenix's ``fetch/2``.
        idle_timeout: seconds without a received frame before closing with 1002.
        max_frame_size: largest accepted frame in bytes (larger: close 1009).
        max_channels: channels one socket may join.
        admin: also serve the admin HTTP routes.
        longpoll_window: seconds a long poll waits for frames before answering 204.
        longpoll_timeout: seconds without a poll before a long-poll session ends.
        faults: fault switches (a fresh, all-off :class:`Faults` by default).
        check_origin: Phoenix's ``check_origin`` (:mod:`phoenix_actors.server.origin`):
            False (the default here) accepts every ``Origin``; True needs the
            Origin's host to be ``host``; ``"conn"`` the request's own scheme,
            host and port; a list names the allowed origins; a callable
            decides. An absent Origin always passes; a refused one gets
            HTTP 403 (long-poll: ``{"status": 403}``).
    """

    def __init__(
        self,
        handlers: Mapping[str, ChannelFactory] | Router | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connect: ConnectHook | None = None,
        socket_id: SocketIdHook | None = None,
        presence_fetch: FetchHook | None = None,
        idle_timeout: float = 60.0,
        max_frame_size: int = 10_000_000,
        max_channels: int = 100,
        admin: bool = False,
        faults: Faults | None = None,
        ssl_context: ssl.SSLContext | None = None,
        longpoll_window: float = 10.0,
        longpoll_timeout: float = 15.0,
        check_origin: CheckOrigin = False,
    ) -> None:
        """Configure the server; :meth:`start` binds it."""
        if handlers is None:
            from phoenix_actors.server import demo  # noqa: PLC0415 - only when defaulting

            handlers = demo.demo_routes()
            connect = connect or demo.demo_connect
            socket_id = socket_id or demo.demo_socket_id
            presence_fetch = presence_fetch or demo.demo_fetch
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise InvalidArgumentError(f"port must be an int in 0..65535, got {port!r}")
        if idle_timeout <= 0:
            raise InvalidArgumentError(f"idle_timeout must be > 0, got {idle_timeout!r}")
        if max_frame_size <= 0:
            raise InvalidArgumentError(f"max_frame_size must be > 0, got {max_frame_size!r}")
        self.router = handlers if isinstance(handlers, Router) else Router(handlers)
        """Topic routing."""
        self.host = host
        """The bound interface."""
        self.port = port
        """The bound port (the real one once started)."""
        self.connect_hook: ConnectHook = connect or _accept_all
        self.socket_id_hook: SocketIdHook = socket_id or _no_id
        self.presence_fetch = presence_fetch
        self.idle_timeout = float(idle_timeout)
        self.max_frame_size = max_frame_size
        self.max_channels = max_channels
        self.admin = admin
        self.ssl_context = ssl_context
        """TLS for wss:// and https:// (None: plain ws://)."""
        if longpoll_window <= 0 or longpoll_timeout <= 0:
            raise InvalidArgumentError("longpoll_window and longpoll_timeout must be > 0")
        self.longpoll_window = float(longpoll_window)
        """Seconds a long poll waits before answering 204 (Phoenix's ``window_ms``)."""
        self.longpoll_timeout = float(longpoll_timeout)
        """Seconds without a poll before a long-poll session ends."""
        self.origin_policy = OriginPolicy(check_origin, host)
        """The parsed ``check_origin`` setting."""
        self.faults = faults if faults is not None else Faults()
        """The fault switches."""
        if faults is None:
            self.faults.attach(self.close_all, self.abort_all, self.break_all)
        self.presence = PresenceTracker()
        """Presences of every topic."""
        self.on_change: Callable[[], None] | None = None
        """Called on the loop after sockets, joins or presences change (for waiters)."""
        self._subs: dict[str, dict[ChannelProcess, None]] = {}
        self._conns: dict[Connection, None] = {}
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint to give a client: ``ws://HOST:PORT/socket``."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/socket"

    @property
    def http_url(self) -> str:
        """The HTTP base URL: ``http://HOST:PORT``."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._runner is not None

    async def start(self) -> None:
        """Bind and serve (the port is known when this returns).

        Raises:
            OSError: the port cannot be bound.
        """
        if self._runner is not None:
            return
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        app.router.add_get(SOCKET_PATH, self._websocket)
        from phoenix_actors.server.longpoll import add_longpoll_routes  # noqa: PLC0415 - cycle

        add_longpoll_routes(app, self)
        if self.admin:
            from phoenix_actors.server.admin import add_admin_routes  # noqa: PLC0415

            add_admin_routes(app, self)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(
            runner, self.host, self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        server = site._server  # noqa: SLF001 - the only way to learn the bound port
        if self.port == 0 and isinstance(server, asyncio.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        self._runner = runner
        logger.info("serving Phoenix channels at %s", self.url)

    async def stop(self, code: int = CLOSE_SHUTDOWN) -> None:
        """Close every socket with ``code`` (channels stop), then stop listening."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        conns = list(self._conns)
        for conn in conns:
            conn.close(code, stop_reason="shutdown")
        tasks = [t for t in (c.task for c in conns) if t is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for conn in conns:
                if conn.task in pending:
                    conn.abort()
        await runner.cleanup()
        self.changed()

    # -- websocket endpoint --------------------------------------------------------

    def origin_allowed(self, request: web.BaseRequest) -> bool:
        """Whether the request's ``Origin`` header passes ``check_origin`` (logged if not)."""
        origin = request.headers.get("Origin")
        url = request.url
        ok = self.origin_policy.allows(origin, scheme=url.scheme, host=url.host, port=url.port)
        if not ok:
            logger.warning("refused a connection from origin %r (check_origin)", origin)
        return ok

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            return web.Response(status=403)
        failure = self.faults.take_handshake_failure()
        if failure is not None:
            status, delay = failure
            if delay > 0:
                await asyncio.sleep(delay)  # the fault: hold the upgrade, then refuse it
            return web.Response(status=status)
        params = dict(request.query)
        try:
            serializer = negotiate_serializer(params.get("vsn"))
            token, protocol = parse_subprotocols(request.headers.get("Sec-WebSocket-Protocol"))
        except HandshakeError as exc:
            logger.info("refused websocket: %s", exc)
            return web.Response(status=403)
        info = ConnectInfo(params=params, headers=request.headers, auth_token=token)
        accepted = self.authorize(params, info)
        if accepted is None:
            return web.Response(status=403)
        assigns, sid = accepted
        ws = web.WebSocketResponse(
            protocols=(protocol,) if protocol else (),
            max_msg_size=self.max_frame_size,
            autoping=True,
            compress=False,
            decode_text=False,
            timeout=2.0,
        )
        await ws.prepare(request)
        conn = Connection(self, ws, request, serializer, params, assigns, sid)
        conn.task = asyncio.current_task()
        self._conns[conn] = None
        self.changed()
        await conn.run()
        return ws

    def authorize(
        self, params: dict[str, str], info: ConnectInfo
    ) -> tuple[dict[str, Any], str | None] | None:
        """Run the ``connect`` and ``socket_id`` hooks for a new socket (any transport).

        Returns:
            ``(assigns, socket_id)`` (the assigns copied), or None when the
            socket must be refused: the hook refused or crashed, or
            ``socket_id`` returned a non-string. Refusals are logged with the
            param names only: their values may be secrets (tokens).
        """
        try:
            assigns = self.connect_hook(params, info)
            sid: object = None if assigns is None else self.socket_id_hook(assigns)
        except Exception:
            logger.exception("connect hook crashed")
            return None
        if assigns is None:
            logger.info("connect refused (params: %s)", ", ".join(sorted(params)))
            return None
        if sid is not None and not isinstance(sid, str):
            logger.warning("socket_id returned %r, expected a string or None", sid)
            return None
        return dict(assigns), sid

    def register(self, conn: Connection) -> None:
        """Count a socket opened by another transport (the long-poll endpoint)."""
        self._conns[conn] = None
        self.changed()

    def unregister(self, conn: Connection) -> None:
        """Forget a socket that ended (called by the connection)."""
        if self._conns.pop(conn, False) is None:
            self.changed()

    # -- pubsub ----------------------------------------------------------------------

    def subscribe(self, topic: str, proc: ChannelProcess) -> None:
        """Deliver broadcasts on ``topic`` to this channel's client."""
        self._subs.setdefault(topic, {})[proc] = None
        self.changed()

    def unsubscribe(self, topic: str, proc: ChannelProcess) -> None:
        """Stop delivering broadcasts on ``topic`` to this channel."""
        subs = self._subs.get(topic)
        if subs is not None and subs.pop(proc, False) is None:
            if not subs:
                del self._subs[topic]
            self.changed()

    def broadcast(
        self, topic: str, event: str, payload: Any, *, exclude: ChannelProcess | None = None
    ) -> int:
        """Send ``[null, null, topic, event, payload]`` to every subscriber but ``exclude``.

        Returns:
            How many sockets it was queued to.

        Raises:
            LocalProtocolError: the payload cannot be encoded (not JSON).
        """
        subs = self._subs.get(topic)
        if not subs:
            return 0
        msg = Message(None, None, topic, event, payload)
        frames: dict[type, WireFrame | None] = {}
        sent = 0
        for proc in subs:
            if proc is exclude:
                continue
            conn = proc.conn
            kind = type(conn.serializer)
            if kind in frames:
                frame = frames[kind]
            else:
                try:
                    frame = frames[kind] = conn.serializer.encode(msg)
                except LocalProtocolError:
                    if kind is not V1JSONSerializer or not isinstance(payload, bytes):
                        raise
                    frame = frames[kind] = None  # V1 has no binary frames: skip those
            if frame is not None:
                conn.send_frame(frame)
                sent += 1
        return sent

    # -- presence --------------------------------------------------------------------

    def publish_diff(self, diff: Diff) -> None:
        """Broadcast ``presence_diff`` for ``diff`` on the next loop turn (empty: nothing)."""
        if diff and self._loop is not None:
            self._loop.call_soon(self._send_diff, diff)

    def _send_diff(self, diff: Diff) -> None:
        try:
            payload = {
                "joins": apply_fetch(self.presence_fetch, diff.topic, diff.joins),
                "leaves": apply_fetch(self.presence_fetch, diff.topic, diff.leaves),
            }
            self.broadcast(diff.topic, "presence_diff", payload)
        except Exception:
            logger.exception("presence_diff on %r failed", diff.topic)
        self.changed()

    def presence_list(self, topic: str) -> Presences:
        """Return the presences of ``topic`` as ``presence_state`` carries them (fetch applied)."""
        return apply_fetch(self.presence_fetch, topic, self.presence.list(topic))

    # -- sockets -----------------------------------------------------------------------

    def sockets(self) -> list[SocketInfo]:
        """Return a snapshot of the connected sockets."""
        return [
            SocketInfo(
                socket_id=c.socket_id,
                params=dict(c.params),
                transport=c.transport,
                vsn=c.serializer.vsn,
                topics=tuple(c.channels),
                assigns=dict(c.assigns),
            )
            for c in self._conns
            if not c.closing
        ]

    def disconnect(self, socket_id: str) -> int:
        """Close every socket with this id with 1001 (Phoenix's ``"disconnect"`` broadcast).

        Returns:
            How many sockets were closed.
        """
        conns = [c for c in self._conns if c.socket_id == socket_id and not c.closing]
        for conn in conns:
            conn.close(CLOSE_DISCONNECT, stop_reason="shutdown:disconnected")
        return len(conns)

    def close_all(self, code: int, reason: str = "") -> None:
        """Close every socket with ``code`` and ``reason``."""
        for conn in list(self._conns):
            conn.close(code, reason, stop_reason="shutdown:closed")

    def abort_all(self) -> None:
        """Drop every socket's TCP stream, with no close frame."""
        for conn in list(self._conns):
            conn.abort()

    def break_all(self) -> None:
        """Send every websocket a frame with a reserved opcode (a protocol error)."""
        for conn in list(self._conns):
            conn.send_protocol_error()

    def changed(self) -> None:
        """Tell the waiter (if any) that something changed."""
        if self.on_change is not None:
            self.on_change()
