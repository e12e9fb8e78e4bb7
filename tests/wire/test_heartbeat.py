"""Heartbeats on the wire, and a dead peer found by them (PROTOCOL.md §4, §9.4, 9.8, 9.9)."""

from __future__ import annotations

import itertools
import logging

import pytest

from phoenix_actors import (
    ChannelErrored,
    ConnectOptions,
    Join,
    JoinOk,
    SocketClosed,
    SocketOpened,
    StartLogging,
    StopLogging,
)
from phoenix_actors.server import LoopbackServer
from tests.wire.conftest import LOBBY, WAIT, Frame, MakeClient, now, whoami

INTERVAL = 0.2
BEAT = ConnectOptions(heartbeat_interval=INTERVAL)


def is_heartbeat(f: Frame) -> bool:
    return f.direction == "out" and f.topic == "phoenix" and f.event == "heartbeat"


def test_heartbeats_go_out_every_interval_with_the_phoenix_shape(connect: MakeClient) -> None:
    s = connect(options=BEAT)
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    opened_at = now()
    beats = s.wire.wait_frames(is_heartbeat, count=4)[:4]
    for beat in beats:
        join_ref, ref, topic, event, payload = beat.data
        assert (join_ref, topic, event, payload) == (None, "phoenix", "heartbeat", {})
        assert isinstance(ref, str)
        assert ref.isdigit()
    refs = [int(b.ref) for b in beats]
    assert refs == sorted(refs)
    assert len(set(refs)) == 4
    # the first goes out one interval after open, each next one an interval after the reply
    assert beats[0].at - opened_at >= INTERVAL * 0.5
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats)]
    assert all(INTERVAL * 0.75 <= g < INTERVAL * 4 for g in gaps), gaps
    # every heartbeat got its reply: [null, ref, "phoenix", "phx_reply", ok {}]
    replies = s.wire.wait_frames(
        lambda f: f.direction == "in" and f.topic == "phoenix" and f.ref in {b.ref for b in beats},
        count=3,
    )
    for reply in replies:
        assert reply.join_ref is None
        assert reply.event == "phx_reply"
        assert reply.payload == {"status": "ok", "response": {}}
    assert s.events.of_type(SocketClosed) == []


def test_start_logging_logs_heartbeats_on_the_frames_logger(
    connect: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="phoenix_actors")
    caplog.set_level(logging.DEBUG, logger="phoenix_actors.frames")
    s = connect(options=BEAT)
    s.client.ask(StartLogging(), timeout=WAIT)
    assert isinstance(s.client.ask(Join(LOBBY), timeout=WAIT), JoinOk)
    beats = s.wire.wait_frames(is_heartbeat, count=2)
    s.client.ask(StopLogging(), timeout=WAIT)
    logged = [
        r.getMessage()
        for r in caplog.records
        if r.name == "phoenix_actors.frames" and "heartbeat" in r.getMessage()
    ]
    # the frame is logged before it is written, so both are in the log already
    for beat in beats[:2]:
        assert f"push phoenix heartbeat ({beat.ref}) {{}}" in logged


def test_dead_peer_is_found_within_two_intervals_then_reconnects_and_rejoins(
    connect: MakeClient, server: LoopbackServer
) -> None:
    s = connect(options=BEAT)
    first = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(first, JoinOk)
    before = whoami(s)
    s.wire.wait_frames(is_heartbeat, count=1)
    stopped_at = now()
    server.faults.stop_heartbeats()
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    found_in = now() - stopped_at
    server.faults.reset()
    assert closed.code == 1000
    assert closed.reason == "heartbeat timeout"
    assert closed.will_reconnect is True
    # at most one interval until the next beat, one more for its reply; plus scheduling slack
    assert found_in < 2 * INTERVAL + 0.4, found_in
    errored = s.events.wait_for(ChannelErrored, timeout=WAIT)
    assert errored.payload == {"source": "transport", "reason": "heartbeat_timeout"}
    s.events.wait_for(SocketOpened, timeout=WAIT)  # the first connection
    s.events.wait_for(SocketOpened, timeout=WAIT)  # the reconnect
    rejoined = s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    assert rejoined.join_ref != first.join_ref
    after = whoami(s)
    assert after["join_ref"] == rejoined.join_ref != before["join_ref"]
    assert s.wire.attempts == 2
    # and the client closed that connection itself, as phoenix.js does
    assert s.wire.closes == [(1, 1000, "heartbeat timeout")]
    # the heartbeat timeout closed the first connection with 1000, once
    assert len([e for e in s.events.of_type(SocketClosed) if e.reason == "heartbeat timeout"]) == 1
