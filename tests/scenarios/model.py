"""Scenarios as data: steps, normalised events, patterns and the comparison.

Normalised events are tuples, the same for both clients:

==========================================  ===============================================
``("open",)``                               the socket opened
``("close", code)``                         the socket closed with ``code``
``("socket_error",)``                       the transport reported an error
``("join", topic, "ok", response, ref)``    a join (or rejoin) succeeded; ``ref`` is
                                            ``"fresh"`` when the join_ref differs from the
                                            previous successful join's, else ``"same"``
``("join", topic, "error", response, None)``  a join was refused
``("join", topic, "timeout", None, None)``  a join timed out
``("channel_error", topic, payload)``       the channel errored (``phx_error`` or transport)
``("channel_close", topic, payload)``       the server closed the channel (``phx_close``)
``("leave", topic)``                        the channel was left (phoenix.js: ``onClose``
                                            with ``"leave"``; ours: ``LeaveOk``)
``("push", topic, event, status, response)``  a push's outcome (``response`` None on timeout)
``("event", topic, event, payload)``        a server push the scenario listens to
==========================================  ===============================================

Payloads are plain JSON values with bytes as :class:`bytes`; a ``join_ref``
inside a ``whoami`` reply is replaced by ``"current"`` (the join_ref of the
channel's latest successful join), ``"other"`` or None. Timestamps and refs
are dropped.

Events are compared **per stream**: the socket's (open, close, socket_error)
and each topic's. Within a stream both clients order events
deterministically; across streams our client's actors (socket, channels)
publish concurrently, so their interleaving is not compared (see
``docs/differences.md``, "Event order across channels and the socket").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

Norm = tuple[Any, ...]
"""One normalised event."""

Pattern = tuple[Any, ...]
"""A prefix of a normalised event; :data:`ANY` matches any value at its place."""

WAIT: Final = 5.0
"""Default deadline of a :class:`Wait`, in seconds."""

DOC: Final = Path(__file__).resolve().parents[2] / "docs" / "differences.md"
SOCKET_KINDS: Final = frozenset({"open", "close", "socket_error"})


class _Any:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


ANY: Final[Any] = _Any()


def matches(event: Norm, pattern: Pattern) -> bool:
    """Whether ``event`` starts with ``pattern`` (:data:`ANY` matches anything)."""
    if len(event) < len(pattern):
        return False
    return all(p is ANY or p == e for p, e in zip(pattern, event, strict=False))


def stream_of(event: Norm) -> str:
    """``"socket"`` for socket events, else the event's topic."""
    return "socket" if event[0] in SOCKET_KINDS else str(event[1])


# --- steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    """Open the socket (``socket.connect()`` / ``Connect()``)."""


@dataclass(frozen=True)
class Disconnect:
    """Close the socket from the client (``socket.disconnect()`` / ``Disconnect()``)."""


@dataclass(frozen=True)
class Join:
    """Join ``topic`` with ``payload`` (a join timeout in seconds, or the socket's)."""

    topic: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class Push:
    """Push ``event`` with ``payload`` on ``topic`` (timeout in seconds, or the socket's)."""

    topic: str
    event: str
    payload: Any = field(default_factory=dict)
    timeout: float | None = None


@dataclass(frozen=True)
class Leave:
    """Leave ``topic``."""

    topic: str


@dataclass(frozen=True)
class Fault:
    """Call ``server.faults.<name>(*args)`` (``stop_heartbeats``, ``drop_replies``...)."""

    name: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Server:
    """A server action: ``restart``, ``disconnect`` (this user's sockets, 1001)."""

    action: Literal["restart", "disconnect"]


@dataclass(frozen=True)
class Wait:
    """Wait until ``count`` normalised events matching ``pattern`` were seen (in total)."""

    pattern: Pattern
    count: int = 1
    timeout: float = WAIT


Step = Connect | Disconnect | Join | Push | Leave | Fault | Server | Wait


@dataclass(frozen=True)
class Allow:
    """A documented difference: drop events matching ``drop`` on ``side`` before comparing.

    ``section`` is a heading of ``docs/differences.md`` that explains why.
    The allowance must be needed: without it the sequences must differ.
    """

    section: str
    side: Literal["js", "py"]
    drop: tuple[Pattern, ...]


@dataclass(frozen=True)
class Scenario:
    """One script, the options both clients get, and what must (not) be seen."""

    name: str
    steps: tuple[Step, ...]
    expect: tuple[Pattern, ...]
    """Patterns that must occur, in this order, in both compared sequences."""
    forbid: tuple[Pattern, ...] = ()
    """Patterns that must not occur in the compared sequences."""
    counts: tuple[tuple[Pattern, int], ...] = ()
    """``(pattern, n)``: exactly ``n`` events match ``pattern`` in the compared sequences."""
    listen: tuple[str, ...] = ()
    """Server push events reported as ``("event", ...)`` (phoenix.js binds them with on)."""
    user_id: str = "alice"
    params: Mapping[str, Any] = field(default_factory=dict)
    """Connect params besides ``user_id``."""
    auth_token: str | None = None
    vsn: Literal["1.0.0", "2.0.0"] = "2.0.0"
    transport: Literal["websocket", "longpoll"] = "websocket"
    timeout: float = 2.0
    heartbeat: float = 30.0
    reconnect: tuple[float, ...] = (0.05,)
    rejoin: tuple[float, ...] = (0.05,)
    token_in_user_id: bool = False
    """Serve with a connect hook that appends the auth token to the user id."""
    server_joins: tuple[tuple[str, int], ...] = ()
    """``(topic, n)``: the server started exactly ``n`` channels on ``topic`` (``phx_join``
    frames it routed, duplicates included) by the end of the scenario."""
    allow: tuple[Allow, ...] = ()
    bug: str | None = None
    """A known client bug: the test is ``xfail(strict=True)`` with this reason."""

    @property
    def connect_params(self) -> dict[str, Any]:
        """The socket's connect params."""
        return {"user_id": self.user_id, **self.params}


# --- comparison ---------------------------------------------------------------------------


def per_stream(events: Sequence[Norm]) -> dict[str, list[Norm]]:
    """Split ``events`` by :func:`stream_of`, keeping each stream's order."""
    out: dict[str, list[Norm]] = {}
    for event in events:
        out.setdefault(stream_of(event), []).append(event)
    return out


def without(events: Sequence[Norm], patterns: Sequence[Pattern]) -> list[Norm]:
    """``events`` minus those matching any of ``patterns``."""
    return [e for e in events if not any(matches(e, p) for p in patterns)]


def in_order(events: Sequence[Norm], patterns: Sequence[Pattern]) -> Pattern | None:
    """The first of ``patterns`` not found in order in its stream of ``events`` (None: all)."""
    streams = {k: iter(v) for k, v in per_stream(events).items()}
    for pattern in patterns:
        assert pattern[0] in SOCKET_KINDS or len(pattern) > 1, f"give {pattern!r} a topic"
        rest = streams.setdefault(stream_of(pattern), iter(()))
        if not any(matches(e, pattern) for e in rest):
            return pattern
    return None


def check(scenario: Scenario, js: Sequence[Norm], py: Sequence[Norm]) -> None:
    """Assert the compared prefixes agree (up to the scenario's allowances).

    Raises:
        AssertionError: with both sequences, per stream.
    """
    for side, events in (("phoenix.js", js), ("phoenix_actors", py)):
        missing = in_order(events, scenario.expect)
        assert missing is None, f"{side}: expected {missing!r} (in stream order) in {events!r}"
        for pattern in scenario.forbid:
            hits = [e for e in events if matches(e, pattern)]
            assert not hits, f"{side}: forbidden {pattern!r} seen: {hits!r}"
        for pattern, n in scenario.counts:
            hits = [e for e in events if matches(e, pattern)]
            assert len(hits) == n, f"{side}: {n} x {pattern!r} expected, got {hits!r}"
    raw_js, raw_py = per_stream(js), per_stream(py)
    js_drops = [p for a in scenario.allow if a.side == "js" for p in a.drop]
    py_drops = [p for a in scenario.allow if a.side == "py" for p in a.drop]
    got_js, got_py = per_stream(without(js, js_drops)), per_stream(without(py, py_drops))
    assert got_js == got_py, "sequences differ:\n" + describe(got_js, got_py)
    if scenario.allow:
        assert raw_js != raw_py, (
            f"{scenario.name}: the allowance {[a.section for a in scenario.allow]} is no "
            "longer needed (both clients agree without it): remove it"
        )


def check_server_joins(scenario: Scenario, side: str, joins: Mapping[str, int]) -> None:
    """Assert the server saw the scenario's ``server_joins`` from ``side``'s client."""
    for topic, n in scenario.server_joins:
        got = joins.get(topic, 0)
        assert got == n, f"{side}: the server started {got} channels on {topic!r}, expected {n}"


def describe(js: Mapping[str, list[Norm]], py: Mapping[str, list[Norm]]) -> str:
    """Both sides, stream by stream, marking the streams that differ."""
    lines = []
    for stream in sorted(set(js) | set(py)):
        a, b = js.get(stream, []), py.get(stream, [])
        mark = "==" if a == b else "!="
        lines.append(f"[{stream}] {mark}")
        lines.extend(f"  js {e!r}" for e in a)
        lines.extend(f"  py {e!r}" for e in b)
    return "\n".join(lines)


def doc_sections(text: str | None = None) -> set[str]:
    """The ``##``/``###`` headings of ``docs/differences.md``."""
    body = DOC.read_text(encoding="utf-8") if text is None else text
    return {m.group(1).strip() for m in re.finditer(r"^#{2,3} +(.+)$", body, re.MULTILINE)}
