"""LongPollTransport against the bundled server's /socket/longpoll endpoint."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import ssl
import threading
from typing import Any, Self

import pytest

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.errors import ConnectError, ConnectionLostError
from phoenix_actors.protocol.frames import Message
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.demo import demo_socket_id
from phoenix_actors.transport.base import TransportOptions
from phoenix_actors.transport.longpoll import (
    LongPollTransport,
    longpoll_transport_factory,
    longpoll_url,
    make_longpoll_transport_factory,
)
from phoenix_actors.transport.websocket import WebSocketTransport
from tests.longpoll.conftest import (
    SESSION_TIMEOUT,
    WAIT,
    Opened,
    Recorder,
    decode_event,
    frame,
    longpoll_server,
    lp_url,
    reply_to,
)


def test_open_join_push_reply_whoami(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "user_id=lp1")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        assert c.transport.ready_state == "open"
        joined = c.join("room:lobby", "1")
        assert joined.payload == {"status": "ok", "response": {"joined": "lobby", "user_id": "lp1"}}
        c.send(Message("1", "2", "room:lobby", "ping", {"n": 1}))
        assert c.sink.wait_message(reply_to("2")).payload == {"status": "ok", "response": {"n": 1}}
        c.send(Message("1", "3", "room:lobby", "whoami", {}))
        who = c.sink.wait_message(reply_to("3")).payload["response"]
        assert who["transport"] == "longpoll"
        assert who["socket_id"] == "user_socket:lp1"
        assert who["params"] == {"vsn": "2.0.0", "user_id": "lp1"}
        [info] = [s for s in server.sockets() if s.socket_id == "user_socket:lp1"]
        assert info.transport == "longpoll"
        assert info.topics == ("room:lobby",)
    # every callback ran on the poll thread
    assert len(c.sink.threads) == 1
    assert next(iter(c.sink.threads)).startswith("lp-test-")


def test_server_push_and_broadcasts_arrive_through_polls(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "user_id=lp2")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.join("room:pushes", "1")
        c.send(Message("1", "2", "room:pushes", "push_many", {"n": 5}))
        c.sink.wait_message(reply_to("2"))
        seqs = [
            decode_event(e)
            for e in c.sink.events
            if e[0] == "message" and decode_event(e).event == "seq"
        ]
        assert [m.payload["i"] for m in seqs] == [1, 2, 3, 4, 5]
        c.send(Message("1", "3", "room:pushes", "shout", {"hi": 1}))
        shout = c.sink.wait_message(lambda m: m.event == "shout")
        assert (shout.join_ref, shout.ref, shout.payload) == (None, None, {"hi": 1})
        # a broadcast from outside while the client is idle-polling
        assert server.broadcast("room:pushes", "news", {"x": 2}) == 1
        assert c.sink.wait_message(lambda m: m.event == "news").payload == {"x": 2}


def test_binary_push_and_binary_reply(server: LoopbackServer) -> None:
    blob = bytes(range(256)) + b"\n\x00end"
    with Opened(lp_url(server, "user_id=lp3")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.join("room:bin", "1")
        c.send(Message("1", "2", "room:bin", "binary", blob))  # a binary frame (kind 0)
        event = c.sink.wait_for(lambda e: e[0] == "message" and e[2])
        reply = decode_event(event)
        assert (reply.ref, reply.event, reply.payload) == (
            "2",
            "phx_reply",
            {"status": "ok", "response": blob},
        )


def test_heartbeat_answered_and_big_batches(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "user_id=lp4")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.send(Message(None, "1", "phoenix", "heartbeat", {}))
        hb = c.sink.wait_message(reply_to("1"))
        assert (hb.join_ref, hb.topic, hb.payload) == (
            None,
            "phoenix",
            {"status": "ok", "response": {}},
        )
        # 250 frames queued at once go out in POSTs of at most 100, in order
        frames = [frame(Message(None, str(i), "phoenix", "heartbeat", {})) for i in range(2, 252)]
        c.transport.send_many(frames)
        c.sink.wait_message(reply_to("251"))
        refs = [
            decode_event(e).ref
            for e in c.sink.events
            if e[0] == "message" and decode_event(e).topic == "phoenix"
        ]
        assert refs == [str(i) for i in range(1, 252)]


def test_send_before_open_raises(server: LoopbackServer) -> None:
    sink = Recorder()
    transport = LongPollTransport(lp_url(server), TransportOptions(), sink)
    with pytest.raises(ConnectionLostError):
        transport.send(b"[]", False)
    transport.close()  # before open: no callbacks, no thread
    assert transport.ready_state == "closed"
    assert transport.join(0.1)
    with pytest.raises(RuntimeError):
        transport.open()
    assert sink.events == []


def test_client_close_is_clean_and_the_session_ends_with_a_presence_leave() -> None:
    with longpoll_server() as server:
        watcher = Recorder()
        ws = WebSocketTransport(
            f"{server.url}/websocket?vsn=2.0.0&user_id=watcher",
            TransportOptions(name="ws-watcher"),
            watcher,
        )
        ws.open()
        try:
            watcher.wait_for(lambda e: e[0] == "open")
            ws.send(*frame(Message("1", "1", "room:lobby", "phx_join", {})))
            watcher.wait_message(reply_to("1"))
            c = Opened(lp_url(server, "user_id=poller"))
            with c:
                c.sink.wait_for(lambda e: e[0] == "open")
                c.join("room:lobby", "1")
                watcher.wait_message(
                    lambda m: m.event == "presence_diff" and "poller" in m.payload["joins"]
                )
                c.transport.close(1000, "bye")
                assert c.sink.wait_close() == ("close", 1000, "bye", True)
                assert c.transport.join(WAIT)
                assert c.transport.ready_state == "closed"
            assert c.sink.kinds().count("close") == 1
            assert "error" not in c.sink.kinds()
            # no close request exists in the protocol: the session ends when polls stop
            leave = watcher.wait_message(
                lambda m: m.event == "presence_diff" and "poller" in m.payload["leaves"],
                timeout=SESSION_TIMEOUT + WAIT,
            )
            assert leave.payload["joins"] == {}
            server.wait_for(lambda: all(s.transport != "longpoll" for s in server.sockets()))
        finally:
            ws.close()
            assert ws.join(WAIT)


def test_server_disconnect_closes_with_3410(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "user_id=lp5")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.join("room:dc", "1")
        assert server.disconnect("user_socket:lp5") == 1
        assert c.sink.wait_close() == ("close", 3410, "session_gone", False)
        [error] = [e[1] for e in c.sink.events if e[0] == "error"]
        assert isinstance(error, ConnectionLostError)
        assert c.sink.kinds()[-2:] == ["error", "close"]
    server.wait_for(lambda: not [s for s in server.sockets() if s.socket_id == "user_socket:lp5"])


def test_demo_disconnect_me_from_inside_a_channel(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "user_id=lp6")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.join("room:dc2", "1")
        c.send(Message("1", "2", "room:dc2", "disconnect_me", {}))
        assert c.sink.wait_close()[1] == 3410


def test_refused_connect_closes_with_1008(server: LoopbackServer) -> None:
    with Opened(lp_url(server, "token=bad")) as c:
        assert c.sink.wait_close() == ("close", 1008, "forbidden", False)
        [error] = [e[1] for e in c.sink.events if e[0] == "error"]
        assert isinstance(error, ConnectError)
        assert error.status == 403
        assert c.sink.kinds() == ["error", "close"]


def test_bad_vsn_is_refused(server: LoopbackServer) -> None:
    url = f"{server.http_url}/socket/longpoll?vsn=3.0.0"
    with Opened(url) as c:
        assert c.sink.wait_close()[1] == 1008


def test_auth_token_header_reaches_the_connect_hook() -> None:
    seen: list[ConnectInfo] = []

    def connect(params: Any, info: ConnectInfo) -> dict[str, Any] | None:
        seen.append(info)
        return {"user_id": "tok"} if info.auth_token == "s3cret/+token" else None

    with longpoll_server(connect=connect, socket_id=demo_socket_id) as server:
        encoded = base64.b64encode(b"s3cret/+token").decode().rstrip("=")
        options = TransportOptions(
            subprotocols=("phoenix", "base64url.bearer.phx." + encoded), name="lp-auth"
        )
        with Opened(lp_url(server), options) as c:
            c.sink.wait_for(lambda e: e[0] == "open")
        assert seen[0].auth_token == "s3cret/+token"
        assert seen[0].transport == "longpoll"
        assert seen[0].params["vsn"] == "2.0.0"
        with Opened(lp_url(server), TransportOptions(name="lp-noauth")) as c:
            assert c.sink.wait_close()[1] == 1008


def test_close_during_a_long_poll_is_prompt() -> None:
    with longpoll_server(window=30.0, session_timeout=60.0) as server:
        c = Opened(lp_url(server))
        with c:
            c.sink.wait_for(lambda e: e[0] == "open")
            c.transport.close(4000, "now")  # a poll of up to 30 s is in flight
            assert c.sink.wait_close(timeout=2.0) == ("close", 4000, "now", True)
            assert c.transport.join(2.0)


def test_request_timeout_closes_with_1005() -> None:
    with (
        longpoll_server(window=30.0, session_timeout=60.0) as server,
        Opened(lp_url(server), longpoller_timeout=0.3) as c,
    ):
        c.sink.wait_for(lambda e: e[0] == "open")
        assert c.sink.wait_close() == ("close", 1005, "timeout", False)
        [error] = [e[1] for e in c.sink.events if e[0] == "error"]
        assert isinstance(error, ConnectionLostError)


def test_nothing_listening_closes_with_1011() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Opened(f"http://127.0.0.1:{port}/socket/longpoll?vsn=2.0.0") as c:
        assert c.sink.wait_close() == ("close", 1011, "internal server error", False)
        [error] = [e[1] for e in c.sink.events if e[0] == "error"]
        assert isinstance(error, ConnectError)


def test_server_stop_ends_the_transport() -> None:
    server = longpoll_server()
    server.start()
    try:
        with Opened(lp_url(server)) as c:
            c.sink.wait_for(lambda e: e[0] == "open")
            server.stop()
            code = c.sink.wait_close()[1]
            assert code in {3410, 1011}
    finally:
        server.stop()


def test_threads_are_named_and_gone_after_close(server: LoopbackServer) -> None:
    with Opened(lp_url(server), TransportOptions(name="lp-names")) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        names = {t.name for t in threading.enumerate() if t.name.startswith("lp-names-")}
        assert len(names) == 2
        assert any(n.endswith("-send") for n in names)
        # daemons: a process exits even with a client left running (atexit stops it)
        assert all(t.daemon for t in threading.enumerate() if t.name in names)
    assert not [t for t in threading.enumerate() if t.name.startswith("lp-names-")]


def test_factories_and_url_normalization(server: LoopbackServer) -> None:
    assert (
        longpoll_url("ws://h:4000/socket/websocket?vsn=2.0.0")
        == "http://h:4000/socket/longpoll?vsn=2.0.0"
    )
    assert longpoll_url("wss://h/socket/websocket") == "https://h/socket/longpoll"
    assert longpoll_url("http://h/socket/longpoll?a=1") == "http://h/socket/longpoll?a=1"
    sink = Recorder()
    transport = longpoll_transport_factory(
        f"{server.url}/websocket?vsn=2.0.0", TransportOptions(name="lp-f"), sink
    )
    assert isinstance(transport, LongPollTransport)
    transport.open()
    sink.wait_for(lambda e: e[0] == "open")
    transport.close()
    assert transport.join(WAIT)
    made = make_longpoll_transport_factory(longpoller_timeout=5.0)(
        lp_url(server), TransportOptions(), Recorder()
    )
    assert isinstance(made, LongPollTransport)
    made.close()


def test_https_with_a_trusting_context() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with longpoll_server(ssl_context=server_context) as server:
        assert server.http_url.startswith("https://")
        options = TransportOptions(ssl_context=client_context, name="lp-tls")
        with Opened(lp_url(server, "user_id=tls"), options) as c:
            c.sink.wait_for(lambda e: e[0] == "open")
            c.join("room:tls", "1")
            for ref in ("2", "3", "4"):  # POSTs and polls keep reusing their TLS connections
                c.send(Message("1", ref, "room:tls", "ping", {"ref": ref}))
                reply = c.sink.wait_message(reply_to(ref))
                assert reply.payload == {"status": "ok", "response": {"ref": ref}}
        assert c.sink.wait_close() == ("close", 1000, "", True)


def test_https_untrusted_certificate_is_a_tls_connect_error() -> None:
    trustme = pytest.importorskip("trustme")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)
    with longpoll_server(ssl_context=server_context) as server:
        options = TransportOptions(ssl_context=ssl.create_default_context(), name="lp-tls")
        with Opened(lp_url(server), options) as c:
            assert c.sink.wait_close()[1] == 1011
            [error] = [e[1] for e in c.sink.events if e[0] == "error"]
            assert isinstance(error, ConnectError)
            assert error.tls is True


# -- the outbox bound -------------------------------------------------------------


def test_a_frame_over_max_buffered_is_refused_and_closes_with_1011(server: LoopbackServer) -> None:
    options = TransportOptions(name="lp-bound", max_buffered=100)
    with Opened(lp_url(server), options) as c:
        c.sink.wait_for(lambda e: e[0] == "open")
        c.send(Message(None, "1", "phoenix", "heartbeat", {}))  # under the bound: fine
        c.sink.wait_message(reply_to("1"))
        big = frame(Message(None, "2", "phoenix", "heartbeat", {"pad": "x" * 100}))
        with pytest.raises(ConnectionLostError, match="max_buffered=100") as refused:
            c.transport.send(*big)
        assert c.sink.wait_close() == ("close", 1011, "outgoing buffer full", False)
        [error] = [e[1] for e in c.sink.events if e[0] == "error"]
        assert str(error) == str(refused.value)
        assert c.sink.kinds()[-2:] == ["error", "close"]
        with pytest.raises(ConnectionLostError):
            c.send(Message(None, "3", "phoenix", "heartbeat", {}))


class StalledLongPollServer:
    """Opens long-poll sessions, then answers neither polls nor POSTs until stopped."""

    def __init__(self) -> None:
        self.release = threading.Event()
        release = self.release

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if "token=" in self.path:
                    release.wait(WAIT)  # a poll that never comes back
                    self._answer({"status": 204, "token": "t1", "messages": []})
                else:
                    self._answer({"status": 410, "token": "t1", "messages": []})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                release.wait(WAIT)  # a POST that never comes back
                self._answer({"status": 200, "token": "t1", "messages": []})

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins the handlers

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client hung up on a stalled request: expected

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/socket/longpoll?vsn=2.0.0"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="test-stalled-http")

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(WAIT)


def test_a_server_that_takes_no_posts_fills_the_outbox_then_a_send_is_refused() -> None:
    clock = MonotonicClock()
    data, binary = frame(Message(None, "1", "phoenix", "heartbeat", {}))
    limit = 1000
    with StalledLongPollServer() as server:
        options = TransportOptions(name="lp-stalled", max_buffered=limit)
        with Opened(server.url, options) as c:
            c.sink.wait_for(lambda e: e[0] == "open")
            accepted = 0
            with pytest.raises(ConnectionLostError, match=f"max_buffered={limit}"):  # noqa: PT012
                for _ in range(10 * limit // len(data)):
                    start = clock.now()
                    c.transport.send(data, binary)
                    assert clock.now() - start < 0.1  # never waits for the network
                    accepted += 1
            # One POST is in flight (stalled); the outbox filled up behind it.
            assert accepted >= limit // len(data)
            assert c.sink.wait_close() == ("close", 1011, "outgoing buffer full", False)
            assert c.sink.kinds() == ["open", "error", "close"]
            error = c.sink.events[1][1]
            assert isinstance(error, ConnectionLostError)
            assert "outgoing buffer over" in str(error)
