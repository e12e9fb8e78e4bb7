"""A Phoenix-protocol server in a background thread, for synchronous code and tests.

::

    from phoenix_actors.server import LoopbackServer

    with LoopbackServer() as server:      # the demo channels on 127.0.0.1, a free port
        client_connect(server.url)        # ws://127.0.0.1:PORT/socket
        server.broadcast("room:lobby", "news", {"x": 1})
        server.wait_for(lambda: server.presence_list("room:lobby"), timeout=5)

The server's asyncio loop runs in one named thread (``phoenix-loopback-server``);
every public method may be called from any thread and waits for the loop
with a deadline. :meth:`LoopbackServer.stop` closes every connection and
joins the thread; :meth:`LoopbackServer.start` after it serves again on the
same port (:meth:`LoopbackServer.restart` does both).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from phoenix_actors.server.api import ChannelFactory, ConnectHook, SocketIdHook
from phoenix_actors.server.app import PhoenixServer, SocketInfo
from phoenix_actors.server.faults import Faults
from phoenix_actors.server.origin import CheckOrigin
from phoenix_actors.server.presence import FetchHook, Presences
from phoenix_actors.server.routing import Router

__all__ = ["LoopbackServer"]

T = TypeVar("T")

CALL_TIMEOUT = 10.0
"""Seconds a public method waits for the server's loop."""
POLL_INTERVAL = 0.05
"""Longest wait between two checks in :meth:`LoopbackServer.wait_for`."""


class LoopbackServer:
    """The Phoenix-protocol server on loopback, run in a background thread.

    Args:
        handlers: ``{topic pattern: Channel subclass}`` or a Router; None
            serves the demo channels (:mod:`phoenix_actors.server.demo`).
        host: interface to bind.
        port: port to bind (0: a free one, kept across :meth:`restart`).
        connect: ``connect(params, info) -> assigns | None``.
        socket_id: ``socket_id(assigns) -> str | None``.
        presence_fetch: ``fetch(topic, presences) -> presences``.
        idle_timeout: seconds without a received frame before closing with 1002.
        max_frame_size: largest accepted frame in bytes (larger: close 1009).
        max_channels: channels one socket may join.
        admin: also serve the admin HTTP routes.
        ssl_context: server TLS context; the URLs become ``wss://`` / ``https://``.
        longpoll_window: seconds a long poll waits for frames before answering 204.
        longpoll_timeout: seconds without a poll before a long-poll session ends.
        check_origin: Phoenix's ``check_origin`` (see :class:`PhoenixServer`).
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
        ssl_context: ssl.SSLContext | None = None,
        longpoll_window: float = 10.0,
        longpoll_timeout: float = 15.0,
        check_origin: CheckOrigin = False,
    ) -> None:
        """Configure the server; :meth:`start` (or ``with``) runs it."""
        self._config: dict[str, Any] = {
            "handlers": handlers,
            "host": host,
            "connect": connect,
            "socket_id": socket_id,
            "presence_fetch": presence_fetch,
            "idle_timeout": idle_timeout,
            "max_frame_size": max_frame_size,
            "max_channels": max_channels,
            "admin": admin,
            "ssl_context": ssl_context,
            "longpoll_window": longpoll_window,
            "longpoll_timeout": longpoll_timeout,
            "check_origin": check_origin,
        }
        self._host = host
        self._port = port
        PhoenixServer(**self._config, port=port)  # validate the arguments now
        self.faults = Faults()
        """Fault injection switches (off by default; kept across restarts)."""
        self.faults.attach(self._close_all, self._abort_all, self._break_all)
        self._server: PhoenixServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._changes = threading.Condition()
        self._version = 0

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None

    def start(self) -> None:
        """Start serving (on the previous port after a stop); no-op if running.

        Raises:
            OSError: the port cannot be bound.
        """
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name="phoenix-loopback-server", daemon=True
        )
        thread.start()
        if not ready.wait(CALL_TIMEOUT):
            msg = "the loopback server did not start in time"
            raise TimeoutError(msg)
        if failure:
            thread.join(CALL_TIMEOUT)
            raise failure[0]
        self._thread = thread

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        server = PhoenixServer(**self._config, port=self._port, faults=self.faults)
        server.on_change = self._notify
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self._port = server.port
        self._server, self._loop = server, loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers, timeout=CALL_TIMEOUT))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Close every connection (close 1012), stop serving and join the thread; idempotent."""
        thread, loop, server = self._thread, self._loop, self._server
        if thread is None or loop is None or server is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(CALL_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CALL_TIMEOUT)
            self._thread = self._loop = self._server = None
            self._notify()

    def restart(self) -> None:
        """Stop, then start again on the same port."""
        self.stop()
        self.start()

    # -- addresses -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (0 before the first start with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """The endpoint to give a client: ``ws://HOST:PORT/socket`` (socket: ``+ "/websocket"``)."""
        scheme = "wss" if self._config["ssl_context"] is not None else "ws"
        return f"{scheme}://{self._host}:{self._port}/socket"

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT`` (the admin routes, when enabled)."""
        scheme = "https" if self._config["ssl_context"] is not None else "http"
        return f"{scheme}://{self._host}:{self._port}"

    # -- operations (any thread) -----------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the loopback server is not running")
        if threading.current_thread() is self._thread:
            return fn()  # already on the loop (e.g. from a handler)

        async def on_loop() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(on_loop(), loop).result(CALL_TIMEOUT)

    def _running_server(self) -> PhoenixServer:
        if self._server is None:
            raise RuntimeError("the loopback server is not running")
        return self._server

    def disconnect(self, socket_id: str) -> int:
        """Close every socket with this id with 1001; return how many."""
        server = self._running_server()
        return self._call(lambda: server.disconnect(socket_id))

    def disconnect_user(self, user_id: str) -> int:
        """Close every demo socket of ``user_id`` (id ``user_socket:<user_id>``) with 1001."""
        return self.disconnect(f"user_socket:{user_id}")

    def broadcast(self, topic: str, event: str, payload: Any) -> int:
        """Broadcast ``event`` with ``payload`` to every subscriber of ``topic``; return how many.

        Raises:
            LocalProtocolError: the payload cannot be encoded.
        """
        server = self._running_server()
        return self._call(lambda: server.broadcast(topic, event, payload))

    def presence_list(self, topic: str) -> Presences:
        """Return the presences of ``topic`` (with the fetch hook applied)."""
        server = self._running_server()
        return self._call(lambda: server.presence_list(topic))

    def sockets(self) -> list[SocketInfo]:
        """Return a snapshot of the connected sockets."""
        server = self._running_server()
        return self._call(server.sockets)

    def _close_all(self, code: int, reason: str) -> None:
        server = self._running_server()
        self._call(lambda: server.close_all(code, reason))

    def _abort_all(self) -> None:
        server = self._running_server()
        self._call(server.abort_all)

    def _break_all(self) -> None:
        server = self._running_server()
        self._call(server.break_all)

    # -- waiting -----------------------------------------------------------------------

    def _notify(self) -> None:
        with self._changes:
            self._version += 1
            self._changes.notify_all()

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true, re-checking after every server change.

        ``predicate`` runs in the calling thread and may call this server's
        methods (``sockets``, ``presence_list``...).

        Raises:
            TimeoutError: still false after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._changes:
                seen = self._version
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"condition not met within {timeout} s"
                raise TimeoutError(msg)
            with self._changes:
                if self._version == seen:
                    self._changes.wait(min(remaining, POLL_INTERVAL))

    def wait_for_sockets(self, count: int, timeout: float = 5.0) -> list[SocketInfo]:
        """Wait until exactly ``count`` sockets are connected; return them.

        Raises:
            TimeoutError: the count was not reached in time.
        """
        found: list[SocketInfo] = []

        def check() -> bool:
            found[:] = self.sockets()
            return len(found) == count

        self.wait_for(check, timeout)
        return found
