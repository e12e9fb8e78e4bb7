"""MemoryTransport and MemoryNetwork: the in-memory twin, helper by helper."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from phoenix_actors.errors import (
    ConnectError,
    ConnectionLostError,
    InvalidArgumentError,
    PayloadTooLargeError,
    TransportError,
)
from phoenix_actors.protocol.frames import Message, Role, V1JSONSerializer, V2JSONSerializer
from phoenix_actors.testing.transport import MemoryNetwork, MemoryTransport
from phoenix_actors.transport import Transport, TransportFactory, TransportOptions
from tests.transport.sinks import Recorder

URL = "ws://example.test/socket/websocket?token=t&vsn=2.0.0"
client_codec = V2JSONSerializer(Role.CLIENT)


@pytest.fixture
def network() -> Iterator[MemoryNetwork]:
    net = MemoryNetwork()
    yield net
    net.close_all()


def connect(
    network: MemoryNetwork, sink: Recorder, url: str = URL, **options: object
) -> MemoryTransport:
    transport = network(url, TransportOptions(**options), sink)  # type: ignore[arg-type]
    transport.open()
    return transport


def opened(network: MemoryNetwork, sink: Recorder, **options: object) -> MemoryTransport:
    transport = connect(network, sink, URL, **options)
    transport.accept()
    sink.wait_kind("open")
    return transport


def client_send(transport: Transport, msg: Message) -> None:
    data, binary = client_codec.encode(msg)
    transport.send(data, binary)


def state(transport: MemoryTransport) -> str:
    return transport.ready_state  # a call, so mypy does not narrow it across steps


def test_it_is_a_transport_factory_of_transports(network: MemoryNetwork, sink: Recorder) -> None:
    factory: TransportFactory = network
    transport: Transport = factory(URL, TransportOptions(), sink)
    assert isinstance(transport, MemoryTransport)
    assert transport.url == URL


def test_network_records_transports_and_hands_them_out_in_order(
    network: MemoryNetwork, sink: Recorder
) -> None:
    with pytest.raises(AssertionError, match="no transport"):
        _ = network.last
    first = connect(network, sink)
    second = connect(network, Recorder())
    assert network.transports == [first, second]
    assert network.last is second
    assert network.wait_for_transport(0.1) is first
    assert network.wait_for_transport(0.1) is second
    with pytest.raises(AssertionError, match="no new transport"):
        network.wait_for_transport(0.05)


def test_wait_for_transport_waits_for_a_connect_from_another_thread(
    network: MemoryNetwork, sink: Recorder
) -> None:
    thread = threading.Thread(target=connect, args=(network, sink), name="connector")
    thread.start()
    transport = network.wait_for_transport(2.0)
    thread.join(2.0)
    assert transport.ready_state == "connecting"


def test_accept_opens_on_the_transports_own_named_thread(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = connect(network, sink, name="mem")
    assert state(transport) == "connecting"
    transport.accept()
    sink.wait_kind("open")
    assert state(transport) == "open"
    (thread_name,) = sink.threads
    assert thread_name.startswith("mem-")
    assert thread_name != threading.current_thread().name
    with pytest.raises(AssertionError, match="already accepted"):
        transport.accept()


def test_accept_before_open_is_a_test_error(network: MemoryNetwork, sink: Recorder) -> None:
    transport = network(URL, TransportOptions(), sink)
    with pytest.raises(AssertionError, match="not opened"):
        transport.accept()


def test_auto_accept(sink: Recorder) -> None:
    network = MemoryNetwork(auto_accept=True)
    try:
        connect(network, sink)
        sink.wait_kind("open")
    finally:
        network.close_all()


def test_open_twice_raises(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink)
    with pytest.raises(RuntimeError):
        transport.open()


def test_sent_frames_are_recorded_in_order(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    transport.send(b"one", False)
    transport.send_many([(b"two", False), (b"\x03", True)])
    assert transport.sent == [(b"one", False), (b"two", False), (b"\x03", True)]


def test_send_when_not_open_raises_connection_lost(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink)
    with pytest.raises(ConnectionLostError):
        transport.send(b"early", False)
    transport.accept()
    sink.wait_kind("open")
    transport.close()
    with pytest.raises(ConnectionLostError):
        transport.send_many([(b"late", False)])


def test_wait_for_sent_takes_the_next_match_and_leaves_the_rest(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink)
    transport.send_many([(b"a", False), (b"b", True), (b"c", False)])
    assert transport.wait_for_sent(lambda f: f[1], timeout=0.5) == (b"b", True)
    assert transport.wait_for_sent(timeout=0.5) == (b"a", False)
    assert transport.wait_for_sent(timeout=0.5) == (b"c", False)
    with pytest.raises(AssertionError, match="no matching frame"):
        transport.wait_for_sent(timeout=0.05)
    assert len(transport.sent) == 3  # history is kept


def test_wait_for_sent_sees_a_frame_sent_later_from_another_thread(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink)
    sender = threading.Thread(target=transport.send, args=(b"later", False), name="sender")
    sender.start()
    assert transport.wait_for_sent(timeout=2.0) == (b"later", False)
    sender.join(2.0)


def test_wait_for_message_decodes_and_skips_undecodable_frames(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink)
    transport.send(b"not json", False)
    hb = Message(None, "1", "phoenix", "heartbeat", {})
    client_send(transport, hb)
    assert transport.wait_for_message(timeout=0.5) == hb
    with pytest.raises(AssertionError, match="not json"):
        transport.wait_for_message(timeout=0.05)


def test_expect_join_then_reply_answers_with_its_refs(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink)
    client_send(transport, Message("1", "1", "room:other", "phx_join", {}))
    client_send(transport, Message("2", "2", "room:lobby", "phx_join", {"p": 1}))
    join = transport.expect_join("room:lobby", timeout=0.5)
    assert join.payload == {"p": 1}
    reply = transport.reply(join, response={"hello": "world"})
    data, binary = sink.wait_messages(1)[0]
    received = V2JSONSerializer(Role.CLIENT).decode(data, binary=binary)
    assert received == reply
    assert received == Message(
        "2", "2", "room:lobby", "phx_reply", {"status": "ok", "response": {"hello": "world"}}
    )
    transport.reply(transport.expect_join("room:other", timeout=0.5), "error", {"reason": "no"})
    second = client_codec.decode(sink.wait_messages(2)[1][0])
    assert second.payload == {"status": "error", "response": {"reason": "no"}}
    assert (second.join_ref, second.ref) == ("1", "1")


def test_expect_push_and_push_to_the_client(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    client_send(transport, Message("3", "4", "room:lobby", "new_msg", {"body": "hi"}))
    assert transport.expect_push("room:lobby", "new_msg", timeout=0.5).ref == "4"
    transport.push("room:lobby", "new_msg", {"body": "yo"}, join_ref="3")
    transport.push("room:lobby", "broadcast")
    transport.push("room:lobby", "bin", b"\x00\x01", join_ref="3")
    frames = sink.wait_messages(3)
    decoded = [client_codec.decode(data, binary=binary) for data, binary in frames]
    assert decoded == [
        Message("3", None, "room:lobby", "new_msg", {"body": "yo"}),
        Message(None, None, "room:lobby", "broadcast", {}),
        Message("3", None, "room:lobby", "bin", b"\x00\x01"),
    ]
    assert [binary for _, binary in frames] == [False, False, True]


def test_deliver_raw_frames_both_kinds(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    transport.deliver(b"text")
    transport.deliver(b"\xff", binary=True)
    assert sink.wait_messages(2) == [(b"text", False), (b"\xff", True)]
    assert len(sink.threads) == 1
    assert threading.current_thread().name not in sink.threads


def test_deliver_before_accept_is_a_test_error(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink)
    with pytest.raises(AssertionError, match="accept"):
        transport.deliver(b"x")


def test_v1_url_gets_the_v1_serializer(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink, url="ws://h/socket/websocket?vsn=1.0.0")
    assert isinstance(transport.serializer, V1JSONSerializer)
    assert isinstance(connect(network, sink, url="ws://h/x").serializer, V2JSONSerializer)


def test_server_close_is_clean(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    transport.deliver(b"last")
    transport.server_close(1001, "bye")
    assert sink.wait_kind("close") == ("close", 1001, "bye", True)
    assert sink.kinds() == ["open", "message", "close"]
    assert transport.wait_closed(0.5) == (1001, "bye", True)
    assert transport.join(1.0)
    assert state(transport) == "closed"
    with pytest.raises(AssertionError, match="already ended"):
        transport.deliver(b"after")
    with pytest.raises(AssertionError, match="already ended"):
        transport.drop()


def test_drop_is_connection_lost_then_1006(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    transport.drop()
    assert sink.wait_kind("close") == ("close", 1006, "", False)
    assert sink.kinds() == ["open", "error", "close"]
    assert isinstance(sink.events[1][1], ConnectionLostError)


def test_fail_reports_the_given_error(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink)
    error = ConnectError("handshake timed out")
    transport.fail(error)
    assert sink.wait_kind("close") == ("close", 1006, "handshake timed out", False)
    assert sink.kinds() == ["error", "close"]
    assert sink.events[0][1] is error


def test_client_close_is_clean_idempotent_and_recorded(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink)
    transport.close(4000, "done")
    transport.close(1000)
    assert transport.client_close == (4000, "done")
    assert sink.wait_kind("close") == ("close", 4000, "done", True)
    assert transport.join(1.0)
    assert sink.kinds() == ["open", "close"]
    transport.deliver(b"dropped")  # after a client close: silently dropped
    transport.server_close()  # the client's close won the race: no-op
    with pytest.raises(InvalidArgumentError):
        transport.close(999)


def test_close_while_connecting_skips_on_open(network: MemoryNetwork, sink: Recorder) -> None:
    transport = connect(network, sink)
    transport.close()
    assert sink.wait_kind("close") == ("close", 1000, "", True)
    assert sink.kinds() == ["close"]


def test_messages_queued_before_a_client_close_are_not_delivered_after_it(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = connect(network, sink)
    transport.accept()
    transport.close()  # queued before the open is even processed
    sink.wait_kind("close")
    assert sink.kinds() == ["close"]


def test_refuse_fails_connects_with_the_status(network: MemoryNetwork, sink: Recorder) -> None:
    network.refuse(403, times=1)
    connect(network, sink)
    assert sink.wait_kind("close")[1:] == (1006, "connection refused by the test (HTTP 403)", False)
    error = sink.events[0][1]
    assert isinstance(error, ConnectError)
    assert getattr(error, "status") == 403  # noqa: B009
    second = Recorder()
    connect(network, second).accept()
    second.wait_kind("open")


def test_refuse_until_allow(network: MemoryNetwork) -> None:
    network.refuse(None)
    sinks = [Recorder() for _ in range(3)]
    for sink in sinks[:2]:
        connect(network, sink)
        error = sink.wait_kind("error")[1]
        assert getattr(error, "status") is None  # noqa: B009
    network.allow()
    connect(network, sinks[2]).accept()
    sinks[2].wait_kind("open")


def test_frames_over_max_frame_size_fail_with_1009(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink, max_frame_size=4)
    transport.deliver(b"1234")
    transport.deliver(b"12345")
    assert sink.wait_kind("close")[1] == 1009
    assert sink.messages() == [(b"1234", False)]
    error = sink.wait_kind("error")[1]
    assert isinstance(error, PayloadTooLargeError)
    assert isinstance(error, TransportError)


def test_refute_sent(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    transport.refute_sent(within=0.01)
    transport.send(b"oops", False)
    with pytest.raises(AssertionError, match="oops"):
        transport.refute_sent(lambda f: f[0] == b"oops", within=0.01)
    transport.refute_sent(lambda f: f[0] == b"other", within=0.01)


def test_wait_closed_times_out_with_the_state(network: MemoryNetwork, sink: Recorder) -> None:
    transport = opened(network, sink)
    with pytest.raises(AssertionError, match="not closed"):
        transport.wait_closed(0.01)


def test_a_raising_sink_is_logged_and_kept_and_the_thread_goes_on(
    network: MemoryNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    class Angry(Recorder):
        def on_message(self, transport: Transport, data: bytes, binary: bool) -> None:
            super().on_message(transport, data, binary)
            raise RuntimeError("sink bug")

    sink = Angry()
    transport = opened(network, sink)
    transport.deliver(b"1")
    transport.deliver(b"2")
    assert sink.wait_messages(2) == [(b"1", False), (b"2", False)]
    transport.server_close()
    sink.wait_kind("close")
    assert [str(e) for e in transport.sink_errors] == ["sink bug", "sink bug"]
    assert "sink bug" in caplog.text


def test_close_all_ends_every_thread(sink: Recorder) -> None:
    network = MemoryNetwork()
    transports = [connect(network, Recorder()) for _ in range(3)]
    transports[0].accept()
    transports[1].close()
    network.close_all(timeout=2.0)
    assert all(t.join(0.0) for t in transports)
    assert all(t.ready_state == "closed" for t in transports)


def test_the_outgoing_limits_are_accepted_and_never_refuse_a_frame(
    network: MemoryNetwork, sink: Recorder
) -> None:
    transport = opened(network, sink, write_timeout=0.01, max_buffered=10)
    transport.send(b"x" * 100, True)  # over max_buffered: the test reads at its own pace
    transport.send_many([(b"y" * 100, True)] * 3)
    assert len(transport.sent) == 4
    assert transport.ready_state == "open"
    transport.fail(ConnectionLostError("outgoing buffer over max_buffered=10 bytes"))
    assert sink.wait_kind("close") == (
        "close",
        1006,
        "outgoing buffer over max_buffered=10 bytes",
        False,
    )
    assert sink.kinds() == ["open", "error", "close"]
