"""WebSocketTransport's outgoing side: sends never block, a peer that stops reading is bounded.

The peers are RawServers that stop reading (``reading=False``): asyncio
then stops reading the socket, the kernel buffers fill, and every further
byte waits in the transport's outgoing buffer.
"""

from __future__ import annotations

import selectors
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import ConnectionLostError, InvalidArgumentError
from phoenix_actors.transport import TransportOptions, WebSocketTransport
from tests.transport.servers import (
    WAIT,
    Loop,
    RawServer,
    client_frame_size,
    unmask_client_frames,
)
from tests.transport.sinks import Recorder

clock = MonotonicClock()
MB = 1024 * 1024
QUICK = 0.1  # seconds a send may take: encoding and one non-blocking write, never a wait


def make(
    url: str, sink: Recorder, close_grace: float = 1.0, **options: object
) -> WebSocketTransport:
    return WebSocketTransport(url, TransportOptions(**options), sink, close_grace=close_grace)  # type: ignore[arg-type]


@pytest.fixture
def stalled(loop: Loop) -> Iterator[RawServer]:
    """A peer that completes the handshake and then never reads."""
    raw = RawServer(loop, b"", reading=False)
    yield raw
    raw.stop()


def timed_send(transport: WebSocketTransport, data: bytes) -> float:
    start = clock.now()
    transport.send(data, True)
    return clock.now() - start


def assert_failed_lost(sink: Recorder, fragment: str) -> ConnectionLostError:
    """on_open, then on_error(ConnectionLostError ~ fragment), then on_close(1006) last."""
    close = sink.wait_kind("close")
    assert sink.kinds() == ["open", "error", "close"]
    error = sink.wait_kind("error")[1]
    assert isinstance(error, ConnectionLostError)
    assert fragment in str(error)
    assert close == ("close", 1006, str(error), False)
    return error


def test_sends_to_a_peer_that_never_reads_return_at_once_and_the_write_deadline_fails_it(
    stalled: RawServer, sink: Recorder
) -> None:
    transport = make(stalled.url(), sink, write_timeout=0.5)
    transport.open()
    sink.wait_kind("open")
    start = clock.now()
    durations = [timed_send(transport, bytes([i]) * MB) for i in range(40)]
    assert max(durations) < QUICK, durations
    assert transport.buffered_amount > 10 * MB  # most of it never left
    error = assert_failed_lost(sink, "write deadline of 0.5 s passed with")
    assert "bytes unsent" in str(error)
    assert 0.5 <= clock.now() - start < 3.0
    assert transport.buffered_amount == 0  # dropped with the connection
    with pytest.raises(ConnectionLostError, match="write deadline"):
        transport.send(b"late", True)
    began = clock.now()
    transport.close()
    assert clock.now() - began < QUICK
    assert transport.join(1.0)
    assert transport.ready_state == "closed"


def test_the_write_deadline_fires_with_nothing_readable_and_no_further_sends(
    stalled: RawServer, sink: Recorder
) -> None:
    transport = make(stalled.url(), sink, write_timeout=0.3)
    transport.open()
    sink.wait_kind("open")
    start = clock.now()
    transport.send_many([(b"x" * MB, True)] * 20)  # one call, then silence both ways
    assert clock.now() - start < QUICK * 5
    assert_failed_lost(sink, "write deadline of 0.3 s")
    assert clock.now() - start < 3.0
    assert transport.join(WAIT)


def test_a_send_over_max_buffered_is_refused_and_fails_the_connection(
    stalled: RawServer, sink: Recorder
) -> None:
    transport = make(stalled.url(), sink, max_buffered=MB, write_timeout=None)
    transport.open()
    sink.wait_kind("open")
    refused: ConnectionLostError | None = None
    for _ in range(200):  # the kernel buffers take a few MB first
        try:
            assert timed_send(transport, b"y" * (256 * 1024)) < QUICK
        except ConnectionLostError as exc:
            refused = exc
            break
        assert transport.buffered_amount <= MB
    assert refused is not None, "no send was refused"
    assert "max_buffered=1048576" in str(refused)
    error = assert_failed_lost(sink, "outgoing buffer over max_buffered=1048576")
    assert str(error) == str(refused)
    with pytest.raises(ConnectionLostError):
        transport.send_many([(b"late", False)])
    transport.close()
    assert transport.join(WAIT)


def test_close_never_waits_for_a_full_buffer_and_ends_within_the_grace(
    stalled: RawServer, sink: Recorder
) -> None:
    transport = make(stalled.url(), sink, close_grace=0.3, write_timeout=None)
    transport.open()
    sink.wait_kind("open")
    for _ in range(20):
        transport.send(b"z" * MB, True)
    start = clock.now()
    transport.close(1000, "bye")  # its close frame waits behind ~20 MB
    assert clock.now() - start < QUICK
    assert transport.join(2.0)
    # The close was asked for: no on_error, the grace ran out.
    assert sink.kinds() == ["open", "close"]
    assert sink.wait_kind("close") == ("close", 1006, "close handshake timed out", False)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan")])
def test_write_timeout_must_be_finite_seconds_above_zero(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match="write_timeout"):
        TransportOptions(write_timeout=value)


@pytest.mark.parametrize("value", [0, -5, True])
def test_max_buffered_must_be_at_least_one_byte(value: int) -> None:
    with pytest.raises(InvalidArgumentError, match="max_buffered"):
        TransportOptions(max_buffered=value)


def test_the_limits_default_to_30_s_and_64_mb_and_may_be_off() -> None:
    options = TransportOptions()
    assert (options.write_timeout, options.max_buffered) == (30.0, 64 * MB)
    off = TransportOptions(write_timeout=None, max_buffered=None)
    assert (off.write_timeout, off.max_buffered) == (None, None)


# -- a peer that reads late still gets every frame whole and in order -----------


def mixed_frames() -> list[tuple[bytes, bool]]:
    """200 frames, 10 B text and 300 KB binary alternating: ~30 MB, more than the kernel buffers."""
    return [
        (f"t{i:08}".encode(), False) if i % 2 else (bytes([i % 251]) * 300_000, True)
        for i in range(200)
    ]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize("how", ["send", "send_many"])
def test_a_peer_that_reads_late_gets_every_frame_whole_and_in_order_then_the_close(
    loop: Loop, sink: Recorder, ca: trustme.CA, tls: bool, how: str
) -> None:
    server_context = client_context = None
    if tls:
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
    raw = RawServer(loop, b"", reading=False, ssl_context=server_context)
    try:
        transport = make(raw.url(), sink, ssl_context=client_context, close_grace=WAIT)
        transport.open()
        sink.wait_kind("open")
        frames = mixed_frames()
        start = clock.now()
        if how == "send":
            for data, binary in frames:
                transport.send(data, binary)
        else:
            for i in range(0, len(frames), 20):
                transport.send_many(frames[i : i + 20])
        assert clock.now() - start < 2.0  # encoding 30 MB; no wait for the peer
        assert transport.buffered_amount > 0  # the rest waits for the I/O thread
        transport.close(4000, "done")  # queued behind all of it
        raw.release()
        total = sum(client_frame_size(len(data)) for data, _ in frames) + client_frame_size(6)
        received = raw.wait_received(total, timeout=30.0)
        assert len(received) == total
        decoded = unmask_client_frames(received)
        expected = [(0x2 if binary else 0x1, data) for data, binary in frames]
        assert decoded[:-1] == expected
        assert decoded[-1] == (0x8, (4000).to_bytes(2, "big") + b"done")
        assert transport.buffered_amount == 0
        raw.hang_up()  # no close frame back: TCP ends, after our close, so no error
        assert transport.join(WAIT)
        assert sink.kinds() == ["open", "close"]
        assert sink.wait_kind("close")[1:] == (1006, "", False)
    finally:
        raw.stop()


def test_the_io_thread_idles_once_the_buffer_has_drained(
    loop: Loop, sink: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float | None] = []

    class CountingSelector(selectors.DefaultSelector):
        def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
            if threading.current_thread().name.startswith("idle-"):
                waits.append(timeout)
            return super().select(timeout)

    monkeypatch.setattr(selectors, "DefaultSelector", CountingSelector)
    raw = RawServer(loop, b"", reading=False)
    try:
        transport = make(raw.url(), sink, name="idle")
        transport.open()
        sink.wait_kind("open")
        for _ in range(20):
            transport.send(b"w" * MB, True)
        raw.release()
        raw.wait_received(20 * client_frame_size(MB))
        transport.send(b"ping", False)  # a last fast-path write: the buffer is empty again
        raw.wait_received(20 * client_frame_size(MB) + client_frame_size(4))
        count = len(waits)
        threading.Event().wait(0.3)  # time passing is the point here, not a barrier
        assert len(waits) - count <= 2, waits[count:]  # no spinning on writability
        assert waits[-1] is None  # nothing queued, no close: no deadline to wake for
        transport.close()
        raw.hang_up()
        assert transport.join(WAIT)
    finally:
        raw.stop()
