"""WebSocketTransport against real loopback servers (aiohttp and hand-scripted)."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from phoenix_actors.errors import (
    ConnectError,
    ConnectionLostError,
    InvalidArgumentError,
    PayloadTooLargeError,
)
from phoenix_actors.transport import (
    FrameTooLargeError,
    TransportOptions,
    WebSocketTransport,
    websocket_transport_factory,
)
from tests.transport.servers import (
    WAIT,
    Loop,
    RawServer,
    WSServer,
    server_frame,
    unmask_client_frames,
)
from tests.transport.sinks import Recorder

SECRET = "s3cr3t-token"


def make(url: str, sink: Recorder, **kwargs: object) -> WebSocketTransport:
    grace = kwargs.pop("close_grace", 1.0)
    assert isinstance(grace, float)
    return WebSocketTransport(url, TransportOptions(**kwargs), sink, close_grace=grace)  # type: ignore[arg-type]


@pytest.fixture
def opened(server: WSServer, sink: Recorder) -> Iterator[WebSocketTransport]:
    transport = make(server.url(), sink)
    transport.open()
    sink.wait_kind("open")
    yield transport
    transport.close()
    assert transport.join(WAIT)


def state(transport: WebSocketTransport) -> str:
    return transport.ready_state  # a call, so mypy does not narrow it across steps


def assert_ended(transport: WebSocketTransport, sink: Recorder) -> None:
    """The thread ended, on_close came exactly once and last, the state is closed."""
    assert transport.join(WAIT)
    kinds = sink.kinds()
    assert kinds.count("close") == 1
    assert kinds[-1] == "close"
    assert transport.ready_state == "closed"


# -- opening ------------------------------------------------------------------


def test_open_calls_on_open_on_the_named_transport_thread(server: WSServer, sink: Recorder) -> None:
    transport = make(server.url(), sink, name="unit")
    assert state(transport) == "connecting"
    transport.open()
    sink.wait_kind("open")
    assert state(transport) == "open"
    assert len(sink.threads) == 1
    (thread_name,) = sink.threads
    assert thread_name.startswith("unit-")
    # a daemon, so a process whose client was never stopped still exits
    assert [t.daemon for t in threading.enumerate() if t.name == thread_name] == [True]
    transport.close()
    assert_ended(transport, sink)
    assert sink.threads == {thread_name}


def test_open_twice_raises(opened: WebSocketTransport) -> None:
    with pytest.raises(RuntimeError):
        opened.open()


def test_factory_makes_an_unopened_websocket_transport(server: WSServer, sink: Recorder) -> None:
    transport = websocket_transport_factory(server.url(), TransportOptions(), sink)
    assert isinstance(transport, WebSocketTransport)
    assert transport.ready_state == "connecting"
    assert transport.join(0.0)  # no thread yet


def test_subprotocols_and_headers_reach_the_server(server: WSServer, sink: Recorder) -> None:
    transport = make(
        server.url(),
        sink,
        subprotocols=("phoenix", f"base64url.bearer.phx.{SECRET}"),
        headers=(("X-Api-Key", "k1"), ("User-Agent", "phoenix-actors-test")),
    )
    transport.open()
    sink.wait_kind("open")
    conn = server.wait_conn()
    assert conn.protocol == "phoenix"
    assert conn.headers["Sec-WebSocket-Protocol"] == f"phoenix, base64url.bearer.phx.{SECRET}"
    assert conn.headers["X-Api-Key"] == "k1"
    assert conn.headers["User-Agent"] == "phoenix-actors-test"
    assert "Origin" not in conn.headers
    transport.close()
    assert_ended(transport, sink)


def test_subprotocol_not_accepted_is_a_connect_error(server: WSServer, sink: Recorder) -> None:
    transport = make(server.url(), sink, subprotocols=("mqtt",))
    transport.open()
    error = sink.wait_kind("error")[1]
    assert isinstance(error, ConnectError)
    assert "subprotocol" in str(error)
    assert "mqtt" not in str(error)
    assert_ended(transport, sink)


def test_secrets_never_reach_the_logs(
    server: WSServer, sink: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = make(
        server.url(query=f"?token={SECRET}&vsn=2.0.0"),
        sink,
        subprotocols=("nope", f"base64url.bearer.phx.{SECRET}"),
        headers=(("Authorization", f"Bearer {SECRET}"),),
    )
    transport.open()
    sink.wait_kind("close")
    assert_ended(transport, sink)
    error = sink.wait_kind("error")[1]
    assert SECRET not in str(error)
    assert SECRET not in repr(transport)
    # Client-side loggers only: aiohttp's *server* logs the offered list at
    # WARNING when none matches (something the bundled server must filter).
    client = [r for r in caplog.records if r.name.startswith(("phoenix_actors", "websocket"))]
    assert client  # the transport did log (at DEBUG)
    assert not [r for r in client if SECRET in r.getMessage()]


# -- frames both ways -----------------------------------------------------------


def test_text_and_binary_frames_round_trip(opened: WebSocketTransport, sink: Recorder) -> None:
    opened.send("héllo".encode(), False)
    opened.send(b"\x00\xff\x10", True)
    assert sink.wait_messages(2) == [("héllo".encode(), False), (b"\x00\xff\x10", True)]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 300_000])
def test_frames_of_every_length_encoding(
    opened: WebSocketTransport, sink: Recorder, server: WSServer, size: int
) -> None:
    payload = bytes(i % 251 for i in range(size))
    opened.send(payload, True)
    assert sink.wait_messages(1) == [(payload, True)]
    conn = server.wait_conn()
    assert conn.received == [("binary", payload)]


def test_send_many_keeps_order_and_kinds(
    opened: WebSocketTransport, sink: Recorder, server: WSServer
) -> None:
    frames = [(f"m{i}".encode(), False) if i % 2 else (bytes([i]) * i, True) for i in range(40)]
    opened.send_many(frames)
    opened.send_many([])
    assert sink.wait_messages(40) == frames
    conn = server.wait_conn()
    assert [kind for kind, _ in conn.received] == [
        "binary" if binary else "text" for _, binary in frames
    ]


def test_pings_are_answered_and_not_delivered(opened: WebSocketTransport, sink: Recorder) -> None:
    opened.send(b"ping", False)
    opened.send(b"after", False)
    assert sink.wait_messages(2) == [(b"pinged", False), (b"after", False)]


def test_fragmented_message_is_reassembled_and_pings_between_fragments_answered(
    loop: Loop, sink: Recorder
) -> None:
    script = (
        server_frame(0x1, b"hel", fin=False)
        + server_frame(0x9, b"p1")
        + server_frame(0x0, b"lo ", fin=False)
        + server_frame(0x0, b"world")
        + server_frame(0x2, b"\x01\x02")
    )
    raw = RawServer(loop, script)
    try:
        transport = make(raw.url(), sink, close_grace=0.2)
        transport.open()
        assert sink.wait_messages(2) == [(b"hello world", False), (b"\x01\x02", True)]
        transport.close(4000, "done")
        assert_ended(transport, sink)
        assert raw.done.wait(WAIT)
        frames = unmask_client_frames(bytes(raw.received))
        assert frames[0] == (0xA, b"p1")  # the pong
        assert frames[1] == (0x8, (4000).to_bytes(2, "big") + b"done")
    finally:
        raw.stop()


# -- closing --------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4321])
def test_server_close_code_reaches_on_close_clean(
    opened: WebSocketTransport, sink: Recorder, code: int
) -> None:
    opened.send(f"close:{code}:going".encode(), False)
    assert sink.wait_kind("close") == ("close", code, "going", True)
    assert_ended(opened, sink)
    assert "error" not in sink.kinds()


def test_close_frame_without_status_is_1005(loop: Loop, sink: Recorder) -> None:
    raw = RawServer(loop, server_frame(0x8, b""))
    try:
        transport = make(raw.url(), sink)
        transport.open()
        assert sink.wait_kind("close") == ("close", 1005, "", True)
        assert_ended(transport, sink)
        assert raw.done.wait(WAIT)
        assert unmask_client_frames(bytes(raw.received)) == [(0x8, b"")]  # echoed, no status
    finally:
        raw.stop()


def test_client_close_code_is_seen_by_the_server(
    server: WSServer, opened: WebSocketTransport, sink: Recorder
) -> None:
    opened.close(4001, "bye")
    assert opened.ready_state in {"closing", "closed"}
    # on_close carries the peer's code, as a browser's onclose does; aiohttp answers 1000.
    assert sink.wait_kind("close") == ("close", 1000, "", True)
    assert_ended(opened, sink)
    conn = server.wait_ended()
    assert conn.close_code == 4001


def test_close_is_idempotent_and_send_after_close_raises(
    opened: WebSocketTransport, sink: Recorder
) -> None:
    opened.close()
    opened.close(4000, "again")
    with pytest.raises(ConnectionLostError):
        opened.send(b"late", False)
    sink.wait_kind("close")
    assert_ended(opened, sink)
    opened.close()
    with pytest.raises(ConnectionLostError):
        opened.send_many([(b"late", False)])


@pytest.mark.parametrize(("code", "reason"), [(999, ""), (1005, ""), (5000, ""), (1000, "x" * 124)])
def test_close_rejects_codes_and_reasons_that_cannot_be_sent(
    opened: WebSocketTransport, code: int, reason: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        opened.close(code, reason)
    assert opened.ready_state == "open"


def test_close_while_connecting_skips_on_open_and_sends_the_close_after_the_handshake(
    loop: Loop, sink: Recorder
) -> None:
    gate = threading.Event()
    raw = RawServer(loop, server_frame(0x8, (1000).to_bytes(2, "big")), gate=gate)
    try:
        transport = make(raw.url(), sink)
        transport.open()
        transport.close(4002, "changed my mind")
        assert transport.ready_state == "closing"
        gate.set()
        assert sink.wait_kind("close") == ("close", 1000, "", True)
        assert_ended(transport, sink)
        assert sink.kinds() == ["close"]
        assert raw.done.wait(WAIT)
        assert unmask_client_frames(bytes(raw.received)) == [
            (0x8, (4002).to_bytes(2, "big") + b"changed my mind")
        ]
    finally:
        raw.stop()


def test_close_when_the_peer_never_answers_ends_within_the_grace(
    server: WSServer, sink: Recorder
) -> None:
    transport = make(server.url("/silent"), sink, close_grace=0.3)
    transport.open()
    sink.wait_kind("open")
    transport.close(1000)
    assert transport.join(2.0)
    assert sink.wait_kind("close") == ("close", 1006, "close handshake timed out", False)
    assert_ended(transport, sink)
    assert "error" not in sink.kinds()


def test_abrupt_tcp_drop_is_1006_unclean_with_connection_lost(
    opened: WebSocketTransport, sink: Recorder
) -> None:
    opened.send(b"drop", False)
    assert sink.wait_kind("close") == ("close", 1006, "", False)
    assert_ended(opened, sink)
    assert isinstance(sink.wait_kind("error")[1], ConnectionLostError)
    assert sink.kinds()[-2:] == ["error", "close"]


# -- connect failures -----------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_connect_failure(transport: WebSocketTransport, sink: Recorder) -> ConnectError:
    transport.open()
    close = sink.wait_kind("close")
    assert_ended(transport, sink)
    assert sink.kinds() == ["error", "close"]
    error = sink.events[0][1]
    assert isinstance(error, ConnectError)
    assert error.__cause__ is not None
    assert close == ("close", 1006, str(error), False)
    return error


def test_connection_refused_is_a_connect_error(sink: Recorder) -> None:
    error = assert_connect_failure(make(f"ws://127.0.0.1:{closed_port()}/ws", sink), sink)
    assert "refused" in str(error)
    assert getattr(error, "status") is None  # noqa: B009
    assert getattr(error, "tls") is False  # noqa: B009


def test_handshake_403_is_a_connect_error_with_the_status(server: WSServer, sink: Recorder) -> None:
    error = assert_connect_failure(make(server.url("/forbidden"), sink), sink)
    assert getattr(error, "status") == 403  # noqa: B009
    assert "403" in str(error)


def test_silent_listener_is_a_connect_timeout(sink: Recorder) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # TCP completes from the backlog; nobody answers the upgrade
        port = listener.getsockname()[1]
        transport = make(f"ws://127.0.0.1:{port}/ws", sink, connect_timeout=0.3)
        error = assert_connect_failure(transport, sink)
    assert "timed out" in str(error)


def test_bad_url_is_a_connect_error(sink: Recorder) -> None:
    error = assert_connect_failure(make("http://127.0.0.1:1/ws", sink), sink)
    assert "URL" in str(error)


# -- limits and protocol errors -------------------------------------------------


def test_frame_over_max_frame_size_closes_1009(server: WSServer, sink: Recorder) -> None:
    transport = make(server.url(), sink, max_frame_size=1000)
    transport.open()
    sink.wait_kind("open")
    transport.send(b"big:1000", False)  # at the limit: fine
    transport.send(b"big:1001", False)
    close = sink.wait_kind("close")
    assert_ended(transport, sink)
    assert [len(data) for data, _ in sink.messages()] == [1000]
    error = sink.wait_kind("error")[1]
    assert isinstance(error, PayloadTooLargeError)
    assert isinstance(error, FrameTooLargeError)
    assert close[1:] == (1009, str(error), False)
    conn = server.wait_ended()
    assert conn.close_code == 1009


def test_fragments_count_together_against_max_frame_size(loop: Loop, sink: Recorder) -> None:
    script = server_frame(0x2, b"a" * 60, fin=False) + server_frame(0x0, b"b" * 60)
    raw = RawServer(loop, script)
    try:
        transport = make(raw.url(), sink, max_frame_size=100)
        transport.open()
        assert sink.wait_kind("close")[1] == 1009
        assert_ended(transport, sink)
        assert sink.messages() == []
    finally:
        raw.stop()


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(server_frame(0x1, b"hi", mask=True), id="masked"),
        pytest.param(server_frame(0x0, b"orphan"), id="orphan-continuation"),
        pytest.param(server_frame(0x9, b"p", fin=False), id="fragmented-ping"),
        pytest.param(server_frame(0x3, b""), id="unknown-opcode"),
        pytest.param(bytes((0xC1, 0)), id="reserved-bit"),
        pytest.param(server_frame(0x8, b"\x03"), id="one-byte-close"),
        pytest.param(server_frame(0x8, (1006).to_bytes(2, "big")), id="reserved-close-code"),
    ],
)
def test_protocol_violations_close_1002_with_connection_lost(
    loop: Loop, sink: Recorder, script: bytes
) -> None:
    raw = RawServer(loop, script)
    try:
        transport = make(raw.url(), sink)
        transport.open()
        close = sink.wait_kind("close")
        assert_ended(transport, sink)
        assert close[1] == 1002
        assert close[3] is False
        error = sink.wait_kind("error")[1]
        assert isinstance(error, ConnectionLostError)
        assert "protocol error" in str(error)
        assert raw.done.wait(WAIT)
        assert unmask_client_frames(bytes(raw.received))[-1] == (0x8, (1002).to_bytes(2, "big"))
    finally:
        raw.stop()


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(server_frame(0x1, b"\xff"), id="invalid-byte"),
        pytest.param(server_frame(0x1, b"caf\xc3"), id="truncated"),
        pytest.param(server_frame(0x1, b"\xc0\xaf"), id="overlong"),
        pytest.param(server_frame(0x1, b"\xed\xa0\x80"), id="surrogate"),
        pytest.param(
            server_frame(0x1, b"ab", fin=False)
            + server_frame(0x0, b"\xc3", fin=False)
            + server_frame(0x0, b"("),
            id="fragmented",
        ),
    ],
)
def test_invalid_utf8_in_a_text_message_closes_1007_and_is_not_delivered(
    loop: Loop, sink: Recorder, script: bytes
) -> None:
    raw = RawServer(loop, server_frame(0x1, b"before") + script + server_frame(0x1, b"after"))
    try:
        transport = make(raw.url(), sink)
        transport.open()
        close = sink.wait_kind("close")
        assert_ended(transport, sink)
        assert sink.messages() == [(b"before", False)]
        assert sink.kinds() == ["open", "message", "error", "close"]
        error = sink.wait_kind("error")[1]
        assert isinstance(error, ConnectionLostError)
        assert str(error) == "invalid UTF-8 in a text frame"
        assert close == ("close", 1007, str(error), False)
        assert raw.done.wait(WAIT)
        assert unmask_client_frames(bytes(raw.received)) == [(0x8, (1007).to_bytes(2, "big"))]
    finally:
        raw.stop()


def test_utf8_split_mid_character_across_fragments_is_delivered(loop: Loop, sink: Recorder) -> None:
    script = (
        server_frame(0x1, b"caf\xc3", fin=False)
        + server_frame(0x0, b"\xa9 \xe2\x82", fin=False)
        + server_frame(0x0, b"\xac")
        + server_frame(0x2, b"\xff\xfe")  # binary frames are not UTF-8 checked
        + server_frame(0x1, "naïve ✓".encode())
    )
    raw = RawServer(loop, script)
    try:
        transport = make(raw.url(), sink, close_grace=0.2)
        transport.open()
        assert sink.wait_messages(3) == [
            ("café €".encode(), False),
            (b"\xff\xfe", True),
            ("naïve ✓".encode(), False),
        ]
        transport.close()
        assert_ended(transport, sink)
        assert "error" not in sink.kinds()
    finally:
        raw.stop()


def test_a_raising_sink_does_not_kill_the_reader(
    server: WSServer, caplog: pytest.LogCaptureFixture
) -> None:
    class Angry(Recorder):
        def on_message(self, transport: object, data: bytes, binary: bool) -> None:
            super().on_message(transport, data, binary)  # type: ignore[arg-type]
            raise RuntimeError("sink bug")

    sink = Angry()
    transport = make(server.url(), sink)
    transport.open()
    sink.wait_kind("open")
    transport.send(b"one", False)
    transport.send(b"two", False)
    assert sink.wait_messages(2) == [(b"one", False), (b"two", False)]
    transport.close()
    assert_ended(transport, sink)
    assert "sink bug" in caplog.text


# -- TLS ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(loop: Loop, ca: trustme.CA) -> Iterator[WSServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    srv = WSServer(loop, ssl_context=context)
    yield srv
    srv.stop()


def test_wss_with_a_trusting_context_connects(
    tls_server: WSServer, ca: trustme.CA, sink: Recorder
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    transport = make(tls_server.url(), sink, ssl_context=context)
    transport.open()
    sink.wait_kind("open")
    assert tls_server.url().startswith("wss://127.0.0.1:")
    transport.send(b"secure", False)
    transport.send(b"x" * 100_000, True)  # several TLS records
    assert sink.wait_messages(2) == [(b"secure", False), (b"x" * 100_000, True)]
    transport.send(b"close:1000:tls bye", False)
    assert sink.wait_kind("close") == ("close", 1000, "tls bye", True)
    assert_ended(transport, sink)


def test_wss_client_close_over_tls(tls_server: WSServer, ca: trustme.CA, sink: Recorder) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    transport = make(tls_server.url(), sink, ssl_context=context)
    transport.open()
    sink.wait_kind("open")
    transport.close(4003, "")
    assert sink.wait_kind("close") == ("close", 1000, "", True)
    assert_ended(transport, sink)
    conn = tls_server.wait_ended()
    assert conn.close_code == 4003


def test_wss_default_context_rejects_an_untrusted_certificate(
    tls_server: WSServer, sink: Recorder
) -> None:
    error = assert_connect_failure(make(tls_server.url(), sink), sink)
    assert getattr(error, "tls") is True  # noqa: B009
    assert "certificate verification failed" in str(error)
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)
