"""Phoenix's long-poll transport on the server: ``/socket/longpoll``.

This plays ``Phoenix.Transports.LongPoll`` and its session server. Every
response is HTTP 200 with a JSON body ``{"status", "token", "messages"}``
(``PROTOCOL.md`` §1):

* ``GET`` without a live session token: run the connect hook and open a
  session; ``410`` with the new token (refused: ``403``, no token);
* ``GET`` with a session token: a poll. ``200`` with the frames queued
  since the last poll (sent as soon as there is one), or ``204`` after
  the poll window with nothing to send; ``410`` once the session is gone;
* ``POST`` with a session token: the body holds frames, one per line for
  ``application/x-ndjson`` (a line starting with ``[`` or ``{`` is JSON
  text, any other is a base64 binary frame), the whole body otherwise.
  They are dispatched in order; ``200`` when done, ``410`` without a
  live session, ``500`` when a frame does not decode (the session then
  ends, as Phoenix's crashes);
* ``OPTIONS``: the CORS preflight answer.

A session is a :class:`~phoenix_actors.server.connection.Connection`
whose outbound frames wait in its queue for the next poll instead of
being written to a websocket, so routing, channels, heartbeat replies,
socket ids, ``server.disconnect`` and presence all behave as over the
websocket. Poll messages are the encoded frames as strings: JSON text
as is, binary frames in base64 (phoenix.js's LongPoll cannot decode
those; :class:`~phoenix_actors.transport.longpoll.LongPollTransport`
can).

The session token travels in ``?token=`` (the last one wins, as in Plug,
so a connect parameter named ``token`` still reaches the connect hook on
the first GET) or in the ``X-Phoenix-Longpoll-Token`` header (1.9-dev).
The auth token comes in the ``X-Phoenix-AuthToken`` header. A session
ends ``session_timeout`` seconds after its last poll ended, when the
client stops polling (Phoenix: ``1.5 * window_ms``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from aiohttp import web

from phoenix_actors.errors import FrameError
from phoenix_actors.protocol.frames import V1JSONSerializer, V2JSONSerializer, WireFrame
from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.connection import CLOSE_BAD_FRAME, Connection
from phoenix_actors.server.handshake import HandshakeError, negotiate_serializer

if TYPE_CHECKING:
    from phoenix_actors.server.app import PhoenixServer

__all__ = [
    "AUTH_TOKEN_HEADER",
    "DEFAULT_SESSION_TIMEOUT",
    "DEFAULT_WINDOW",
    "LONGPOLL_PATH",
    "SESSION_TOKEN_HEADER",
    "LongPollEndpoint",
    "LongPollSession",
    "add_longpoll_routes",
]

logger = logging.getLogger("phoenix_actors.server")

LONGPOLL_PATH: Final = "/socket/longpoll"
"""Where the long-poll transport is served."""
DEFAULT_WINDOW: Final = 10.0
"""Seconds a poll waits for a frame before answering 204 (Phoenix's ``window_ms``)."""
DEFAULT_SESSION_TIMEOUT: Final = 15.0
"""Seconds without a poll before a session ends (Phoenix: ``1.5 * window_ms``)."""
AUTH_TOKEN_HEADER: Final = "X-Phoenix-AuthToken"  # noqa: S105 - a header name
"""The header phoenix.js 1.8's LongPoll sends the auth token in."""
SESSION_TOKEN_HEADER: Final = "X-Phoenix-Longpoll-Token"  # noqa: S105 - a header name
"""The header phoenix 1.9-dev sends the session token in (``?token=`` before)."""

CLOSE_INACTIVE: Final = 1002
"""Close code recorded for a session that timed out (no client ever sees it)."""

_TOKEN_PREFIX: Final = "phxlp."  # noqa: S105 - marks our session tokens, not a secret
_NDJSON: Final = "application/x-ndjson"


def _json(data: Mapping[str, Any]) -> web.Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return web.Response(
        body=body.encode(),
        content_type="application/json",
        charset="utf-8",
        headers={"access-control-allow-origin": "*"},
    )


def _encode_frame(frame: WireFrame) -> str:
    if frame.binary:
        return base64.b64encode(frame.data).decode("ascii")
    return frame.data.decode("utf-8")


def _split_batch(body: bytes, content_type: str) -> list[tuple[bytes, bool]]:
    """Split a POST body into ``(data, binary)`` frames.

    Raises:
        FrameError: a binary line is not base64.
    """
    if content_type != _NDJSON:
        return [(body, False)]
    frames: list[tuple[bytes, bool]] = []
    for line in body.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[:1] in {b"[", b"{"}:
            frames.append((line, False))
            continue
        try:
            frames.append((base64.b64decode(line, validate=True), True))
        except (binascii.Error, ValueError) as exc:
            raise FrameError(f"long-poll line is neither JSON nor base64: {exc}") from exc
    return frames


class LongPollSession(Connection):
    """One long-poll session: a connection whose frames wait for the next poll.

    Args:
        server: the server it belongs to.
        endpoint: the long-poll endpoint that owns the session table.
        token: the session token the client polls with.
        request: the GET that opened the session.
        serializer: the negotiated serializer.
        params: the connect parameters (``vsn`` included).
        assigns: what the ``connect`` hook returned.
        socket_id: what the ``socket_id`` hook returned.
    """

    transport = "longpoll"
    """The transport name handlers see."""

    def __init__(  # noqa: PLR0917 - built in one place, by the endpoint
        self,
        server: PhoenixServer,
        endpoint: LongPollEndpoint,
        token: str,
        request: web.BaseRequest,
        serializer: V1JSONSerializer | V2JSONSerializer,
        params: dict[str, str],
        assigns: dict[str, Any],
        socket_id: str | None,
    ) -> None:
        """Create the session; :meth:`run` drives its lifetime."""
        # No websocket: frames stay in the connection's queue for the polls.
        no_ws = cast("web.WebSocketResponse", None)
        super().__init__(server, no_ws, request, serializer, params, assigns, socket_id)
        self.endpoint = endpoint
        self.token = token
        """The session token."""
        self._loop = asyncio.get_running_loop()
        self._last_poll = self._loop.time()
        self._polls = 0
        self._wake = asyncio.Event()
        self._dispatching = asyncio.Lock()

    # -- lifetime ------------------------------------------------------------------

    def close(self, code: int, reason: str = "", *, stop_reason: str | None = None) -> None:
        """End the session (polls in flight get what was queued before, then 410)."""
        super().close(code, reason, stop_reason=stop_reason)
        self._wake.set()

    def send_protocol_error(self) -> None:
        """Nothing: a long-poll session has no websocket framing to break."""

    def abort(self) -> None:
        """End the session at once (there is no stream to drop)."""
        self.close(CLOSE_BAD_FRAME, stop_reason="shutdown:closed")

    async def run(self) -> None:
        """Live until closed or ``session_timeout`` passes without a poll; then stop channels."""
        timeout = self.endpoint.session_timeout
        try:
            while not self.closing:
                self._wake.clear()
                remaining: float | None = None
                if not self._polls:
                    remaining = self._last_poll + timeout - self._loop.time()
                    if remaining <= 0:
                        logger.info("long-poll session %s inactive: closing", self.socket_id)
                        self.close(CLOSE_INACTIVE, stop_reason="shutdown:inactive")
                        break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
        finally:
            self.endpoint.forget(self)
            await self._teardown()

    def _touch(self) -> None:
        self._last_poll = self._loop.time()
        self._wake.set()

    # -- the client's requests -----------------------------------------------------

    async def poll(self, window: float) -> tuple[int, list[str]]:
        """Wait up to ``window`` seconds for frames.

        Returns:
            ``(200, messages)``, ``(204, [])`` after the window, or ``(410, [])``
            once the session is gone.
        """
        out = self._out
        if self.closing and out.empty():
            return 410, []
        self._polls += 1
        self._touch()
        try:
            try:
                items: list[Any] = [await asyncio.wait_for(out.get(), window)]
            except TimeoutError:
                return 204, []
            while not out.empty():
                items.append(out.get_nowait())
        finally:
            self._polls -= 1
            self._touch()
        messages = [_encode_frame(i) for i in items if isinstance(i, WireFrame)]
        return (200, messages) if messages else (410, [])

    async def publish(self, frames: list[tuple[bytes, bool]]) -> int:
        """Dispatch client frames in order, as the websocket reader does.

        Returns:
            200 when done, 410 when the session ended first, 500 when a frame
            did not decode or dispatching crashed (the session then ends).
        """
        decode = self.serializer.decode
        faults = self.server.faults
        async with self._dispatching:
            for data, binary in frames:
                if self.closing:
                    return 410
                if faults.take_frame_drop():
                    continue
                try:
                    msg = decode(data, binary=binary)
                except FrameError as exc:
                    logger.warning("bad frame on long-poll session %s: %s", self.socket_id, exc)
                    self.close(CLOSE_BAD_FRAME, stop_reason="crash")
                    return 500
                try:
                    await self._dispatch(msg)
                except Exception:
                    logger.exception("long-poll session %s crashed", self.socket_id)
                    self.close(CLOSE_BAD_FRAME, stop_reason="crash")
                    return 500
        return 200


class LongPollEndpoint:
    """The ``/socket/longpoll`` handler and its session table.

    Args:
        server: the server whose hooks, channels and registry sessions use.
        window: seconds a poll waits before answering 204.
        session_timeout: seconds without a poll before a session ends.
    """

    def __init__(
        self,
        server: PhoenixServer,
        *,
        window: float = DEFAULT_WINDOW,
        session_timeout: float = DEFAULT_SESSION_TIMEOUT,
    ) -> None:
        """Configure the endpoint."""
        self.server = server
        self.window = float(window)
        """Poll window in seconds."""
        self.session_timeout = float(session_timeout)
        """Seconds without a poll before a session ends."""
        self.sessions: dict[str, LongPollSession] = {}
        """Live sessions by token."""

    def forget(self, session: LongPollSession) -> None:
        """Drop an ended session from the table (its token then gets 410)."""
        if self.sessions.get(session.token) is session:
            del self.sessions[session.token]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one long-poll request (any method)."""
        method = request.method
        if not self.server.origin_allowed(request):
            return _json({"status": 403})  # Phoenix checks the origin before dispatching
        if method == "OPTIONS":
            return web.Response(
                text="",
                headers={
                    "access-control-allow-origin": "*",
                    "access-control-allow-headers": request.headers.get(
                        "access-control-request-headers", ""
                    ),
                    "access-control-allow-methods": "get, post, options",
                    "access-control-max-age": "3600",
                },
            )
        tokens = request.query.getall("token", [])
        token = request.headers.get(SESSION_TOKEN_HEADER) or (tokens[-1] if tokens else None)
        session = self.sessions.get(token) if token else None
        if method == "GET":
            if session is not None:
                status, messages = await session.poll(self.window)
                return _json({"status": status, "token": token, "messages": messages})
            if token is not None and token.startswith(_TOKEN_PREFIX):
                return _json({"status": 410, "token": token, "messages": []})
            return await self._new_session(request)
        if method == "POST":
            if session is None:
                return _json({"status": 410})
            return _json({"status": await self._publish(request, session)})
        return web.Response(status=400, text="")

    async def _publish(self, request: web.Request, session: LongPollSession) -> int:
        limit = self.server.max_frame_size
        body = await request.content.read()
        try:
            frames = _split_batch(body, request.content_type)
        except FrameError as exc:
            logger.warning("bad long-poll batch on %s: %s", session.socket_id, exc)
            session.close(CLOSE_BAD_FRAME, stop_reason="crash")
            return 500
        if any(len(data) > limit for data, _ in frames):
            logger.warning("long-poll frame over %d bytes on %s", limit, session.socket_id)
            session.close(1009, stop_reason="crash")
            return 413
        return await session.publish(frames)

    async def _new_session(self, request: web.Request) -> web.StreamResponse:
        server = self.server
        params = dict(request.query.items())  # the last value of a repeated key wins
        forbidden = _json({"status": 403})
        try:
            serializer = negotiate_serializer(params.get("vsn"))
        except HandshakeError as exc:
            logger.info("refused long-poll session: %s", exc)
            return forbidden
        info = ConnectInfo(
            params=params,
            headers=request.headers,
            auth_token=request.headers.get(AUTH_TOKEN_HEADER),
            transport="longpoll",
        )
        accepted = server.authorize(params, info)
        if accepted is None:
            return forbidden
        assigns, sid = accepted
        token = _TOKEN_PREFIX + secrets.token_urlsafe(24)
        session = LongPollSession(server, self, token, request, serializer, params, assigns, sid)
        self.sessions[token] = session
        session.task = asyncio.get_running_loop().create_task(
            session.run(), name="phoenix-longpoll-session"
        )
        server.register(session)
        return _json({"status": 410, "token": token, "messages": []})


def add_longpoll_routes(app: web.Application, server: PhoenixServer) -> LongPollEndpoint:
    """Serve the long-poll transport of ``server`` at :data:`LONGPOLL_PATH` on ``app``.

    The poll window and session timeout come from the server's
    ``longpoll_window`` and ``longpoll_timeout`` attributes when it has them.

    Returns:
        The endpoint (its ``sessions`` table is live).
    """
    endpoint = LongPollEndpoint(
        server,
        window=getattr(server, "longpoll_window", DEFAULT_WINDOW),
        session_timeout=getattr(server, "longpoll_timeout", DEFAULT_SESSION_TIMEOUT),
    )
    app.router.add_route("*", LONGPOLL_PATH, endpoint.handle)
    return endpoint
