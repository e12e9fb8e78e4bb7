"""Long-poll selection and phoenix.js's fallback rules in the pure socket machine."""

from __future__ import annotations

import itertools

from phoenix_actors.protocol.socket import (
    CloseTransport,
    NotifyChannels,
    OpenTransport,
    Rearm,
    SendFrame,
    SocketCore,
    SocketEffect,
    Stop,
)

THRESHOLD = 2.5


def core(**kwargs: object) -> SocketCore:
    refs = itertools.count(1)
    return SocketCore(lambda: str(next(refs)), **kwargs)  # type: ignore[arg-type]


def opens(effects: list[SocketEffect]) -> list[str]:
    return [e.kind for e in effects if isinstance(e, OpenTransport)]


def rearms(effects: list[SocketEffect], name: str) -> list[float]:
    return [e.at for e in effects if isinstance(e, Rearm) and e.name == name]


def remembered(s: SocketCore) -> bool:
    return s.fallback_memo


def test_without_fallback_only_a_websocket_is_opened() -> None:
    s = core()
    out = s.connect(0.0)
    assert opens(out) == ["websocket"]
    assert rearms(out, "fallback") == []


def test_longpoll_transport_opens_long_poll_and_sends_no_heartbeats() -> None:
    s = core(transport="longpoll")
    assert opens(s.connect(0.0)) == ["longpoll"]
    out = s.opened(1.0)
    assert rearms(out, "heartbeat") == []
    assert NotifyChannels(opened=True) in out


def test_an_error_before_open_falls_back_at_once() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    out = s.connect(10.0)
    assert opens(out) == ["websocket"]
    assert rearms(out, "fallback") == [10.0 + THRESHOLD]
    out = s.errored(10.1)
    assert CloseTransport(1000, "falling back to long-poll") in out
    assert opens(out) == ["longpoll"]
    assert Stop("fallback") in out


def test_no_open_within_the_threshold_falls_back() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    s.connect(0.0)
    assert opens(s.timer(THRESHOLD, "fallback")) == ["longpoll"]


def test_an_opened_websocket_must_answer_a_ping_within_the_threshold() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    s.connect(0.0)
    out = s.opened(1.0)
    pings = [e.message for e in out if isinstance(e, SendFrame)]
    assert len(pings) == 1
    assert pings[0].topic == "phoenix"
    assert pings[0].event == "heartbeat"
    assert rearms(out, "fallback") == [1.0 + THRESHOLD]
    out = s.timer(1.0 + THRESHOLD, "fallback")
    assert opens(out) == ["longpoll"]
    assert NotifyChannels(opened=False, reason="connection_closed") in out


def test_a_ping_reply_keeps_the_websocket_for_good() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    s.connect(0.0)
    ping = next(e.message for e in s.opened(1.0) if isinstance(e, SendFrame))
    assert s.heartbeat_reply(1.2, ping.ref) == [Stop("fallback")]
    assert s.timer(1.0 + THRESHOLD, "fallback") == []
    # an error after the health check is an ordinary one: no fallback, the channels
    # hear of it as phoenix.js's onConnError tells them
    assert s.errored(5.0) == [NotifyChannels(opened=False, reason="connection_error")]
    s.closed(5.0, 1006, "")
    assert opens(s.timer(5.1, "reconnect")) == ["websocket"]


def test_after_falling_back_reconnects_keep_long_poll_and_it_is_remembered() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    s.connect(0.0)
    s.errored(0.1)
    assert remembered(s) is False
    s.opened(0.2)
    assert remembered(s) is True  # the websocket never answered a ping
    s.closed(1.0, 1006, "")
    assert opens(s.timer(1.1, "reconnect")) == ["longpoll"]


def test_a_deliberate_disconnect_cancels_the_fallback() -> None:
    s = core(longpoll_fallback=THRESHOLD)
    s.connect(0.0)
    out = s.disconnect(0.5)
    assert Stop("fallback") in out
    assert s.timer(THRESHOLD, "fallback") == []
