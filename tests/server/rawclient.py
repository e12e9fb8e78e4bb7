"""A tiny raw websocket client for the server tests: literal frames in, decoded frames out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")

WAIT = 3.0  # seconds any single frame may take to arrive
TEST_DEADLINE = 30.0


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run one async test body with an overall deadline."""

    async def main() -> T:
        return await asyncio.wait_for(fn(), TEST_DEADLINE)

    return asyncio.run(main())


class Closed:
    """The server closed the socket (``code`` None: no close frame)."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Closed({self.code!r}, {self.reason!r})"


class Raw:
    """One raw websocket connection."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, v1: bool) -> None:
        self.ws = ws
        self.v1 = v1

    async def send(self, join_ref: Any, ref: Any, topic: Any, event: Any, payload: Any) -> None:
        if self.v1:
            frame: Any = {"topic": topic, "event": event, "payload": payload, "ref": ref}
            if join_ref is not None:
                frame["join_ref"] = join_ref
        else:
            frame = [join_ref, ref, topic, event, payload]
        await self.ws.send_str(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def push_binary(
        self, join_ref: str, ref: str, topic: str, event: str, payload: bytes
    ) -> None:
        fields = [join_ref.encode(), ref.encode(), topic.encode(), event.encode()]
        header = bytes([0, *(len(f) for f in fields)])
        await self.ws.send_bytes(header + b"".join(fields) + payload)

    async def recv(self, wait: float = WAIT) -> Any:
        """Next frame: a list (V2), dict (V1), bytes (binary) or Closed."""
        msg = await asyncio.wait_for(self.ws.receive(), wait)
        if msg.type is aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return msg.data
        if msg.type is aiohttp.WSMsgType.CLOSE:
            return Closed(msg.data, msg.extra or "")
        return Closed(self.ws.close_code, "")

    async def recv_until(self, pred: Callable[[Any], bool], wait: float = WAIT) -> list[Any]:
        """Frames up to and including the first one matching ``pred`` (bounded)."""
        seen = []
        for _ in range(1000):
            frame = await self.recv(wait)
            seen.append(frame)
            if pred(frame):
                return seen
            if isinstance(frame, Closed):
                break
        raise AssertionError(f"no matching frame; got {seen!r}")

    async def reply_to(self, ref: str, wait: float = WAIT) -> Any:
        """Skip frames until the phx_reply for ``ref``; return it."""
        frames = await self.recv_until(lambda f: _is_reply(f, ref), wait)
        return frames[-1]

    async def join(self, topic: str, ref: str, payload: Any = None) -> Any:
        """Join (join_ref = ref) and return the reply frame (skipping nothing)."""
        await self.send(ref, ref, topic, "phx_join", {} if payload is None else payload)
        return await self.reply_to(ref)

    async def closed(self, wait: float = WAIT) -> Closed:
        """Skip frames until the close; return it."""
        frames = await self.recv_until(lambda f: isinstance(f, Closed), wait)
        closed = frames[-1]
        assert isinstance(closed, Closed)
        return closed

    async def silent(self, wait: float = 0.2) -> None:
        """Assert nothing arrives within ``wait`` s (used only after a barrier)."""
        try:
            frame = await self.recv(wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame!r}")


def _is_reply(frame: Any, ref: str) -> bool:
    if isinstance(frame, list):
        return bool(frame[3] == "phx_reply" and frame[1] == ref)
    if isinstance(frame, dict):
        return bool(frame["event"] == "phx_reply" and frame["ref"] == ref)
    if isinstance(frame, bytes):
        return frame[0] == 1 and binary_parts(frame)[1][1] == ref
    return isinstance(frame, Closed)


def binary_parts(frame: bytes) -> tuple[int, list[str], bytes]:
    """Split a server binary frame into (kind, fields, payload)."""
    kind = frame[0]
    n = {0: 3, 1: 4, 2: 2}[kind]
    sizes = list(frame[1 : 1 + n])
    fields, offset = [], 1 + n
    for size in sizes:
        fields.append(frame[offset : offset + size].decode())
        offset += size
    return kind, fields, frame[offset:]


@asynccontextmanager
async def connect(
    url: str,
    query: str = "vsn=2.0.0",
    *,
    protocols: Sequence[str] = (),
) -> AsyncIterator[Raw]:
    """Open ``url + "/websocket?" + query`` (V1 frames when the vsn is 1.x or missing)."""
    v1 = "vsn=2." not in query
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{url}/websocket?{query}", protocols=protocols, autoclose=False, max_msg_size=0
        ) as ws,
    ):
        yield Raw(ws, v1)


async def handshake_status(
    url: str, query: str = "vsn=2.0.0", protocols: Sequence[str] = ()
) -> int:
    """Return the HTTP status a refused handshake got (101 when accepted)."""
    try:
        async with connect(url, query, protocols=protocols):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
