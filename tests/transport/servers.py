"""Loopback websocket servers for the transport tests: aiohttp on a background loop.

``WSServer`` serves:

* ``/ws``: echoes every frame; text commands script the server side:
  ``close:<code>:<reason>``, ``drop`` (abort TCP), ``big:<n>`` (an n-byte text
  frame), ``ping`` (a ping, then ``pinged``). It offers the ``phoenix``
  subprotocol.
* ``/forbidden``: HTTP 403.
* ``/silent``: upgrades, then never reads (a client close is never answered).

``RawServer`` does the HTTP upgrade by hand and then writes scripted bytes,
for frames aiohttp will not produce (fragments, no-status close, masked);
with ``reading=False`` it stops reading until :meth:`RawServer.release`
(a peer whose receive window fills up), over TLS with ``ssl_context``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ssl
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

T = TypeVar("T")
WAIT = 5.0  # generous bound for every wait; a passing test never reaches it


@dataclass
class Conn:
    """What the server saw of one websocket connection."""

    path: str
    headers: dict[str, str]
    protocol: str | None
    received: list[tuple[str, bytes | str]] = field(default_factory=list)
    close_code: int | None = None
    ended: bool = False


class Loop:
    """An asyncio loop running in one background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-aiohttp-loop")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    def stop(self) -> None:
        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
            await self.loop.shutdown_default_executor()

        self.run(_drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


class WSServer:
    """An aiohttp websocket server on 127.0.0.1, port 0."""

    def __init__(self, loop: Loop, ssl_context: ssl.SSLContext | None = None) -> None:
        self._loop = loop
        self._ssl = ssl_context
        self.conns: list[Conn] = []
        self.cond = threading.Condition()
        self._sockets: set[web.WebSocketResponse] = set()
        app = web.Application()
        app.router.add_get("/ws", self._echo)
        app.router.add_get("/forbidden", self._forbidden)
        app.router.add_get("/silent", self._silent)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        self.port = loop.run(self._start())

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def url(self, path: str = "/ws", query: str = "") -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{path}{query}"

    def stop(self) -> None:
        async def _stop() -> None:
            for ws in list(self._sockets):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(code=1001), 0.2)
            await self._runner.cleanup()

        self._loop.run(_stop())

    def wait_for(self, predicate: Callable[[], T], timeout: float = WAIT) -> T:
        """Wait until ``predicate()`` is truthy (evaluated under the lock)."""
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
            if not result:
                raise AssertionError(f"server never saw it; connections: {self.conns}")
            return result

    def wait_conn(self, index: int = 0) -> Conn:
        """Wait for the ``index``-th connection to be accepted."""
        self.wait_for(lambda: len(self.conns) > index)
        return self.conns[index]

    def wait_ended(self, index: int = 0) -> Conn:
        """Wait for the ``index``-th connection's handler to finish."""
        self.wait_for(lambda: len(self.conns) > index and self.conns[index].ended)
        return self.conns[index]

    def _record(self, conn: Conn, kind: str, data: bytes | str) -> None:
        with self.cond:
            conn.received.append((kind, data))
            self.cond.notify_all()

    async def _accept(
        self, request: web.Request, **kwargs: Any
    ) -> tuple[web.WebSocketResponse, Conn]:
        ws = web.WebSocketResponse(protocols=("phoenix",), **kwargs)
        await ws.prepare(request)
        conn = Conn(request.path, dict(request.headers), ws.ws_protocol)
        with self.cond:
            self.conns.append(conn)
            self.cond.notify_all()
        self._sockets.add(ws)
        return ws, conn

    def _ended(self, ws: web.WebSocketResponse, conn: Conn) -> None:
        self._sockets.discard(ws)
        with self.cond:
            conn.close_code = ws.close_code
            conn.ended = True
            self.cond.notify_all()

    async def _echo(self, request: web.Request) -> web.StreamResponse:
        ws, conn = await self._accept(request)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    self._record(conn, "binary", msg.data)
                    await ws.send_bytes(msg.data)
                    continue
                if msg.type != WSMsgType.TEXT:
                    continue
                text: str = msg.data
                self._record(conn, "text", text)
                if text.startswith("close:"):
                    _, code, reason = text.split(":", 2)
                    await ws.close(code=int(code), message=reason.encode())
                elif text == "drop":
                    transport = request.transport
                    assert transport is not None
                    transport.abort()
                    break
                elif text.startswith("big:"):
                    await ws.send_str("x" * int(text[4:]))
                elif text == "ping":
                    await ws.ping(b"hi")
                    await ws.send_str("pinged")
                else:
                    await ws.send_str(text)
        finally:
            self._ended(ws, conn)
        return ws

    async def _forbidden(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPForbidden(text="no entry")

    async def _silent(self, request: web.Request) -> web.StreamResponse:
        ws, conn = await self._accept(request, autoclose=False)
        try:
            await asyncio.Event().wait()  # until stop() cancels the handler
        finally:
            self._ended(ws, conn)
        return ws


class RawServer:
    """Accepts one websocket upgrade by hand, then writes the scripted bytes.

    With ``gate``, the 101 answer waits until the gate is set. After the
    script it reads until EOF and records what the client sent; with
    ``reading=False`` it reads nothing until :meth:`release` (asyncio stops
    reading the socket once its own small buffer is full, so the client's
    writes back up). :meth:`hang_up` closes the connection from this side.
    """

    def __init__(
        self,
        loop: Loop,
        script: bytes,
        *,
        hold: bool = True,
        gate: threading.Event | None = None,
        reading: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._loop = loop
        self._gate = gate
        self._script = script
        self._hold = hold
        self._ssl = ssl_context
        self._reading = asyncio.Event()
        if reading:
            self._reading.set()
        self._writer: asyncio.StreamWriter | None = None
        self.received = bytearray()
        self.cond = threading.Condition()
        self.done = threading.Event()
        self._server = loop.run(self._start())
        self.port = self._server.sockets[0].getsockname()[1]

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ssl)

    def url(self) -> str:
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/raw"

    def release(self) -> None:
        """Start (or resume) reading what the client sent."""
        self._loop.loop.call_soon_threadsafe(self._reading.set)

    def hang_up(self) -> None:
        """Close the connection from the server side (the client sees EOF)."""

        async def _close() -> None:
            if self._writer is not None:
                self._writer.close()

        self._loop.run(_close())

    def wait_received(self, size: int, timeout: float = WAIT) -> bytes:
        """Wait until the client has sent at least ``size`` bytes; return them all."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.received) >= size, timeout):
                raise AssertionError(f"wanted {size} bytes, got {len(self.received)}")
            return bytes(self.received)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if self._gate is not None:  # hold the handshake until the test opens the gate
                await asyncio.get_running_loop().run_in_executor(None, self._gate.wait, WAIT)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            writer.write(self._script)
            await writer.drain()
            self._writer = writer
            if self._hold:
                await self._reading.wait()
                while chunk := await reader.read(65536):
                    with self.cond:
                        self.received.extend(chunk)
                        self.cond.notify_all()
        except (ConnectionError, ssl.SSLError):
            pass  # the client went away mid-read (a failed connection shuts down hard)
        finally:
            writer.close()
            self.done.set()

    def stop(self) -> None:
        async def _stop() -> None:
            self._reading.set()
            self._server.close()
            await self._server.wait_closed()

        self._loop.run(_stop())


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = False) -> bytes:
    """Encode one server-to-client frame (unmasked unless ``mask``)."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head = bytes((first, mask_bit | n))
    elif n < 65536:
        head = bytes((first, mask_bit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + n.to_bytes(8, "big")
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def _unmask(payload: bytes, key: bytes) -> bytes:
    # Each of the 4 key bytes XORs every 4th byte: one translate per stride
    # (C speed, and not the client's big-integer trick, so no shared bug).
    out = bytearray(payload)
    for j in range(4):
        out[j::4] = payload[j::4].translate(bytes(b ^ key[j] for b in range(256)))
    return bytes(out)


def client_frame_size(payload_size: int) -> int:
    """Bytes one masked client frame with a ``payload_size``-byte payload takes."""
    head = 2 if payload_size < 126 else 4 if payload_size < 65536 else 10
    return head + 4 + payload_size


def unmask_client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Decode masked client frames into ``(opcode, payload)``."""
    frames = []
    p = 0
    while p + 2 <= len(data):
        opcode = data[p] & 0x0F
        n = data[p + 1] & 0x7F
        p += 2
        if n == 126:
            n = int.from_bytes(data[p : p + 2], "big")
            p += 2
        elif n == 127:
            n = int.from_bytes(data[p : p + 8], "big")
            p += 8
        key = data[p : p + 4]
        p += 4
        payload = _unmask(data[p : p + n], key)
        p += n
        frames.append((opcode, payload))
    return frames
