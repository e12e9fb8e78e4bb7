"""SocketCore, the sans-IO socket machine (PROTOCOL.md §4, §9 items 8-14)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from phoenix_actors.protocol.frames import Message
from phoenix_actors.protocol.schedule import make_schedule, reconnect_after
from phoenix_actors.protocol.socket import (
    CloseTransport,
    ConnState,
    HeartbeatTimedOut,
    NotifyChannels,
    OpenTransport,
    Rearm,
    SendFrame,
    SocketCore,
    SocketEffect,
    Stop,
)


class Harness:
    """Plays the SocketActor: keeps timers, fires them at their deadline."""

    def __init__(self, **kwargs: Any) -> None:
        counter = itertools.count(1)
        self.core = SocketCore(lambda: str(next(counter)), **kwargs)
        self.now = 0.0
        self.timers: dict[str, float] = {}
        self.effects: list[SocketEffect] = []
        self.opens = 0

    def run(self, effects: list[SocketEffect]) -> list[SocketEffect]:
        for eff in effects:
            self.effects.append(eff)
            match eff:
                case Rearm(name=name, at=at):
                    self.timers[name] = at
                case Stop(name=name):
                    self.timers.pop(name, None)
                case OpenTransport():
                    self.opens += 1
        return effects

    def connect(self) -> list[SocketEffect]:
        return self.run(self.core.connect(self.now))

    def opened(self) -> list[SocketEffect]:
        return self.run(self.core.opened(self.now))

    def closed(
        self, code: int, reason: str = "", status: int | None = None
    ) -> list[SocketEffect]:
        return self.run(self.core.closed(self.now, code, reason, status))

    def disconnect(self, code: int = 1000) -> list[SocketEffect]:
        return self.run(self.core.disconnect(self.now, code))

    def advance_to(self, t: float) -> None:
        while True:
            due = [(at, name) for name, at in self.timers.items() if at <= t]
            if not due:
                break
            at, name = min(due)
            del self.timers[name]
            self.now = max(self.now, at)
            self.run(self.core.timer(self.now, name))
        self.now = t

    def heartbeats(self) -> list[Message]:
        return [
            e.message
            for e in self.effects
            if isinstance(e, SendFrame) and e.message.event == "heartbeat"
        ]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    def state(self) -> ConnState:
        return self.core.state


def open_socket(**kwargs: Any) -> Harness:
    h = Harness(**kwargs)
    h.connect()
    h.opened()
    return h


# --- connect ------------------------------------------------------------------------


def test_connect_opens_a_transport_and_open_notifies_channels() -> None:
    h = Harness()
    assert h.state() is ConnState.CLOSED
    assert OpenTransport() in h.connect()
    assert h.state() is ConnState.CONNECTING
    effects = h.opened()
    assert NotifyChannels(opened=True) in effects
    assert h.state() is ConnState.OPEN


@pytest.mark.parametrize("state", ["connecting", "open"])
def test_connect_with_a_live_transport_is_a_no_op(state: str) -> None:
    h = Harness()
    h.connect()
    if state == "open":
        h.opened()
    assert h.connect() == []
    assert h.opens == 1


# --- heartbeats ---------------------------------------------------------------------


def test_first_heartbeat_30_s_after_open_next_30_s_after_the_reply() -> None:
    h = Harness()
    h.advance_to(5.0)
    h.connect()
    h.opened()
    h.advance_to(math.nextafter(35.0, 0))
    assert h.heartbeats() == []
    h.advance_to(35.0)
    [beat] = h.heartbeats()
    assert beat == Message(None, beat.ref, "phoenix", "heartbeat", {})
    assert beat.ref is not None
    h.advance_to(41.0)
    h.run(h.core.heartbeat_reply(h.now, beat.ref))
    assert h.timers["heartbeat"] == 71.0
    h.advance_to(70.9)
    assert len(h.heartbeats()) == 1
    h.advance_to(71.0)
    second = h.heartbeats()[1]
    assert second.ref != beat.ref
    assert h.of(HeartbeatTimedOut) == []


def test_heartbeat_interval_is_configurable() -> None:
    h = open_socket(heartbeat_interval=5.0)
    h.advance_to(5.0)
    assert len(h.heartbeats()) == 1


def test_reply_with_another_ref_does_not_count() -> None:
    h = open_socket()
    h.advance_to(30.0)
    assert h.core.heartbeat_reply(h.now, "nope") == []
    assert h.core.heartbeat_reply(h.now, None) == []
    h.advance_to(60.0)
    assert len(h.of(HeartbeatTimedOut)) == 1


def test_unanswered_heartbeat_times_out_closes_1000_and_reconnects() -> None:
    h = open_socket()
    h.advance_to(30.0)
    h.effects.clear()
    h.advance_to(59.999)
    assert h.of(HeartbeatTimedOut) == []
    h.advance_to(60.0)
    assert h.of(HeartbeatTimedOut) == [HeartbeatTimedOut()]
    assert h.of(CloseTransport) == [CloseTransport(1000, "heartbeat timeout")]
    assert h.of(NotifyChannels) == [NotifyChannels(opened=False, reason="heartbeat_timeout")]
    assert h.state() is ConnState.CLOSED
    assert h.core.disconnect_reason == "heartbeat timeout"
    assert h.timers == {"reconnect": 60.01}
    h.advance_to(60.01)
    assert h.opens == 2
    # (the old transport's own close is never fed in: the SocketActor drops
    # callbacks from a transport it let go of)


# --- close codes and reconnects -----------------------------------------------------


@pytest.mark.parametrize("code", [1001, 1002, 1005, 1006, 1011, 1012, 4000])
def test_abnormal_close_reconnects(code: int) -> None:
    h = open_socket()
    effects = h.closed(code, "bye")
    assert NotifyChannels(opened=False, reason="connection_closed") in effects
    assert Stop("heartbeat") in effects
    assert h.timers == {"reconnect": 0.01}
    assert h.core.disconnect_reason == "bye"
    h.advance_to(0.01)
    assert h.opens == 2
    assert h.state() is ConnState.CONNECTING


def test_a_server_close_with_1000_reconnects_as_phoenix_js_1_8_16_does() -> None:
    h = open_socket()
    effects = h.closed(1000)
    assert NotifyChannels(opened=False, reason="connection_closed") in effects
    assert h.timers == {"reconnect": h.now + 0.01}
    assert h.core.disconnect_reason == "closed with code 1000"
    h.advance_to(h.now + 0.01)
    assert h.opens == 2


def test_a_deliberate_disconnect_never_reconnects() -> None:
    h = open_socket()
    h.run(h.core.disconnect(h.now, 1000, "bye"))
    h.closed(1000)
    assert "reconnect" not in h.timers
    h.advance_to(100.0)
    assert h.opens == 1


def test_a_reconnect_policy_sets_each_delay_and_none_stops() -> None:
    calls: list[tuple[int | None, int | None, int]] = []

    def policy(code: int | None, status: int | None, attempt: int) -> float | None:
        calls.append((code, status, attempt))
        return None if attempt >= 3 else 0.5 * attempt

    h = open_socket(reconnect_policy=policy)
    h.closed(1006)
    assert h.timers["reconnect"] == pytest.approx(h.now + 0.5)
    h.advance_to(h.now + 0.5)
    h.closed(1006)  # the attempt failed: tries 2
    assert h.timers["reconnect"] == pytest.approx(h.now + 1.0)
    h.advance_to(h.now + 1.0)
    h.closed(1011, status=None)
    assert "reconnect" not in h.timers
    assert h.core.reconnect_at is None
    assert h.core.reconnect_stopped == "the reconnect policy stopped after close code 1011"
    assert calls == [(1006, None, 1), (1006, None, 2), (1011, None, 3)]


def test_a_refused_handshake_stops_by_default_unless_credentials_can_be_refreshed() -> None:
    h = open_socket()
    h.closed(1006, status=403)
    assert "reconnect" not in h.timers
    assert h.core.reconnect_stopped == "the reconnect policy stopped after HTTP 403"
    r = open_socket()
    r.core.refreshable = True  # a token or params callable answers the refusal
    r.closed(1006, status=403)
    assert r.timers["reconnect"] == pytest.approx(r.now + 0.01)


def test_jitter_spreads_each_delay_within_its_bounds() -> None:
    import random  # noqa: PLC0415

    rng = random.Random(7)
    delays = []
    for _ in range(200):
        h = open_socket(reconnect_jitter=0.5, random=rng.random, reconnect_schedule=lambda n: 2.0)
        h.closed(1006)
        delays.append(h.timers["reconnect"] - h.now)
    assert min(delays) >= 1.0
    assert max(delays) <= 3.0
    assert max(delays) - min(delays) > 1.5  # really spread, not one value


def test_reconnect_delays_follow_phoenix_js_and_reset_on_open() -> None:
    h = open_socket()
    h.closed(1006)
    delays = []
    for _ in range(11):
        start = h.now
        delays.append(h.timers["reconnect"] - start)
        h.advance_to(h.timers["reconnect"])
        h.closed(1006)  # the connect attempt failed
    assert delays == pytest.approx(
        [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 5.0], abs=1e-9
    )
    assert h.opens == 12
    h.advance_to(h.timers["reconnect"])
    h.opened()
    assert "reconnect" not in h.timers
    h.closed(1006)
    assert h.timers["reconnect"] - h.now == pytest.approx(0.01)


def test_a_failed_connect_notifies_channels_too() -> None:
    h = Harness()
    h.connect()
    effects = h.closed(1006, "refused")
    assert NotifyChannels(opened=False, reason="connection_closed") in effects
    assert "reconnect" in h.timers


def test_close_reported_twice_notifies_once() -> None:
    h = open_socket()
    h.closed(1006)
    effects = h.closed(1006)
    assert not any(isinstance(e, NotifyChannels) for e in effects)


def test_deliberate_disconnect_never_reconnects_until_connect() -> None:
    h = open_socket()
    effects = h.disconnect(1000)
    assert CloseTransport(1000, "") in effects
    assert NotifyChannels(opened=False, reason="connection_closed") in effects  # as phoenix.js
    assert h.timers == {}
    assert h.state() is ConnState.CLOSED
    h.closed(1006)  # even an abnormal code from the closing transport
    h.advance_to(100.0)
    assert h.opens == 1
    assert h.core.timer(h.now, "reconnect") == []
    h.connect()
    assert h.opens == 2
    h.opened()
    h.closed(1006)
    assert "reconnect" in h.timers


def test_disconnect_cancels_a_pending_reconnect() -> None:
    h = open_socket()
    h.closed(1006)
    assert "reconnect" in h.timers
    effects = h.disconnect()
    assert Stop("reconnect") in effects
    assert not any(isinstance(e, CloseTransport) for e in effects)  # nothing live to close
    h.advance_to(10.0)
    assert h.opens == 1


def test_disconnect_stops_heartbeats() -> None:
    h = open_socket()
    h.disconnect()
    h.advance_to(100.0)
    assert h.heartbeats() == []
    assert h.core.timer(h.now, "heartbeat") == []


def test_connect_during_a_reconnect_wait_opens_at_once() -> None:
    h = open_socket()
    h.closed(1006)
    effects = h.connect()
    assert Stop("reconnect") in effects
    assert h.opens == 2
    h.advance_to(1.0)
    assert h.opens == 2


# --- custom schedules ----------------------------------------------------------------


def test_custom_reconnect_schedule_from_steps() -> None:
    h = open_socket(reconnect_schedule=make_schedule([1, 2], reconnect_after))
    delays = []
    h.closed(1006)
    for _ in range(4):
        start = h.now
        delays.append(h.timers["reconnect"] - start)
        h.advance_to(h.timers["reconnect"])
        h.closed(1006)
    assert delays == [1.0, 2.0, 2.0, 2.0]


def test_custom_reconnect_schedule_callable_gets_the_try_count() -> None:
    tries: list[int] = []

    def schedule(n: int) -> float:
        tries.append(n)
        return 0.5 * n

    h = open_socket(reconnect_schedule=schedule)
    h.closed(1006)
    h.advance_to(h.timers["reconnect"])
    h.closed(1006)
    assert tries == [1, 2]
    assert h.timers["reconnect"] == pytest.approx(0.5 + 1.0)
