"""Drive the official phoenix.js client from Python tests (``tests/js/driver.mjs``).

One long-running node process per :class:`JsClient`. Commands go to its stdin as
JSON lines; every observable event (socket open/close, replies, channel events,
presence callbacks, raw messages) comes back on stdout as a JSON line, collected
by a reader thread into :attr:`JsClient.events`. Tests block on
:meth:`JsClient.wait_for`, which always has a deadline.

Byte payloads are ``{"$bytes": base64}`` both ways; :func:`as_bytes` and
:func:`b64` convert.

Use the ``js_client`` fixture (import it into a test module with
``from tests.jsclient import js_client_fixture  # noqa: F401``): it returns a factory and
closes every client it made when the test ends, so no thread is left behind.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import pytest

from tests.node import JS_DIR, NODE

if TYPE_CHECKING:
    from phoenix_actors.server import LoopbackServer

Event = dict[str, Any]
"""One decoded event line from the driver (``type``, ``seq``, ``t`` and fields)."""

Predicate = Callable[[Event], bool]

_counter = itertools.count(1)
RECENT = 40  # events listed in a timeout's message


def b64(data: bytes) -> dict[str, str]:
    """Wrap ``data`` for the driver: ``{"$bytes": base64}`` (an ArrayBuffer in node)."""
    return {"$bytes": base64.b64encode(data).decode("ascii")}


def as_bytes(value: Any) -> bytes:
    """Unwrap a ``{"$bytes": base64}`` value from the driver."""
    assert isinstance(value, dict), f"not a bytes value: {value!r}"
    assert set(value) == {"$bytes"}, f"not a bytes value: {value!r}"
    return base64.b64decode(value["$bytes"])


def matcher(kind: str | Predicate, fields: dict[str, Any]) -> Predicate:
    """Build a predicate: ``kind`` is an event type (or a predicate), ``fields`` must be equal."""

    def match(event: Event) -> bool:
        if isinstance(kind, str):
            if event.get("type") != kind:
                return False
        elif not kind(event):
            return False
        return all(k in event and event[k] == v for k, v in fields.items())

    return match


class ClosesOnExit:
    """A context manager whose ``with`` block returns it and calls :meth:`close` on exit."""

    def close(self) -> None:
        """Release what the object holds (overridden)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Return self; :meth:`close` on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Call :meth:`close`."""
        self.close()


class JsClient(ClosesOnExit):
    """A node process running ``tests/js/driver.mjs`` (the official phoenix.js client).

    Example::

        with JsClient() as js:
            js.send("socket", url=server.url, params={"user_id": "a"})
            js.send("connect")
            js.wait_for("open")
    """

    def __init__(self, *, timeout: float = 5.0) -> None:
        """Start node; ``timeout`` is the default deadline of :meth:`send` and :meth:`wait_for`."""
        if NODE is None:
            msg = "node is not installed: the README test command installs it"
            raise RuntimeError(msg)
        self.timeout = timeout
        self.events: list[Event] = []
        """Every event received so far, in order (read it under no lock: append-only)."""
        self._cond = threading.Condition()
        self._cids = itertools.count(1)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [NODE, str(JS_DIR / "driver.mjs")],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._eof = False
        self._closed = False
        self._reader = threading.Thread(
            target=self._read, name=f"JsClient-reader-{next(_counter)}", daemon=True
        )
        self._reader.start()

    # -- reading -------------------------------------------------------------

    def _read(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        for line in stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"type": "stdout", "line": line.rstrip("\n")}
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stderr(self) -> str:
        """What node printed on stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def _describe(self) -> str:
        with self._cond:
            recent = self.events[-RECENT:]
        lines = "\n".join(json.dumps(e) for e in recent)
        err = self.stderr()[-2000:]
        return f"last {len(recent)} events:\n{lines}\nnode stderr:\n{err}"

    # -- commands --------------------------------------------------------------

    def send(self, cmd: str, *, wait: bool = True, **args: Any) -> Any:
        """Send command ``cmd`` with ``args``; return its ack's ``result``.

        Args:
            cmd: a driver command (``socket``, ``connect``, ``push``...).
            wait: wait for the ack (default); a driver-side error raises AssertionError.
            **args: the command's fields.

        Returns:
            The ack's result (``None`` when ``wait`` is false).
        """
        cid = next(self._cids)
        line = json.dumps({"cmd": cmd, "cid": cid, **args})
        stdin = self._proc.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()
        if not wait:
            return None
        done = self.wait_for(lambda e: e.get("cid") == cid and e["type"] in {"ack", "cmd_error"})
        if done["type"] == "cmd_error":
            msg = f"driver command {cmd} failed: {done['error']}"
            raise AssertionError(msg)
        return done["result"]

    def mark(self) -> int:
        """The seq of the latest event: pass it as ``after=`` to wait only for newer ones."""
        with self._cond:
            return self.events[-1]["seq"] if self.events else 0

    def select(self, kind: str | Predicate, *, after: int = 0, **fields: Any) -> list[Event]:
        """Events received so far matching ``kind`` and ``fields`` with seq > ``after``."""
        match = matcher(kind, fields)
        with self._cond:
            return [e for e in self.events if e.get("seq", 0) > after and match(e)]

    def wait_for(
        self,
        kind: str | Predicate,
        timeout: float | None = None,
        *,
        after: int = 0,
        count: int = 1,
        **fields: Any,
    ) -> Event:
        """Wait for the ``count``-th event matching ``kind`` and ``fields`` after seq ``after``.

        Args:
            kind: an event type (``"open"``) or a predicate on the event dict.
            timeout: the deadline in seconds (default: the client's).
            after: only consider events with a larger seq (see :meth:`mark`).
            count: return the count-th match.
            **fields: fields the event must have with these exact values.

        Returns:
            The matching event.

        Raises:
            AssertionError: on timeout or when node exited, listing the recent events.
        """
        match = matcher(kind, fields)
        limit = self.timeout if timeout is None else timeout
        found: list[Event] = []

        def ready() -> bool:
            found[:] = [e for e in self.events if e.get("seq", 0) > after and match(e)]
            return len(found) >= count or self._eof

        with self._cond:
            ok = self._cond.wait_for(ready, timeout=limit)
            if ok and len(found) >= count:
                return found[count - 1]
        why = "node exited" if self._eof else f"timed out after {limit}s"
        msg = f"{why} waiting for {kind!r} {fields} (count={count}, after={after}); "
        raise AssertionError(msg + self._describe())

    # -- life cycle --------------------------------------------------------------

    def close(self) -> None:
        """Stop node (``exit``, then kill after a deadline) and join the reader thread."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._proc.poll() is None and self._proc.stdin is not None:
                self._proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self._proc.stdin.flush()
                self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5.0)
        self._reader.join(timeout=5.0)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()


JsClientFactory = Callable[..., JsClient]


@pytest.fixture(name="js_client")
def js_client_fixture() -> Iterator[JsClientFactory]:
    """A factory of :class:`JsClient`; every client made is closed after the test."""
    made: list[JsClient] = []

    def make(**kwargs: Any) -> JsClient:
        client = JsClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(name="loopback_server")
def loopback_server_fixture() -> Iterator[LoopbackServer]:
    """A :class:`~phoenix_actors.server.LoopbackServer` with the demo channels, on a free port."""
    from phoenix_actors.server import LoopbackServer  # noqa: PLC0415 (tests of the driver need none)

    with LoopbackServer() as server:
        yield server


# -- helpers for the conformance tests ------------------------------------------------


def open_socket(js: JsClient, url: str, *, socket: str = "s", **options: Any) -> Event:
    """Create socket ``socket`` on ``url`` with phoenix.js ``options``, connect, wait for open."""
    mark = js.mark()
    js.send("socket", socket=socket, url=url, **options)
    js.send("connect", socket=socket)
    return js.wait_for("open", after=mark, socket=socket)


def join(
    js: JsClient,
    channel: str,
    topic: str,
    params: dict[str, Any] | None = None,
    *,
    socket: str = "s",
    **options: Any,
) -> Event:
    """Create channel ``channel`` on ``topic``, join it, return the first join reply."""
    mark = js.mark()
    js.send("channel", socket=socket, channel=channel, topic=topic, params=params or {})
    js.send("join", channel=channel, **options)
    return js.wait_for("join_reply", after=mark, channel=channel)


def push(
    js: JsClient,
    channel: str,
    event: str,
    payload: Any = None,
    **options: Any,
) -> Event:
    """Push ``event`` on ``channel`` and return its reply (ok, error or timeout)."""
    push_id = f"p{next(_counter)}"
    js.send(
        "push",
        channel=channel,
        event=event,
        payload={} if payload is None else payload,
        push_id=push_id,
        **options,
    )
    return js.wait_for("push_reply", push_id=push_id)
