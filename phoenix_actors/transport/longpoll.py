"""LongPollTransport: Phoenix's long-poll transport, as phoenix.js's ``LongPoll`` speaks it.

Two named daemon threads share one transport:

* the **poll thread** owns the connection's life: GET polls on one
  keep-alive :class:`http.client.HTTPConnection`, every sink callback, and
  the final ``on_close``;
* the **send thread** POSTs what :meth:`LongPollTransport.send` queued, at
  most :data:`MAX_BATCH` frames per request (``application/x-ndjson``,
  frames joined by newlines, binary frames in base64), one request at a time,
  on its own keep-alive connection. ``send`` never waits for the network.

Every response is HTTP 200 with JSON ``{"status", "token", "messages"}``;
its ``status`` is mapped as phoenix.js does (``PROTOCOL.md`` §1):

====================  ================================================
poll status           effect
====================  ================================================
410, no token yet     open: keep the token (sent as ``?token=``), poll
200                   each message to ``on_message``; poll again
204                   poll again
410 with a token      close 3410 ``session_gone`` (not clean)
403                   close 1008 ``forbidden`` (not clean), a
                      :class:`ConnectError` with ``status=403``
500, other, network   close 1011 ``internal server error`` (not clean)
request timeout       close 1005 ``timeout`` (not clean)
outbox over limit     close 1011 ``outgoing buffer full`` (not clean)
====================  ================================================

A POST answered with anything but status 200 closes with 1011; one that
times out with 1005.

The outbox (frames queued and not yet taken into a POST) holds at most
``TransportOptions.max_buffered`` bytes, counted as encoded (UTF-8 text,
base64 binary): a send that would go over is refused with
:class:`ConnectionLostError` and fails the transport like a network failure,
``on_error(ConnectionLostError)`` then ``on_close(1011, "outgoing buffer
full", False)``. ``write_timeout`` does not apply: each POST is bounded by
``longpoller_timeout``.

:meth:`LongPollTransport.close` ends at once with the given code, clean
(as phoenix.js's ``LongPoll.close``): it shuts the sockets down so a poll in
flight returns, and sends nothing to the server, whose session ends when
polls stop (there is no close request in the protocol).

A poll message that starts with ``[`` or ``{`` is a JSON text frame;
any other is a binary frame in base64 (the bundled server's encoding).
The auth token (from the ``base64url.bearer.phx.`` subprotocol entry, as
phoenix.js does) travels in the ``X-Phoenix-AuthToken`` header of the
polls and is never logged, nor is the query string.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import itertools
import json
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

from phoenix_actors.errors import (
    ConnectError,
    ConnectionLostError,
    InvalidArgumentError,
    TransportError,
)
from phoenix_actors.transport._lifecycle import TransportLifecycle
from phoenix_actors.transport._lifecycle import redact_url as _redact
from phoenix_actors.transport.base import (
    ReadyState,
    Transport,
    TransportOptions,
    TransportSink,
    connect_error,
)

__all__ = [
    "DEFAULT_LONGPOLLER_TIMEOUT",
    "MAX_BATCH",
    "LongPollTransport",
    "longpoll_transport_factory",
    "longpoll_url",
    "make_longpoll_transport_factory",
]

_log = logging.getLogger("phoenix_actors.transport")

DEFAULT_LONGPOLLER_TIMEOUT: Final = 20.0
"""Seconds a poll or POST may take before the transport closes with 1005 (``longpollerTimeout``)."""
MAX_BATCH: Final = 100
"""Most frames per POST (phoenix.js's ``MAX_LONGPOLL_BATCH_SIZE``)."""

AUTH_TOKEN_PREFIX: Final = "base64url.bearer.phx."  # noqa: S105 - a prefix, not a secret
_AUTH_HEADER: Final = "X-Phoenix-AuthToken"
_SEND_JOIN: Final = 2.0  # seconds the poll thread waits for the send thread at the end

CLOSE_SESSION_GONE: Final = 3410
CLOSE_FORBIDDEN: Final = 1008
CLOSE_SERVER_ERROR: Final = 1011
CLOSE_TIMEOUT: Final = 1005

_thread_numbers = itertools.count(1)


@dataclass(frozen=True)
class _End:
    """How the transport ends: the ``on_close`` arguments and the error, if any."""

    code: int
    reason: str
    clean: bool
    error: TransportError | None = None


class _StoppedError(Exception):
    """The transport is ending: abandon the request."""


def longpoll_url(url: str) -> str:
    """Return the long-poll URL for ``url`` as phoenix.js normalizes it.

    ``ws://`` becomes ``http://``, ``wss://`` becomes ``https://`` and a final
    ``/websocket`` path segment becomes ``/longpoll``; ``http(s)://`` URLs
    already ending in ``/longpoll`` are unchanged.
    """
    head, sep, query = url.partition("?")
    if head.startswith("ws://"):
        head = "http://" + head[5:]
    elif head.startswith("wss://"):
        head = "https://" + head[6:]
    if head.endswith("/websocket"):
        head = head[: -len("websocket")] + "longpoll"
    return head + sep + query


def _auth_token(subprotocols: Sequence[str]) -> str | None:
    for entry in subprotocols:
        if entry.startswith(AUTH_TOKEN_PREFIX):
            encoded = entry[len(AUTH_TOKEN_PREFIX) :]
            try:
                return base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise InvalidArgumentError("the auth token subprotocol is not base64") from None
    return None


def _utf8(data: bytes) -> bytes:
    """Return ``data`` (a text frame) once it is known to be UTF-8."""
    data.decode("utf-8")  # raises UnicodeDecodeError, as the str-based encoding did
    return bytes(data)


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        # socket.socket's own shutdown: SSLSocket.shutdown would also drop its
        # TLS state under a thread that may be reading it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _set_timeout(conn: http.client.HTTPConnection, timeout: float) -> None:
    sock = conn.sock
    if sock is not None:
        sock.settimeout(timeout)


class LongPollTransport(TransportLifecycle):
    """A :class:`~phoenix_actors.transport.base.Transport` over Phoenix long polling.

    Args:
        url: the long-poll URL, ``http(s)://host/socket/longpoll?...&vsn=2.0.0``
            (``ws(s)://.../websocket`` URLs are converted as phoenix.js does);
            its query string is never logged.
        options: how to connect: ``connect_timeout`` bounds the TCP and TLS
            connect, ``ssl_context`` serves ``https://``, ``headers`` go on
            every request, the ``base64url.bearer.phx.`` entry of
            ``subprotocols`` becomes the ``X-Phoenix-AuthToken`` header,
            ``name`` prefixes the thread names.
        sink: receives the callbacks, on the poll thread.
        longpoller_timeout: seconds a poll or POST may take (phoenix.js's
            ``longpollerTimeout``) before the transport closes with 1005.

    Raises:
        InvalidArgumentError: the URL is not ``http(s)://`` or ``ws(s)://``,
            or the auth token entry is not base64.
    """

    delivers_batches = True
    """Calls ``sink.on_batch_end`` after the messages of each poll (see TransportSink)."""
    skip_heartbeat = True
    """phoenix.js sends no heartbeats over long polling (``LongPoll.skipHeartbeat``)."""

    def __init__(
        self,
        url: str,
        options: TransportOptions,
        sink: TransportSink,
        *,
        longpoller_timeout: float = DEFAULT_LONGPOLLER_TIMEOUT,
    ) -> None:
        """Create a transport; nothing happens until :meth:`open`."""
        if longpoller_timeout <= 0:
            raise InvalidArgumentError("longpoller_timeout must be > 0")
        self._url = longpoll_url(url)
        try:
            parts = urlsplit(self._url)
            port = parts.port
        except ValueError:
            raise InvalidArgumentError("invalid long-poll URL") from None
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidArgumentError("invalid long-poll URL (expected http(s):// or ws(s)://)")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._where = f"{self._host}:{port}" if port else self._host
        self._options = options
        self._sink = sink
        self._request_timeout = float(longpoller_timeout)
        self._auth = _auth_token(options.subprotocols)
        self._cond = threading.Condition()
        self._state: ReadyState = "connecting"
        self._started = False
        self._opened = False
        self._token: str | None = None
        self._outbox: list[bytes] = []  # encoded frames, each one line of a POST body
        self._outbox_bytes = 0  # their total size, bounded by max_buffered
        self._end: _End | None = None
        self._conns: list[http.client.HTTPConnection] = []
        self._poll_thread: threading.Thread | None = None
        self._send_thread: threading.Thread | None = None

    # -- caller-side API -------------------------------------------------------

    def open(self) -> None:
        """Start the poll and send threads; the outcome arrives through the sink.

        Raises:
            RuntimeError: :meth:`open` was already called, or the transport
                was closed before it was opened.
        """
        with self._cond:
            self._mark_started()
            name = f"{self._options.name}-{next(_thread_numbers)}"
            self._send_thread = self._start_thread(self._send_loop, f"{name}-send")
            self._poll_thread = self._start_thread(self._run, name)

    def send(self, data: bytes, binary: bool) -> None:  # noqa: FBT001
        """Queue one frame for the next POST; thread-safe, never blocks on the network.

        Raises:
            ConnectionLostError: the transport is not open, or the outbox
                would go over ``max_buffered`` (then the transport fails:
                ``on_error`` and ``on_close(1011)`` follow).
        """
        self.send_many(((data, binary),))

    def send_many(self, frames: Sequence[tuple[bytes, bool]]) -> None:
        """Queue ``(data, binary)`` frames in order, under one lock acquisition; never blocks.

        Raises:
            ConnectionLostError: as :meth:`send` (the whole batch is refused).
        """
        if not frames:
            return
        encoded = [base64.b64encode(data) if binary else _utf8(data) for data, binary in frames]
        size = sum(map(len, encoded))
        limit = self._options.max_buffered
        with self._cond:
            self._check_open()
            if limit is not None and self._outbox_bytes + size > limit:
                error = ConnectionLostError(
                    f"outgoing buffer over max_buffered={limit} bytes: {self._outbox_bytes} "
                    f"bytes queued and {size} more sent (is the server taking POSTs?)"
                )
            else:
                self._outbox.extend(encoded)
                self._outbox_bytes += size
                self._cond.notify_all()
                return
        self._fail(_End(CLOSE_SERVER_ERROR, "outgoing buffer full", clean=False, error=error))
        raise error

    def close(self, code: int = 1000, reason: str = "") -> None:
        """End the transport with ``code`` and ``reason``; non-blocking and idempotent.

        The poll thread calls ``on_close(code, reason, True)`` at once (a poll
        in flight is cut short). Frames still queued are dropped. A close
        before :meth:`open` just marks the transport closed (no callbacks).
        """
        with self._cond:
            if self._end is not None or self._state == "closed":
                return
            if self._close_unopened():
                return
            self._end = _End(code, reason, clean=True)
            self._state = "closing"
            self._cond.notify_all()
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)

    def _threads(self) -> tuple[threading.Thread | None, ...]:
        return (self._poll_thread, self._send_thread)

    # -- HTTP ------------------------------------------------------------------

    def _new_conn(self) -> http.client.HTTPConnection:
        timeout = self._options.connect_timeout
        conn: http.client.HTTPConnection
        if self._https:
            context = self._options.ssl_context or ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        with self._cond:
            self._conns.append(conn)
        return conn

    def _is_stale(self, sock: socket.socket) -> bool:
        """True when an idle keep-alive socket was closed by the server (or holds junk)."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):
            # TLS 1.3 session tickets make an idle socket readable: read to see
            sock.setblocking(False)  # noqa: FBT003
            try:
                sock.recv(1)
            except ssl.SSLWantReadError:
                return False
            except OSError:
                return True
            finally:
                sock.settimeout(self._request_timeout)
        return True

    def _prepare(self, conn: http.client.HTTPConnection) -> None:
        """Connect ``conn`` if needed; raise :class:`_StoppedError` once the transport ends."""
        sock = conn.sock
        if sock is not None and self._is_stale(sock):
            conn.close()
        if conn.sock is None:
            conn.connect()
            _set_timeout(conn, self._request_timeout)
        with self._cond:
            # close() shuts down the sockets it sees after setting _end: checking
            # here, with the socket in place, leaves no gap for a blocked request.
            if self._end is not None:
                raise _StoppedError

    def _request(
        self, conn: http.client.HTTPConnection, method: str, body: bytes | None
    ) -> dict[str, Any] | None:
        """Send one request; return the JSON body, or None if it is not a 200 JSON object.

        Raises:
            _StoppedError: the transport is ending.
            TimeoutError: the request took over ``longpoller_timeout``.
            OSError, http.client.HTTPException, ssl.SSLError: the network failed.
        """
        self._prepare(conn)
        headers = dict(self._options.headers)
        if method == "GET":
            headers["Accept"] = "application/json"
            if self._auth is not None:
                headers[_AUTH_HEADER] = self._auth
        else:
            headers["Content-Type"] = "application/x-ndjson"
        target = self._target
        token = self._token
        if token is not None:
            target += ("&" if "?" in target else "?") + "token=" + quote(token, safe="")
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            conn.close()
        if response.status != 200:
            _log.debug("long poll %s got HTTP %s", method, response.status)
            return None
        try:
            parsed = json.loads(data)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def _network_end(self, exc: BaseException, what: str) -> _End:
        """Map a failed request to its end (1005 on timeout, else 1011)."""
        if isinstance(exc, TimeoutError):
            code, reason, message = CLOSE_TIMEOUT, "timeout", f"long-poll {what} timed out"
        else:
            code, reason = CLOSE_SERVER_ERROR, "internal server error"
            message = f"long-poll {what} to {self._where} failed: {exc!r}"
        tls = isinstance(exc, ssl.SSLError)
        error: TransportError = (
            ConnectionLostError(message) if self._opened else connect_error(message, tls=tls)
        )
        error.__cause__ = exc
        return _End(code, reason, clean=False, error=error)

    def _fail(self, end: _End) -> None:
        """Record ``end`` unless the transport already ends; cut short the I/O in flight."""
        with self._cond:
            if self._end is not None:
                return
            self._end = end
            self._state = "closing"
            self._cond.notify_all()
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)

    # -- the send thread -------------------------------------------------------

    def _send_loop(self) -> None:
        conn = self._new_conn()
        try:
            while True:
                with self._cond:
                    while not self._outbox and self._end is None:
                        self._cond.wait()
                    if self._end is not None:
                        return
                    batch = self._outbox[:MAX_BATCH]
                    del self._outbox[:MAX_BATCH]
                    self._outbox_bytes -= sum(map(len, batch))
                body = b"\n".join(batch)
                try:
                    reply = self._request(conn, "POST", body)
                except _StoppedError:
                    return
                except (OSError, http.client.HTTPException) as exc:
                    self._fail(self._network_end(exc, "send"))
                    return
                if reply is None or reply.get("status") != 200:
                    status = None if reply is None else reply.get("status")
                    error = ConnectionLostError(f"long-poll send answered with status {status!r}")
                    self._fail(
                        _End(CLOSE_SERVER_ERROR, "internal server error", clean=False, error=error)
                    )
                    return
        except Exception as exc:  # noqa: BLE001 (a bug here must still end the transport)
            _log.exception("long-poll send thread failed")
            error = ConnectionLostError(f"long-poll send thread failed: {exc!r}")
            self._fail(_End(CLOSE_SERVER_ERROR, "internal server error", clean=False, error=error))
        finally:
            conn.close()

    # -- the poll thread -------------------------------------------------------

    def _run(self) -> None:
        conn = self._new_conn()
        try:
            end = self._poll_loop(conn)
        except Exception as exc:  # noqa: BLE001 (a bug here must still end in on_close)
            _log.exception("long-poll thread failed")
            error = ConnectionLostError(f"long-poll thread failed: {exc!r}")
            error.__cause__ = exc
            end = _End(CLOSE_SERVER_ERROR, "internal server error", clean=False, error=error)
        self._fail(end)
        with self._cond:
            end = self._end or end
            self._state = "closed"
            self._outbox.clear()
            self._outbox_bytes = 0
            self._cond.notify_all()
        conn.close()
        sender = self._send_thread
        if sender is not None and sender is not threading.current_thread():
            sender.join(_SEND_JOIN)
        _log.debug("long-poll transport closed: code=%s clean=%s", end.code, end.clean)
        if end.error is not None:
            self._call_sink("on_error", end.error)
        self._call_sink("on_close", end.code, end.reason, end.clean)

    def _poll_loop(self, conn: http.client.HTTPConnection) -> _End:
        _log.debug("long polling %s", _redact(self._url))
        while True:
            try:
                reply = self._request(conn, "GET", None)
            except _StoppedError:
                reply = None
            except (OSError, http.client.HTTPException) as exc:
                with self._cond:
                    if self._end is not None:
                        return self._end
                return self._network_end(exc, "poll")
            with self._cond:
                if self._end is not None:
                    return self._end
            end = self._on_reply(reply)
            if end is not None:
                return end

    def _on_reply(self, reply: dict[str, Any] | None) -> _End | None:
        """Act on one poll answer; return the end it causes, if any."""
        status = None if reply is None else reply.get("status")
        token = None if reply is None else reply.get("token")
        if status == 410 and (self._token is not None or self._opened):
            lost = ConnectionLostError("the long-poll session is gone", abrupt=True)
            return _End(CLOSE_SESSION_GONE, "session_gone", clean=False, error=lost)
        if isinstance(token, str):
            self._token = token
        if status == 200:
            assert reply is not None
            self._deliver(reply.get("messages"))
            return None
        if status == 204:
            return None
        if status == 410:
            return self._announce_open()
        if status == 403:
            refused = connect_error(f"long-poll connect refused by {self._where}", status=403)
            return _End(CLOSE_FORBIDDEN, "forbidden", clean=False, error=refused)
        message = f"long poll to {self._where} answered with status {status!r}"
        error: TransportError = (
            ConnectionLostError(message) if self._opened else ConnectError(message)
        )
        return _End(CLOSE_SERVER_ERROR, "internal server error", clean=False, error=error)

    def _announce_open(self) -> _End | None:
        with self._cond:
            if self._end is not None:
                return self._end
            self._state = "open"
            self._opened = True
        _log.debug("long poll open to %s", _redact(self._url))
        self._call_sink("on_open")
        return None

    def _deliver(self, messages: object) -> None:
        if not isinstance(messages, list):
            return
        for message in messages:
            if self._state != "open":
                return  # closing: the rest is dropped, as phoenix.js cancels them
            if not isinstance(message, str):
                _log.debug("long poll message is not a string: dropped")
                continue
            if message[:1] in {"[", "{"}:
                data, binary = message.encode("utf-8"), False
            else:
                try:
                    data, binary = base64.b64decode(message, validate=True), True
                except (binascii.Error, ValueError):
                    data, binary = message.encode("utf-8"), False
            self._call_sink("on_message", data, binary)
        if messages:
            self._end_batch()


def make_longpoll_transport_factory(
    *, longpoller_timeout: float = DEFAULT_LONGPOLLER_TIMEOUT
) -> Callable[[str, TransportOptions, TransportSink], Transport]:
    """Return a :data:`~phoenix_actors.transport.base.TransportFactory` with this timeout."""

    def factory(url: str, options: TransportOptions, sink: TransportSink) -> Transport:
        return LongPollTransport(url, options, sink, longpoller_timeout=longpoller_timeout)

    return factory


def longpoll_transport_factory(
    url: str, options: TransportOptions, sink: TransportSink
) -> Transport:
    """The long-poll :data:`~phoenix_actors.transport.base.TransportFactory` (20 s requests).

    Returns:
        A new, unopened :class:`LongPollTransport`.
    """
    return LongPollTransport(url, options, sink)
