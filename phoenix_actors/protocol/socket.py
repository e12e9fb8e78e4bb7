"""The socket state machine: connect, heartbeats, close handling, reconnect.

Sans-IO, like :mod:`phoenix_actors.protocol.channel`: inputs take ``now`` and
return effects. The rules are phoenix.js's (``socket.js``; PROTOCOL.md §4):

* the first heartbeat goes out one interval after open, the next one an
  interval after each reply; a heartbeat still unanswered when the next is
  due closes the connection with 1000 "heartbeat timeout", errors the
  channels, and reconnects anyway;
* after every close the client did not start (1000, 1001, 1012 included,
  as phoenix.js 1.8.16) the socket reconnects on the reconnect schedule
  (10 ms ... 5 s), reset by a successful open; a reconnect policy
  ``(close_code, http_status, attempt) -> seconds | None`` may change the
  delay or stop (None), and optional jitter spreads a fleet's reconnects.
  By default a refused handshake (HTTP 403) stops the reconnects unless a
  token or params provider can answer the refusal with fresh credentials;
* ``connect`` with a live transport does nothing;
* long-poll sends no heartbeats;
* with a long-poll fallback threshold, a websocket attempt falls back to
  long-poll when it errors before opening, or when no ping reply arrives
  within the threshold of starting (or of opening); once fallen back,
  reconnects keep using long-poll, and if the websocket never answered a
  ping the choice is remembered for later connects (phoenix.js
  ``connectWithFallback``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Final, Literal

import msgspec

from phoenix_actors.protocol.frames import PHOENIX_TOPIC, Message
from phoenix_actors.protocol.frames import Event as Wire
from phoenix_actors.protocol.schedule import reconnect_after

__all__ = [
    "CloseTransport",
    "ConnState",
    "HeartbeatTimedOut",
    "NotifyChannels",
    "OpenTransport",
    "Rearm",
    "ReconnectPolicy",
    "SendFrame",
    "SocketCore",
    "SocketEffect",
    "Stop",
]

HEARTBEAT_TIMEOUT_REASON: Final = "heartbeat timeout"


class ConnState(StrEnum):
    """phoenix.js ``connectionState()`` values."""

    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


TransportKind = Literal["websocket", "longpoll"]

ReconnectPolicy = Callable[[int | None, int | None, int], float | None]
"""``(close_code, http_status, attempt) -> seconds | None`` (None: stop reconnecting)."""


class OpenTransport(msgspec.Struct, frozen=True):
    """Open a new transport of ``kind`` (URL, params and token are resolved by the actor)."""

    kind: TransportKind = "websocket"


class CloseTransport(msgspec.Struct, frozen=True):
    """Close the current transport with ``code`` and ``reason``, and forget it."""

    code: int
    reason: str


class SendFrame(msgspec.Struct, frozen=True):
    """Write ``message`` on the transport."""

    message: Message


class Rearm(msgspec.Struct, frozen=True):
    """Start (or move) the socket timer ``name`` to ``at``."""

    name: str
    at: float


class Stop(msgspec.Struct, frozen=True):
    """Stop the socket timer ``name``."""

    name: str


class NotifyChannels(msgspec.Struct, frozen=True):
    """Tell every channel the socket opened (``opened``) or went away (``reason``)."""

    opened: bool
    reason: str = ""


class HeartbeatTimedOut(msgspec.Struct, frozen=True):
    """No heartbeat reply arrived within an interval."""


SocketEffect = (
    OpenTransport | CloseTransport | SendFrame | Rearm | Stop | NotifyChannels | HeartbeatTimedOut
)


class SocketCore:
    """Connection state of one socket.

    Args:
        make_ref: returns the next ref from the socket's shared counter.
        heartbeat_interval: seconds between heartbeats.
        reconnect_schedule: ``tries -> seconds`` (phoenix.js ``reconnectAfterMs``).
        transport: the transport to use.
        longpoll_fallback: seconds a websocket attempt gets to prove itself
            before falling back to long-poll (None: no fallback).
    """

    def __init__(
        self,
        make_ref: Callable[[], str],
        *,
        heartbeat_interval: float = 30.0,
        reconnect_schedule: Callable[[int], float] = reconnect_after,
        transport: TransportKind = "websocket",
        longpoll_fallback: float | None = None,
        reconnect_policy: ReconnectPolicy | None = None,
        reconnect_jitter: float = 0.0,
        random: Callable[[], float] = lambda: 0.5,
        refreshable: bool = False,
    ) -> None:
        """Create a closed socket."""
        self.reconnect_policy = reconnect_policy
        """``(close_code, http_status, attempt) -> seconds | None``; None: the default."""
        self.reconnect_jitter = reconnect_jitter
        self.random = random
        """Uniform in [0, 1) (injected: tests seed it)."""
        self.refreshable = refreshable
        """A token or params provider can answer a refusal: a 403 is retried."""
        self._channels_errored = False  # this connection's error already errored them
        self.reconnect_stopped: str | None = None
        """Why the socket does not reconnect after its last close (None: it does)."""
        self.transport: TransportKind = transport
        self.longpoll_fallback = longpoll_fallback
        self.fallback_memo = False
        """The websocket never answered a ping and long-poll worked: use long-poll."""
        self._fallback_attempt = False  # this attempt is a websocket that may fall back
        self._established = False
        self._primary_passed = False
        self._fell_back = False
        self._fallback_ping: str | None = None
        self.kind: TransportKind = transport
        """The kind of the current (or last) transport."""
        self.make_ref = make_ref
        self.heartbeat_interval = heartbeat_interval
        self.reconnect_schedule = reconnect_schedule
        self.state = ConnState.CLOSED
        self.close_was_clean = False
        """True after a deliberate disconnect: no reconnect until connect()."""
        self.reconnect_tries = 0
        self.pending_heartbeat: str | None = None
        self.disconnect_reason: str | None = None
        self.reconnect_at: float | None = None
        self.reconnect_delay: float | None = None
        """The delay of the scheduled reconnect, exactly as the schedule gave it."""

    def connect(self, now: float) -> list[SocketEffect]:
        """Open the socket unless a transport is already live."""
        self.close_was_clean = False
        if self.state in (ConnState.CONNECTING, ConnState.OPEN):
            return []
        out: list[SocketEffect] = [Stop("reconnect")]
        self.reconnect_at = None
        return out + self._open(now)

    def _open(self, now: float) -> list[SocketEffect]:
        self.state = ConnState.CONNECTING
        fallback = self.longpoll_fallback
        if self.transport == "longpoll" or self.fallback_memo or self._fell_back:
            self.kind = "longpoll"
            self._fallback_attempt = False
            return [OpenTransport("longpoll")]
        self.kind = "websocket"
        if fallback is None:
            return [OpenTransport("websocket")]
        self._fallback_attempt, self._established = True, False
        return [Rearm("fallback", now + fallback), OpenTransport("websocket")]

    def _fall_back(self, now: float) -> list[SocketEffect]:
        """Give up on the websocket attempt and open long-poll now."""
        was_open = self.state is ConnState.OPEN
        self._fallback_attempt = False
        self._fell_back = True
        self._fallback_ping = self.pending_heartbeat = None
        out: list[SocketEffect] = [Stop("fallback"), Stop("heartbeat")]
        out.append(CloseTransport(1000, "falling back to long-poll"))
        if was_open:
            out.append(NotifyChannels(opened=False, reason="connection_closed"))
        return out + self._open(now)

    def errored(self, now: float, *, abrupt: bool = False) -> list[SocketEffect]:
        """The transport reported an error (``on_close`` follows unless we fall back).

        Unless it only ``abrupt``-ly ended, the channels are errored now with
        ``connection_error`` (phoenix.js ``onConnError``); the close that
        follows errors nobody a second time.
        """
        if self._fallback_attempt and not self._established:
            return self._fall_back(now)
        live = self.state in (ConnState.OPEN, ConnState.CONNECTING)
        if abrupt or not live or self._channels_errored:
            return []
        self._channels_errored = True
        return [NotifyChannels(opened=False, reason="connection_error")]

    def disconnect(self, now: float, code: int = 1000, reason: str = "") -> list[SocketEffect]:
        """Close deliberately: no reconnect; channels turn errored."""
        del now
        self.close_was_clean = True
        self.reconnect_at = None
        self._fallback_attempt = False
        out: list[SocketEffect] = [Stop("reconnect"), Stop("heartbeat"), Stop("fallback")]
        self.pending_heartbeat = None
        if self.state in (ConnState.CONNECTING, ConnState.OPEN):
            self.state = ConnState.CLOSED
            self.disconnect_reason = reason or "disconnect"
            # phoenix.js: the channels see a deliberate close as any other close
            out += [
                CloseTransport(code, reason),
                NotifyChannels(opened=False, reason="connection_closed"),
            ]
        return out

    def opened(self, now: float) -> list[SocketEffect]:
        """The transport opened: reset the reconnect schedule, start heartbeats."""
        self.state = ConnState.OPEN
        self.reconnect_tries = 0
        self.reconnect_stopped = None
        self.reconnect_at = None
        self.pending_heartbeat = None
        out: list[SocketEffect] = [Stop("reconnect")]
        if self.kind == "websocket":
            out.append(Rearm("heartbeat", now + self.heartbeat_interval))
        elif self._fell_back and not self._primary_passed:
            self.fallback_memo = True  # the websocket never proved itself: remember
        if self._fallback_attempt:
            # opened: the websocket gets a new period to answer a ping
            self._established = True
            self._fallback_ping = self.make_ref()
            ping = Message(None, self._fallback_ping, PHOENIX_TOPIC, Wire.HEARTBEAT, {})
            out += [Rearm("fallback", now + (self.longpoll_fallback or 0.0)), SendFrame(ping)]
        out.append(NotifyChannels(opened=True))
        return out

    def closed(
        self, now: float, code: int, reason: str, status: int | None = None
    ) -> list[SocketEffect]:
        """The transport closed (or failed to open) with ``code`` (and HTTP ``status``)."""
        was_live = self.state is not ConnState.CLOSED
        self.state = ConnState.CLOSED
        self.pending_heartbeat = None
        self._fallback_attempt = False
        self.disconnect_reason = reason or f"closed with code {code}"
        out: list[SocketEffect] = [Stop("heartbeat"), Stop("fallback")]
        if was_live and not self._channels_errored:
            out.append(NotifyChannels(opened=False, reason="connection_closed"))
        self._channels_errored = False
        if not self.close_was_clean:
            out += self._schedule_reconnect(now, code, status)
        return out

    def default_policy(self, code: int | None, status: int | None, attempt: int) -> float | None:
        """phoenix.js's schedule; stop after a 403 nobody can answer with fresh credentials."""
        del code
        if status == 403 and not self.refreshable:
            return None
        return self.reconnect_schedule(attempt)

    def _schedule_reconnect(
        self, now: float, code: int | None, status: int | None = None
    ) -> list[SocketEffect]:
        self.reconnect_tries += 1
        policy = self.reconnect_policy or self.default_policy
        delay = policy(code, status, self.reconnect_tries)
        if delay is None:
            self.reconnect_at = self.reconnect_delay = None
            why = f"HTTP {status}" if status is not None else f"close code {code}"
            self.reconnect_stopped = f"the reconnect policy stopped after {why}"
            return []
        if self.reconnect_jitter:
            delay *= 1.0 + self.reconnect_jitter * (2.0 * self.random() - 1.0)
        self.reconnect_stopped = None
        self.reconnect_delay = max(0.0, float(delay))
        self.reconnect_at = now + self.reconnect_delay
        return [Rearm("reconnect", self.reconnect_at)]

    def timer(self, now: float, name: str) -> list[SocketEffect]:
        """A socket timer fired."""
        if name == "reconnect":
            self.reconnect_at = None
            if self.close_was_clean or self.state is not ConnState.CLOSED:
                return []
            return self._open(now)
        if name == "fallback":
            return self._fall_back(now) if self._fallback_attempt else []
        if name == "heartbeat" and self.state is ConnState.OPEN:
            if self.pending_heartbeat is not None:
                return self._heartbeat_timeout(now)
            ref = self.make_ref()
            self.pending_heartbeat = ref
            beat = Message(None, ref, PHOENIX_TOPIC, Wire.HEARTBEAT, {})
            return [SendFrame(beat), Rearm("heartbeat", now + self.heartbeat_interval)]
        return []

    def _heartbeat_timeout(self, now: float) -> list[SocketEffect]:
        self.pending_heartbeat = None
        self.state = ConnState.CLOSED
        self.disconnect_reason = HEARTBEAT_TIMEOUT_REASON
        out: list[SocketEffect] = [
            HeartbeatTimedOut(),
            NotifyChannels(opened=False, reason="heartbeat_timeout"),
            CloseTransport(1000, HEARTBEAT_TIMEOUT_REASON),
        ]
        # our own 1000 close is let go unseen: schedule the reconnect explicitly
        return out + self._schedule_reconnect(now, 1000)

    def heartbeat_reply(self, now: float, ref: str | None) -> list[SocketEffect]:
        """A reply on the ``phoenix`` topic arrived."""
        if ref is not None and ref == self._fallback_ping:
            # the websocket answered: it stays, and is never given up on again
            self._fallback_ping = None
            self._fallback_attempt = False
            self._primary_passed = True
            return [Stop("fallback")]
        if ref is None or ref != self.pending_heartbeat:
            return []
        self.pending_heartbeat = None
        return [Rearm("heartbeat", now + self.heartbeat_interval)]
