"""WebSocketTransport: a websocket client connection with its own reader thread.

websocket-client opens the connection (TCP, TLS, proxies, the HTTP upgrade);
after that this module frames and reads the socket itself, for four reasons:

* **bounded close**: the reader waits on the socket *and* a wake-up pair, so
  :meth:`WebSocketTransport.close` wakes it and it gives up after a grace
  period even when the peer never answers (a blocked ``recv`` cannot be
  interrupted otherwise, and a socket timeout would also cut slow sends);
* **size limit before buffering**: ``max_frame_size`` is checked against the
  frame header, before the payload is read;
* **fewer syscalls**: one ``recv`` reads many frames, one ``send`` writes
  a whole :meth:`~WebSocketTransport.send_many` batch;
* **no secrets in logs**: subprotocols travel as a plain header and are
  checked here, because websocket-client logs the offered list (the auth
  token) when the server picks none.

Third-party exceptions are mapped at one seam, :func:`_map_connect_errors`,
into :mod:`phoenix_actors.errors` with ``raise ... from exc``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import selectors
import socket
import ssl
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final, NoReturn
from urllib.parse import urlsplit

import websocket

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import (
    ConnectError,
    ConnectionLostError,
    InvalidArgumentError,
    TransportError,
)
from phoenix_actors.transport._lifecycle import TransportLifecycle
from phoenix_actors.transport._lifecycle import redact_url as _redact
from phoenix_actors.transport.base import (
    FrameTooLargeError,
    ReadyState,
    Transport,
    TransportOptions,
    TransportSink,
    connect_error,
)

__all__ = ["CLOSE_GRACE", "WebSocketTransport", "websocket_transport_factory"]

_log = logging.getLogger("phoenix_actors.transport")

CLOSE_GRACE: Final = 1.0
"""Seconds the reader waits for the peer's close frame after ours."""

_OP_CONT: Final = 0x0
_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2
_OP_CLOSE: Final = 0x8
_OP_PING: Final = 0x9
_OP_PONG: Final = 0xA

_READ_SIZE: Final = 65536
_KEY_POOL_SIZE: Final = 4096  # mask keys come from one os.urandom call per 1024 frames
_CLOSE_NO_STATUS: Final = 1005
_CLOSE_ABNORMAL: Final = 1006
_CLOSE_PROTOCOL_ERROR: Final = 1002
_CLOSE_TOO_BIG: Final = 1009
# Codes an endpoint must never put in a close frame (RFC 6455 section 7.4.1).
_RESERVED_CODES: Final = frozenset({1004, 1005, 1006, 1015})

_DATA_OPCODES: Final = frozenset({_OP_TEXT, _OP_BINARY})

_pack_len16: Final = struct.Struct("!BBH").pack
_pack_len64: Final = struct.Struct("!BBQ").pack
_pack_code: Final = struct.Struct("!H").pack

_thread_numbers = itertools.count(1)


class _PeerClosedError(Exception):
    """The peer's close frame arrived."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class _FailError(Exception):
    """Fail the connection: send a close frame with ``code``, report ``error``."""

    def __init__(self, code: int, error: TransportError) -> None:
        super().__init__(code, error)
        self.code = code
        self.error = error


class _EofError(Exception):
    """The peer closed TCP."""


class _CloseTimeoutError(Exception):
    """Our close frame got no answer within the grace period."""


def _where(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    except ValueError:
        return "<invalid url>"


@contextmanager
def _map_connect_errors(where: str) -> Iterator[None]:
    """Turn websocket-client, ssl and socket failures into :class:`ConnectError`.

    Messages name the host and port only: never the query string, the
    headers or the subprotocols, which may carry secrets.
    """
    try:
        yield
    except ConnectError:
        raise
    except websocket.WebSocketBadStatusException as exc:
        status = int(exc.status_code)
        msg = f"handshake with {where} rejected with HTTP {status}"
        raise connect_error(msg, status=status) from exc
    except ssl.SSLCertVerificationError as exc:
        msg = f"TLS certificate verification failed for {where}: {exc.verify_message}"
        raise connect_error(msg, tls=True) from exc
    except ssl.SSLError as exc:
        msg = f"TLS handshake with {where} failed: {exc.reason or exc}"
        raise connect_error(msg, tls=True) from exc
    except (websocket.WebSocketTimeoutException, TimeoutError) as exc:
        raise connect_error(f"timed out connecting to {where}") from exc
    except (websocket.WebSocketAddressException, socket.gaierror) as exc:
        raise connect_error(f"could not resolve {where}") from exc
    except ConnectionRefusedError as exc:
        raise connect_error(f"connection refused by {where}") from exc
    except websocket.WebSocketConnectionClosedException as exc:
        raise connect_error(f"{where} closed the connection during the handshake") from exc
    except websocket.WebSocketException as exc:
        raise connect_error(f"websocket handshake with {where} failed: {exc}") from exc
    except OSError as exc:
        raise connect_error(f"could not connect to {where}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        # parse_url's messages may quote the URL: keep them out of ours.
        raise connect_error("invalid websocket URL (expected ws:// or wss://)") from exc


class WebSocketTransport(TransportLifecycle):
    """A :class:`~phoenix_actors.transport.base.Transport` over a real websocket.

    Args:
        url: a ``ws://`` or ``wss://`` URL (its query string is never logged).
        options: how to connect.
        sink: receives the callbacks, on this transport's thread.
        close_grace: seconds to wait for the peer's close frame after ours
            before the socket is shut down anyway.
    """

    delivers_batches = True
    """Calls ``sink.on_batch_end`` after the frames of each read (see TransportSink)."""

    def __init__(
        self,
        url: str,
        options: TransportOptions,
        sink: TransportSink,
        *,
        close_grace: float = CLOSE_GRACE,
    ) -> None:
        """Create a transport; nothing happens until :meth:`open`."""
        self._url = url
        self._options = options
        self._sink = sink
        self._close_grace = close_grace
        self._clock = MonotonicClock()
        # One lock for frames written to the socket and for state changes, so a
        # frame is never written after the close frame or to a closed socket.
        self._lock = threading.Lock()
        self._state: ReadyState = "connecting"
        self._started = False
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._close_requested: tuple[int, str] | None = None
        self._close_sent = False
        self._close_deadline: float | None = None
        self._waker_r: socket.socket | None = None
        self._waker_w: socket.socket | None = None
        self._keys = b""
        self._key_pos = _KEY_POOL_SIZE
        # Fragmented message in progress: opcode, parts, total size.
        self._frag_op: int | None = None
        self._frag_parts: list[bytes] = []
        self._frag_size = 0

    # -- caller-side API -------------------------------------------------------

    def open(self) -> None:
        """Start the reader thread, which connects, calls ``on_open`` and reads.

        Raises:
            RuntimeError: :meth:`open` was already called, or the transport
                was closed before it was opened.
        """
        with self._lock:
            self._mark_started()
            self._waker_r, self._waker_w = socket.socketpair()
            self._waker_r.setblocking(False)  # noqa: FBT003
            self._waker_w.setblocking(False)  # noqa: FBT003
            name = f"{self._options.name}-{next(_thread_numbers)}"
            self._thread = self._start_thread(self._run, name)

    def send(self, data: bytes, binary: bool) -> None:  # noqa: FBT001
        """Send one frame (binary or UTF-8 text); thread-safe.

        Raises:
            ConnectionLostError: the transport is not open, or the write failed.
        """
        with self._lock:
            self._check_open()
            self._write(self._frame(_OP_BINARY if binary else _OP_TEXT, data))

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Send ``(data, binary)`` frames in order with one lock and one write.

        Raises:
            ConnectionLostError: the transport is not open, or the write failed.
        """
        if not frames:
            return
        with self._lock:
            self._check_open()
            frame = self._frame
            self._write(b"".join([frame(_OP_BINARY if b else _OP_TEXT, d) for d, b in frames]))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and let the reader finish; non-blocking, idempotent.

        The reader calls ``on_close`` when the peer answers, when TCP ends, or
        after the grace period. A close before :meth:`open` just marks the
        transport closed (no callbacks).

        Raises:
            InvalidArgumentError: ``code`` cannot be sent (outside 1000-4999 or
                reserved) or ``reason`` is over 123 UTF-8 bytes.
        """
        payload = _close_payload(code, reason)
        # A sender stuck on a full socket buffer holds the lock: shut the
        # socket so its write fails and the reader ends, rather than wait.
        if not self._lock.acquire(timeout=self._close_grace):
            self._close_requested = (code, reason)
            self._shutdown_socket()
            return
        try:
            if self._close_requested is not None or self._state == "closed":
                return
            self._close_requested = (code, reason)
            if self._close_unopened():
                return
            if self._state == "open":
                self._state = "closing"
                self._send_close_locked(payload)
            else:  # connecting: the reader sends it once the handshake is done
                self._state = "closing"
        finally:
            self._lock.release()
        self._wake()

    def _threads(self) -> tuple[threading.Thread | None, ...]:
        return (self._thread,)

    # -- writing (always under self._lock) -------------------------------------

    def _frame(self, opcode: int, data: bytes) -> bytes:
        """Encode one masked client frame."""
        n = len(data)
        pos = self._key_pos
        if pos >= _KEY_POOL_SIZE:
            self._keys = os.urandom(_KEY_POOL_SIZE)
            pos = 0
        self._key_pos = pos + 4
        key = self._keys[pos : pos + 4]
        first = 0x80 | opcode
        if n < 126:
            head = bytes((first, 0x80 | n))
        elif n < 65536:
            head = _pack_len16(first, 0xFE, n)
        else:
            head = _pack_len64(first, 0xFF, n)
        if not n:
            return head + key
        # XOR as one big integer: far faster than a Python loop over bytes.
        mask = int.from_bytes((key * ((n >> 2) + 1))[:n], "little")
        masked = (int.from_bytes(data, "little") ^ mask).to_bytes(n, "little")
        return b"".join((head, key, masked))

    def _write(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionLostError("cannot send: no socket")
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            sent = 0
        except OSError as exc:
            self._shutdown_socket()
            raise ConnectionLostError(f"send failed: {exc.strerror or exc}") from exc
        if sent < len(data):
            self._write_slow(sock, memoryview(data)[sent:])

    def _write_slow(self, sock: socket.socket, view: memoryview) -> None:
        """Finish a partial write, waiting for the socket to drain."""
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            while view:
                selector.select()
                try:
                    view = view[sock.send(view) :]
                except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                    continue
                except (OSError, ValueError) as exc:
                    self._shutdown_socket()
                    raise ConnectionLostError(f"send failed: {exc}") from exc

    def _send_close_locked(self, payload: bytes) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        try:
            self._write(self._frame(_OP_CLOSE, payload))
        except ConnectionLostError:
            _log.debug("close frame not sent: connection already lost")

    def _wake(self) -> None:
        waker = self._waker_w
        if waker is not None:
            # Full means already woken; closed means the reader is done.
            with contextlib.suppress(OSError):
                waker.send(b"\0")

    def _shutdown_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already shut down
                sock.shutdown(socket.SHUT_RDWR)

    # -- the reader thread -----------------------------------------------------

    def _run(self) -> None:
        error: TransportError | None = None
        code, reason, clean = _CLOSE_ABNORMAL, "", False
        try:
            try:
                self._connect()
            except ConnectError as exc:
                _log.debug("connect to %s failed: %s", _redact(self._url), exc)
                error, reason = exc, str(exc)
            else:
                code, reason, clean, error = self._serve()
        except Exception as exc:  # noqa: BLE001 (a bug here must still end in on_close)
            _log.exception("transport reader failed")
            error = ConnectionLostError(f"transport reader failed: {exc!r}")
            error.__cause__ = exc
            code, reason, clean = _CLOSE_ABNORMAL, "", False
        finally:
            self._teardown()
        if error is not None:
            self._call_sink("on_error", error)
        _log.debug("transport closed: code=%s clean=%s", code, clean)
        self._call_sink("on_close", code, reason, clean)

    def _connect(self) -> None:
        options = self._options
        url = self._url
        where = _where(url)
        _log.debug("connecting to %s", _redact(url))
        header = [f"{name}: {value}" for name, value in options.headers]
        if options.subprotocols:
            header.append("Sec-WebSocket-Protocol: " + ", ".join(options.subprotocols))
        with _map_connect_errors(where):
            sslopt: dict[str, object] = {}
            if url.lower().startswith("wss:"):
                sslopt["context"] = options.ssl_context or ssl.create_default_context()
            ws = websocket.WebSocket(
                sslopt=sslopt, enable_multithread=True, skip_utf8_validation=True
            )
            # No Origin header: Phoenix's check_origin lets an absent one pass,
            # while websocket-client's guess (http://host:port) may not match.
            ws.connect(  # type: ignore[no-untyped-call]
                url, header=header, timeout=options.connect_timeout, suppress_origin=True
            )
            sock = ws.sock
            assert sock is not None  # connect() either sets it or raises
            chosen = (ws.getheaders() or {}).get("sec-websocket-protocol")
            if options.subprotocols and chosen not in options.subprotocols:
                ws.shutdown()  # type: ignore[no-untyped-call]
                msg = f"{where} accepted none of the offered subprotocols"
                raise connect_error(msg)
            sock.setblocking(False)  # noqa: FBT003
        self._sock = sock

    def _serve(self) -> tuple[int, str, bool, TransportError | None]:
        """Open, read until the end, and say how it ended."""
        self._announce_open()
        try:
            self._read_loop()
        except _PeerClosedError as closed:
            return closed.code, closed.reason, True, None
        except _FailError as fail:
            with self._lock:
                self._state = "closing"
                self._send_close_locked(_close_payload(fail.code, ""))
            return fail.code, str(fail.error), False, fail.error
        except _CloseTimeoutError:
            return _CLOSE_ABNORMAL, "close handshake timed out", False, None
        except (_EofError, OSError, ConnectionLostError) as exc:
            if self._close_requested is not None:
                return _CLOSE_ABNORMAL, "", False, None
            if isinstance(exc, _EofError):
                lost = ConnectionLostError("peer closed the connection without a close frame")
            else:
                lost = ConnectionLostError(f"connection lost: {exc}")
                lost.__cause__ = exc
            return _CLOSE_ABNORMAL, "", False, lost
        raise AssertionError("unreachable: the read loop only ends by raising")  # pragma: no cover

    def _announce_open(self) -> None:
        """Go open and call ``on_open``, or, if closed while connecting, send our close."""
        with self._lock:
            if self._close_requested is None:
                self._state = "open"
                opened = True
            else:  # closed while connecting: do the close handshake, skip on_open
                opened = False
                self._send_close_locked(_close_payload(*self._close_requested))
        if opened:
            _log.debug("connected to %s", _redact(self._url))
            self._call_sink("on_open")

    def _read_loop(self) -> None:
        """Read and dispatch frames until one of the private exceptions ends it."""
        waker = self._waker_r
        sock = self._sock
        assert waker is not None
        assert sock is not None
        # TLS may hold decrypted bytes the socket no longer shows as readable.
        pending = sock.pending if isinstance(sock, ssl.SSLSocket) else None
        chunks: list[bytes] = []
        have = 0
        need = 2
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(waker, selectors.EVENT_READ)
            while True:
                if pending is None or not pending():
                    self._wait_readable(selector, sock)
                try:
                    chunk = sock.recv(_READ_SIZE)
                except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
                    continue
                except ssl.SSLWantWriteError:
                    continue
                if not chunk:
                    raise _EofError
                chunks.append(chunk)
                have += len(chunk)
                if have < need:
                    continue
                data = chunk if len(chunks) == 1 else b"".join(chunks)
                used, need = self._parse(data)
                self._end_batch()
                rest = data[used:] if used else data
                chunks = [rest] if rest else []
                have = len(rest)

    def _wait_readable(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        while True:
            timeout = None
            if self._close_requested is not None:
                if self._close_deadline is None:
                    self._close_deadline = self._clock.now() + self._close_grace
                timeout = max(0.0, self._close_deadline - self._clock.now())
            events = selector.select(timeout)
            if not events:
                raise _CloseTimeoutError
            ready = False
            for key, _ in events:
                if key.fileobj is sock:
                    ready = True
                else:
                    self._drain_waker()
            if ready:
                return

    def _drain_waker(self) -> None:
        waker = self._waker_r
        assert waker is not None
        try:
            while waker.recv(64):
                pass
        except OSError:
            pass  # drained

    def _parse(self, data: bytes) -> tuple[int, int]:
        """Dispatch every whole frame in ``data``.

        Returns:
            ``(used, need)``: bytes consumed, and how many bytes from there
            the next frame needs before parsing is worth trying again.
        """
        end = len(data)
        p = 0
        limit = self._options.max_frame_size
        while True:
            avail = end - p
            if avail < 2:
                return p, 2
            b0 = data[p]
            b1 = data[p + 1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if avail < 4:
                    return p, 4
                size = int.from_bytes(data[p + 2 : p + 4], "big")
                head = 4
            elif size == 127:
                if avail < 10:
                    return p, 10
                size = int.from_bytes(data[p + 2 : p + 10], "big")
                head = 10
            opcode = b0 & 0x0F
            if b1 & 0x80:
                _violation("the server sent a masked frame")
            if b0 & 0x70:
                _violation("reserved bits set in a frame")
            if opcode >= _OP_CLOSE and (size > 125 or not b0 & 0x80):
                _violation("control frame too long or fragmented")
            if limit is not None and opcode < _OP_CLOSE and self._frag_size + size > limit:
                error = FrameTooLargeError(
                    f"incoming message of at least {self._frag_size + size} bytes "
                    f"is over max_frame_size={limit}"
                )
                raise _FailError(_CLOSE_TOO_BIG, error)
            stop = p + head + size
            if stop > end:
                return p, head + size
            payload = data[p + head : stop]
            p = stop
            if opcode in _DATA_OPCODES:
                if self._frag_op is not None:
                    _violation("new message inside a fragmented one")
                if b0 & 0x80:
                    self._deliver(payload, opcode == _OP_BINARY)
                else:
                    self._frag_op = opcode
                    self._frag_parts = [payload]
                    self._frag_size = size
            elif opcode == _OP_CONT:
                if self._frag_op is None:
                    _violation("continuation frame without a message")
                self._frag_parts.append(payload)
                self._frag_size += size
                if b0 & 0x80:
                    binary = self._frag_op == _OP_BINARY
                    whole = b"".join(self._frag_parts)
                    self._frag_op, self._frag_parts, self._frag_size = None, [], 0
                    self._deliver(whole, binary)
            elif opcode == _OP_PING:
                self._reply(_OP_PONG, payload)
            elif opcode == _OP_CLOSE:
                self._peer_closed(payload)
            elif opcode != _OP_PONG:
                _violation(f"unknown opcode {opcode}")

    def _deliver(self, data: bytes, binary: bool) -> None:  # noqa: FBT001
        # Frames after close() are dropped, as a browser drops them.
        if self._state != "open":
            return
        self._call_sink("on_message", data, binary)

    def _reply(self, opcode: int, payload: bytes) -> None:
        with self._lock:
            if self._state == "open":
                self._write(self._frame(opcode, payload))

    def _peer_closed(self, payload: bytes) -> NoReturn:
        if len(payload) == 1:
            _violation("close frame with a one-byte payload")
        code = int.from_bytes(payload[:2], "big") if payload else _CLOSE_NO_STATUS
        if payload and (code < 1000 or code in _RESERVED_CODES):
            _violation(f"close frame with invalid code {code}")
        reason = payload[2:].decode("utf-8", "replace")
        with self._lock:
            self._state = "closing"
            # Echo the peer's status code (RFC 6455 section 5.5.1).
            self._send_close_locked(payload[:2])
        raise _PeerClosedError(code, reason)

    def _teardown(self) -> None:
        with self._lock:
            self._state = "closed"
            sock, self._sock = self._sock, None
            if sock is not None:
                with contextlib.suppress(OSError):  # the peer was faster
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            for waker in (self._waker_r, self._waker_w):
                if waker is not None:
                    waker.close()
            self._waker_r = self._waker_w = None


def _violation(message: str) -> NoReturn:
    raise _FailError(
        _CLOSE_PROTOCOL_ERROR, ConnectionLostError(f"websocket protocol error: {message}")
    )


def _close_payload(code: int, reason: str) -> bytes:
    if not 1000 <= code <= 4999 or code in _RESERVED_CODES:
        raise InvalidArgumentError(f"close code {code} cannot be sent (1000-4999, not reserved)")
    encoded = reason.encode("utf-8")
    if len(encoded) > 123:
        raise InvalidArgumentError("close reason is over 123 UTF-8 bytes")
    return _pack_code(code) + encoded


def websocket_transport_factory(
    url: str, options: TransportOptions, sink: TransportSink
) -> Transport:
    """The default :data:`~phoenix_actors.transport.base.TransportFactory`.

    Returns:
        A new, unopened :class:`WebSocketTransport`.
    """
    return WebSocketTransport(url, options, sink)
