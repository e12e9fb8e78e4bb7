"""A websocket peer that answers the first join, then never reads again.

Played by hand on a plain socket (no websocket library): it does the HTTP
upgrade, decodes the client's masked frames until the first V2 ``phx_join``,
answers it ``ok`` and stops reading for good, so the client's writes pile up
(the receive buffer is shrunk before the handshake to make that quick). It
accepts one connection; later connects are refused (the listener is closed).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
from types import TracebackType
from typing import Self

from tests.transport.servers import server_frame, unmask_client_frames

WAIT = 5.0
"""Seconds any wait of the peer allows (a passing test never reaches it)."""

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
RCVBUF = 4096
_OP_TEXT = 0x1


def _frame_end(data: bytes) -> int | None:
    """Length of the first complete masked client frame in ``data`` (None: incomplete)."""
    if len(data) < 2:
        return None
    n = data[1] & 0x7F
    p = 2
    if n == 126:
        if len(data) < 4:
            return None
        n, p = int.from_bytes(data[2:4], "big"), 4
    elif n == 127:
        if len(data) < 10:
            return None
        n, p = int.from_bytes(data[2:10], "big"), 10
    end = p + 4 + n
    return end if len(data) >= end else None


class StalledPeer:
    """Serve one websocket connection on 127.0.0.1: answer one join, then stall.

    Attributes:
        joined: set once the join reply has been written (reading stops there).
        join: the client's ``phx_join`` message, as decoded.
    """

    def __init__(self) -> None:
        """Listen on 127.0.0.1, a free port; :meth:`start` (or ``with``) serves."""
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # inherited by the accepted socket; must precede the handshake to bound the window
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.port: int = self._listener.getsockname()[1]
        self.joined = threading.Event()
        self.join: list[object] | None = None
        self._done = threading.Event()
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="test-stalled-peer")

    @property
    def url(self) -> str:
        """The endpoint to give a client."""
        return f"ws://127.0.0.1:{self.port}/socket"

    def start(self) -> None:
        """Start the serving thread."""
        self._thread.start()

    def stop(self) -> None:
        """Close the connection (if any) and join the thread."""
        self._done.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the stalled peer's thread did not end"

    def __enter__(self) -> Self:
        """Start serving."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        self.stop()

    def _serve(self) -> None:
        self._listener.settimeout(WAIT)
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return  # stopped before any client came
        finally:
            with contextlib.suppress(OSError):
                self._listener.close()  # one connection only: later connects are refused
        self._conn = conn
        try:
            conn.settimeout(WAIT)
            self._handshake(conn)
            self._answer_first_join(conn)
            self._done.wait(3 * WAIT)  # never read again, until the test is done
        except OSError:
            pass  # the client went away (or stop() shut the socket)
        finally:
            conn.close()

    @staticmethod
    def _handshake(conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                raise ConnectionResetError
            head += chunk
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    def _answer_first_join(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            end = _frame_end(buffer)
            if end is None:
                chunk = conn.recv(4096)
                if not chunk:
                    raise ConnectionResetError
                buffer += chunk
                continue
            ((opcode, payload),) = unmask_client_frames(buffer[:end])
            buffer = buffer[end:]
            if opcode != _OP_TEXT:
                continue
            message = json.loads(payload)
            if isinstance(message, list) and len(message) == 5 and message[3] == "phx_join":
                join_ref, ref, topic = message[0], message[1], message[2]
                reply = [join_ref, ref, topic, "phx_reply", {"status": "ok", "response": {}}]
                conn.sendall(server_frame(_OP_TEXT, json.dumps(reply).encode()))
                self.join = message
                self.joined.set()
                return
