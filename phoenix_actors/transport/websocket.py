"""WebSocketTransport: a websocket client connection with its own I/O thread.

websocket-client opens the connection (TCP, TLS, proxies, the HTTP upgrade);
after that this module frames, writes and reads the socket itself:

* **sends never block**: :meth:`~WebSocketTransport.send` of a small frame
  with nothing queued encodes it and tries one non-blocking write on the
  caller's thread (low latency), leaving what the socket did not take in a
  bounded outgoing buffer. Frames sent while others wait, and sends of
  64 KiB or more, are queued unencoded: the I/O thread masks them when
  their turn comes, so an actor never pays for masking megabytes. The I/O
  thread, which waits on the socket *and* a wake-up pair, also waits for
  writability while that buffer is not empty and drains it. One writer at
  a time (the transport lock), so frames go out whole and in order, the
  close frame after everything queued before it. With TLS a write that
  raised ``SSLWantWriteError`` is retried with the same buffer, as OpenSSL
  requires, and reads take the lock too (an ``SSLSocket`` is not safe for
  a concurrent read and write);
* **every wait has a deadline**: a byte unsent for
  ``TransportOptions.write_timeout`` seconds, or a send that would take the
  buffer over ``max_buffered``, fails the connection
  (``on_error(ConnectionLostError)``, ``on_close(1006)``);
  :meth:`~WebSocketTransport.close` only queues the close frame and wakes
  the I/O thread, which gives up after a grace period even when the peer
  never answers (a blocked ``recv`` cannot be interrupted otherwise);
* **incoming limits before buffering**: ``max_frame_size`` is checked against
  the frame header, before the payload is read (close 1009); a text message
  that is not UTF-8 closes with 1007 (RFC 6455 section 8.1) and is never
  delivered;
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
from collections import deque
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

CLOSE_GRACE: Final = 0.5
"""Seconds the I/O thread waits for the peer's close frame after ours (a peer that
answers does so in milliseconds; one that stalls must not hold ``stop()`` long)."""

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
_CLOSE_INVALID_DATA: Final = 1007
_CLOSE_TOO_BIG: Final = 1009
# Codes an endpoint must never put in a close frame (RFC 6455 section 7.4.1).
_RESERVED_CODES: Final = frozenset({1004, 1005, 1006, 1015})

_DATA_OPCODES: Final = frozenset({_OP_TEXT, _OP_BINARY})

_pack_len16: Final = struct.Struct("!BBH").pack
_pack_len64: Final = struct.Struct("!BBQ").pack
_pack_code: Final = struct.Struct("!H").pack

# Payload bytes from which a send hands its frames to the I/O thread unencoded:
# masking costs ~1.6 ms a MB, far more than the wake-up, and the caller is an actor.
_HAND_OVER_FROM: Final = 65536
_TRANSLATE_FROM: Final = 4096  # payload bytes from which per-lane translate beats the int XOR
# _XOR[k] maps each byte b to b ^ k (bytes.translate tables for masking).
_XOR: Final = tuple(bytes(b ^ k for b in range(256)) for k in range(256))

_thread_numbers = itertools.count(1)


class _Pending:
    """One entry of the outgoing buffer.

    Either encoded bytes to write (``opcode`` None; after a partial write,
    the unwritten tail) or a payload still to be framed and masked, which
    the I/O thread does when it reaches it: under backpressure a send costs
    the caller no encoding. ``since`` is when it was queued (the write
    deadline runs from the head's).
    """

    __slots__ = ("data", "opcode", "since")

    def __init__(self, data: bytes | memoryview, opcode: int | None, since: float) -> None:
        self.data = data
        self.opcode = opcode
        self.since = since


def _frame_size(n: int) -> int:
    """Bytes a masked client frame with an ``n``-byte payload takes."""
    return (2 if n < 126 else 4 if n < 65536 else 10) + 4 + n


def _encode(opcode: int, data: bytes, key: bytes) -> bytes:
    """Encode one client frame, masked with the 4-byte ``key``."""
    n = len(data)
    first = 0x80 | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = _pack_len16(first, 0xFE, n)
    else:
        head = _pack_len64(first, 0xFF, n)
    if not n:
        return head + key
    if n < _TRANSLATE_FROM:
        # XOR as one big integer: far faster than a Python loop over bytes.
        mask = int.from_bytes((key * ((n >> 2) + 1))[:n], "little")
        masked: bytes | bytearray = (int.from_bytes(data, "little") ^ mask).to_bytes(n, "little")
    else:
        # Each key byte XORs every 4th byte: one C-speed translate per lane,
        # about twice the big-integer XOR on large payloads.
        masked = bytearray(data)
        masked[0::4] = data[0::4].translate(_XOR[key[0]])
        masked[1::4] = data[1::4].translate(_XOR[key[1]])
        masked[2::4] = data[2::4].translate(_XOR[key[2]])
        masked[3::4] = data[3::4].translate(_XOR[key[3]])
    return b"".join((head, key, masked))


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


class _WriteFailedError(Exception):
    """The outgoing side failed (see ``WebSocketTransport._failure``)."""


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
        options: how to connect, and the outgoing limits ``write_timeout``
            and ``max_buffered``.
        sink: receives the callbacks, on this transport's thread.
        close_grace: seconds to wait for the peer's close frame after ours
            (and, when the connection fails, for our close frame to go out)
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
        # One lock for writing the socket (one writer at a time: frames go out
        # whole and in order), for the outgoing buffer and for state changes,
        # so a frame is never written after the close frame or to a closed
        # socket. Held only for non-blocking work.
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
        # Outgoing buffer: whole frames the socket has not taken yet, in order;
        # the head may be partly written. _out_bytes counts them encoded.
        self._out: deque[_Pending] = deque()
        self._out_bytes = 0
        # TLS: the last write needs the peer's data first (renegotiation).
        self._want_read = False
        # Set once the outgoing side failed; the I/O thread ends with it.
        self._failure: ConnectionLostError | None = None
        # Fragmented message in progress: opcode, parts, total size.
        self._frag_op: int | None = None
        self._frag_parts: list[bytes] = []
        self._frag_size = 0

    # -- caller-side API -------------------------------------------------------

    @property
    def buffered_amount(self) -> int:
        """Bytes accepted by :meth:`send` that the socket has not taken yet.

        Named after the browser's ``WebSocket.bufferedAmount``; at most
        ``options.max_buffered`` (plus the one close frame).
        """
        return self._out_bytes

    def open(self) -> None:
        """Start the I/O thread, which connects, calls ``on_open``, reads and writes.

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
        """Send one frame (binary or UTF-8 text); thread-safe, never blocks.

        Raises:
            ConnectionLostError: the transport is not open, the connection
                failed, or the frame would take the outgoing buffer over
                ``max_buffered`` (then the connection fails: ``on_error`` and
                ``on_close(1006)`` follow).
        """
        opcode = _OP_BINARY if binary else _OP_TEXT
        with self._lock:  # the common case, kept short: one frame
            if self._state != "open":
                self._not_sendable()
            if self._out or len(data) >= _HAND_OVER_FROM:
                self._queue_payloads_locked(((opcode, data),))
            else:
                self._enqueue(self._frame(opcode, data))

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Send ``(data, binary)`` frames in order, together (one write when nothing is queued).

        Never blocks.

        Raises:
            ConnectionLostError: as :meth:`send` (the whole batch is refused).
        """
        if not frames:
            return
        coded = [(_OP_BINARY if b else _OP_TEXT, d) for d, b in frames]
        size = sum([len(d) for d, _ in frames])
        with self._lock:
            if self._state != "open":
                self._not_sendable()
            if self._out or size >= _HAND_OVER_FROM:
                self._queue_payloads_locked(coded)
            else:
                frame = self._frame
                self._enqueue(b"".join([frame(op, data) for op, data in coded]))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Queue a close frame and let the I/O thread finish; never blocks, idempotent.

        The close frame goes out after every frame sent before it. The I/O
        thread calls ``on_close`` when the peer answers, when TCP ends, or
        after the grace period. A close before :meth:`open` just marks the
        transport closed (no callbacks); a close after the connection failed
        does nothing (its ``on_close`` is on the way).

        Raises:
            InvalidArgumentError: ``code`` cannot be sent (outside 1000-4999 or
                reserved) or ``reason`` is over 123 UTF-8 bytes.
        """
        payload = _close_payload(code, reason)
        with self._lock:
            if self._close_requested is not None or self._state == "closed":
                return
            if self._failure is not None:
                return
            self._close_requested = (code, reason)
            if self._close_unopened():
                return
            if self._state == "open":
                self._send_close_locked(payload)
            # connecting: the I/O thread sends it once the handshake is done
            self._state = "closing"
        self._wake()

    def _threads(self) -> tuple[threading.Thread | None, ...]:
        return (self._thread,)

    # -- writing (under self._lock) ----------------------------------------------

    def _not_sendable(self) -> NoReturn:
        """Raise why a send is refused (the state is not open)."""
        if self._failure is not None:
            raise ConnectionLostError(f"cannot send: {self._failure}")
        self._check_open()
        raise AssertionError("unreachable: the transport is open")  # pragma: no cover

    def _next_key(self) -> bytes:
        """The next 4-byte mask key from the pool (refilled by one os.urandom call)."""
        pos = self._key_pos
        if pos >= _KEY_POOL_SIZE:
            self._keys = os.urandom(_KEY_POOL_SIZE)
            pos = 0
        self._key_pos = pos + 4
        return self._keys[pos : pos + 4]

    def _frame(self, opcode: int, data: bytes) -> bytes:
        """Encode one masked client frame."""
        return _encode(opcode, data, self._next_key())

    def _overflow_locked(self, more: int) -> NoReturn:
        limit = self._options.max_buffered
        error = ConnectionLostError(
            f"outgoing buffer over max_buffered={limit} bytes: {self._out_bytes} bytes "
            f"unsent and {more} more sent (is the peer reading?)"
        )
        self._fail_locked(error)
        raise error

    def _queue_payloads_locked(self, frames: Sequence[tuple[int, bytes]]) -> None:
        """Queue frames unencoded, for the I/O thread to frame, mask and write in turn.

        Used when frames are already waiting (backpressure: the caller pays
        no encoding for frames that may wait long) and for big sends.
        """
        more = sum([_frame_size(len(data)) for _, data in frames])
        limit = self._options.max_buffered
        if limit is not None and self._out_bytes + more > limit:
            self._overflow_locked(more)
        was_empty = not self._out
        now = self._clock.now()
        append = self._out.append
        for opcode, data in frames:
            append(_Pending(bytes(data), opcode, now))
        self._out_bytes += more
        if was_empty:
            self._wake()  # the I/O thread now waits for writability too

    def _enqueue(self, data: bytes, *, bounded: bool = True) -> None:
        """Write whole frames now if nothing is queued; queue what the socket does not take.

        Raises:
            ConnectionLostError: no socket, the write failed, or (``bounded``)
                the buffer would go over ``max_buffered``; all but the first
                also fail the connection.
        """
        sock = self._sock
        if sock is None:
            raise ConnectionLostError("cannot send: no socket")
        sent = 0
        if not self._out:  # the fast path: nothing ahead of this frame
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                pass  # with TLS, retried later with the same buffer
            except ssl.SSLWantReadError:
                self._want_read = True
            except OSError as exc:
                error = ConnectionLostError(f"send failed: {exc.strerror or exc}")
                self._fail_locked(error)
                raise error from exc
            if sent == len(data):
                return
        rest = len(data) - sent
        limit = self._options.max_buffered
        if bounded and limit is not None and self._out_bytes + rest > limit:
            self._overflow_locked(rest)
        was_empty = not self._out
        self._out.append(_Pending(memoryview(data)[sent:], None, self._clock.now()))
        self._out_bytes += rest
        if was_empty:
            self._wake()  # the I/O thread now waits for writability too

    def _flush(self) -> None:
        """Write queued frames until the socket is full (the I/O thread's side).

        A payload queued unencoded is masked outside the lock when it
        reaches the head; only this thread changes the head meanwhile.
        """
        while True:
            with self._lock:
                item = self._write_queued_locked()
                if item is None:
                    return
                assert item.opcode is not None
                opcode, payload, key = item.opcode, item.data, self._next_key()
            assert isinstance(payload, bytes)
            encoded = _encode(opcode, payload, key)
            with self._lock:
                if not self._out or self._out[0] is not item:
                    return  # the connection failed meanwhile
                item.data, item.opcode = encoded, None

    def _write_queued_locked(self) -> _Pending | None:
        """Write encoded frames from the head; return the head if it still needs encoding."""
        sock = self._sock
        out = self._out
        while out and sock is not None:
            item = out[0]
            if item.opcode is not None:
                return item
            view = item.data
            try:
                sent = sock.send(view)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                return None  # with TLS, the same buffer is retried next time
            except ssl.SSLWantReadError:
                self._want_read = True
                return None
            except OSError as exc:
                self._fail_locked(ConnectionLostError(f"send failed: {exc.strerror or exc}"))
                return None
            self._want_read = False
            self._out_bytes -= sent
            if sent < len(view):
                item.data = memoryview(view)[sent:]
                return None  # the socket is full
            out.popleft()
        return None

    def _write_deadline_locked(self, now: float) -> float | None:
        """Seconds left before the oldest unsent byte is late; fail the connection at 0."""
        limit = self._options.write_timeout
        if limit is None or not self._out:
            return None
        left = self._out[0].since + limit - now
        if left <= 0:
            self._fail_locked(
                ConnectionLostError(
                    f"write deadline of {limit:g} s passed with {self._out_bytes} bytes unsent"
                )
            )
            raise _WriteFailedError
        return left

    def _fail_locked(self, error: ConnectionLostError) -> None:
        """Fail the connection from the outgoing side; the I/O thread reports it."""
        if self._failure is not None:
            return
        self._failure = error
        if self._state != "closed":
            self._state = "closing"
        self._out.clear()
        self._out_bytes = 0
        self._wake()

    def _send_close_locked(self, payload: bytes) -> None:
        if self._close_sent or self._failure is not None:
            return
        self._close_sent = True
        try:
            self._enqueue(self._frame(_OP_CLOSE, payload), bounded=False)
        except ConnectionLostError:
            _log.debug("close frame not sent: connection already lost")

    def _wake(self) -> None:
        waker = self._waker_w
        if waker is not None:
            # Full means already woken; closed means the I/O thread is done.
            with contextlib.suppress(OSError):
                waker.send(b"\0")

    # -- the I/O thread --------------------------------------------------------

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
            _log.exception("transport I/O thread failed")
            error = ConnectionLostError(f"transport I/O thread failed: {exc!r}")
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
        with self._lock:
            self._sock = sock

    def _serve(self) -> tuple[int, str, bool, TransportError | None]:
        """Open, read until the end, and say how it ended."""
        self._announce_open()
        try:
            self._read_loop()
        except _PeerClosedError as closed:
            self._drain_queued()
            return closed.code, closed.reason, True, None
        except _FailError as fail:
            with self._lock:
                self._state = "closing"
                self._send_close_locked(_close_payload(fail.code, ""))
            self._drain_queued()
            return fail.code, str(fail.error), False, fail.error
        except _CloseTimeoutError:
            return _CLOSE_ABNORMAL, "close handshake timed out", False, None
        except (_WriteFailedError, _EofError, OSError, ConnectionLostError) as exc:
            failure = self._failure
            if failure is not None:  # the outgoing side failed first
                asked = self._close_requested is not None
                return _CLOSE_ABNORMAL, str(failure), False, None if asked else failure
            if self._close_requested is not None:
                return _CLOSE_ABNORMAL, "", False, None
            if isinstance(exc, _EofError):
                lost = ConnectionLostError(
                    "peer closed the connection without a close frame", abrupt=True
                )
            else:
                lost = ConnectionLostError(f"connection lost: {exc}", abrupt=True)
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
        lock = self._lock
        # TLS may hold decrypted bytes the socket no longer shows as readable;
        # its reads take the lock, as the writes do (one SSL object, two threads).
        tls = isinstance(sock, ssl.SSLSocket)
        chunks: list[bytes] = []
        have = 0
        need = 2
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(waker, selectors.EVENT_READ)
            while True:
                if tls:
                    with lock:
                        pending = sock.pending()  # type: ignore[attr-defined]
                    if not pending:
                        self._wait_readable(selector, sock)
                    try:
                        with lock:
                            chunk = sock.recv(_READ_SIZE)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                else:
                    self._wait_readable(selector, sock)
                    try:
                        chunk = sock.recv(_READ_SIZE)
                    except (BlockingIOError, InterruptedError):
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
        """Wait until ``sock`` is readable; meanwhile drain the outgoing buffer, keep deadlines.

        Raises:
            _WriteFailedError: the outgoing side failed (deadline, overflow, error).
            _CloseTimeoutError: the close grace passed.
        """
        while True:
            timeout: float | None = None
            write = False
            # Unlocked peeks: a sender that changes them also wakes this thread.
            if self._out or self._close_requested is not None or self._failure is not None:
                if self._want_read and self._out:
                    self._flush()  # the peer's data may have arrived
                with self._lock:
                    if self._failure is not None:
                        raise _WriteFailedError
                    now = self._clock.now()
                    timeout = self._write_deadline_locked(now)
                    write = bool(self._out) and not self._want_read
                if self._close_requested is not None:
                    if self._close_deadline is None:
                        self._close_deadline = now + self._close_grace
                    left = self._close_deadline - now
                    if left <= 0:
                        raise _CloseTimeoutError
                    timeout = left if timeout is None else min(timeout, left)
            wanted = selectors.EVENT_READ | selectors.EVENT_WRITE if write else selectors.EVENT_READ
            if selector.get_key(sock).events != wanted:  # kept from the last call too
                selector.modify(sock, wanted)
            readable = False
            for key, events in selector.select(timeout):
                if key.fileobj is not sock:
                    self._drain_waker()
                    continue
                if events & selectors.EVENT_WRITE:
                    self._flush()
                if events & selectors.EVENT_READ:
                    readable = True
            if readable:
                return

    def _drain_waker(self) -> None:
        waker = self._waker_r
        assert waker is not None
        try:
            while waker.recv(64):
                pass
        except OSError:
            pass  # drained

    def _drain_queued(self) -> None:
        """Give queued frames (ending with our close frame) ``close_grace`` seconds to go out."""
        sock = self._sock
        if sock is None or not self._out:
            return
        deadline = self._clock.now() + self._close_grace
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_WRITE)
            while True:
                self._flush()
                with self._lock:
                    if not self._out or self._failure is not None or self._want_read:
                        return
                left = deadline - self._clock.now()
                if left <= 0:
                    _log.debug("%d queued bytes dropped at the end", self._out_bytes)
                    return
                selector.select(left)

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
                    if opcode == _OP_TEXT and not payload.isascii():
                        _check_utf8(payload)
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
                    if not binary and not whole.isascii():
                        _check_utf8(whole)  # whole: a character may span fragments
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
        # Queued like any frame (and counted against max_buffered: a peer that
        # pings without reading cannot grow the buffer without bound).
        with self._lock:
            if self._state == "open":
                self._enqueue(self._frame(opcode, payload))

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
            self._out.clear()
            self._out_bytes = 0
            sock, self._sock = self._sock, None
            if sock is not None:
                with contextlib.suppress(OSError):  # the peer was faster
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            for waker in (self._waker_r, self._waker_w):
                if waker is not None:
                    waker.close()
            self._waker_r = self._waker_w = None


def _check_utf8(data: bytes) -> None:
    """Fail the connection with 1007 unless ``data`` is UTF-8 (RFC 6455 section 8.1)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise _FailError(
            _CLOSE_INVALID_DATA, ConnectionLostError("invalid UTF-8 in a text frame")
        ) from None


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
