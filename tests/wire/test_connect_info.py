"""What each handshake carries (params, auth token, headers, vsn), and payload kinds on the wire.

PROTOCOL.md §1 and §9.1-3, 9.37-38.
"""

from __future__ import annotations

import base64
import itertools
import threading
from typing import Any

from phoenix_actors import (
    ChannelEvent,
    ConnectOptions,
    Join,
    JoinOk,
    Push,
    PushError,
    PushOk,
    SocketOpened,
)
from phoenix_actors.server import LoopbackServer
from tests.wire.conftest import LOBBY, WAIT, ConnectLog, MakeClient, Session, whoami


def joined(s: Session) -> JoinOk:
    reply = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(reply, JoinOk), reply
    return reply


def bounce(s: Session, server: LoopbackServer, opened: int) -> None:
    """Make the server drop the socket (1011: reconnect) and wait for the rejoin."""
    server.faults.close_all(1011, "again")
    for _ in range(opened):
        s.events.wait_for(SocketOpened, timeout=WAIT)
    s.events.wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)


class Counter:
    """A callable params / token source that counts its calls (thread-safe)."""

    def __init__(self, make: Any) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._make = make

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
            return self._make(next(self._numbers))


def test_callable_params_are_evaluated_again_on_every_reconnect(
    connect: MakeClient, server: LoopbackServer, connect_log: ConnectLog
) -> None:
    params = Counter(lambda n: {"user_id": "callable", "n": str(n)})
    s = connect(params=params)
    joined(s)
    assert whoami(s)["params"]["n"] == "1"
    bounce(s, server, opened=2)
    assert whoami(s)["params"]["n"] == "2"
    bounce(s, server, opened=1)
    assert whoami(s)["params"]["n"] == "3"
    assert params.calls == 3
    infos = connect_log.wait_count(3)
    assert [i.params["n"] for i in infos] == ["1", "2", "3"]
    assert all(i.params["vsn"] == "2.0.0" for i in infos)
    # phoenix.js order: the params first, vsn last
    assert s.wire.urls[0].endswith("/socket/websocket?user_id=callable&n=1&vsn=2.0.0")


def test_auth_token_reaches_the_server_as_phoenix_js_sends_it(
    connect: MakeClient, connect_log: ConnectLog
) -> None:
    token = "s3cr3t??>>~~"  # encodes with "+" and "/": standard base64, not urlsafe
    s = connect(options=ConnectOptions(auth_token=token))
    joined(s)
    (info,) = connect_log.wait_count(1)
    assert info.auth_token == token
    b64 = base64.b64encode(token.encode()).rstrip(b"=").decode()
    assert "+" in b64 or "/" in b64  # standard base64, not urlsafe
    assert list(s.wire.options[0].subprotocols) == ["phoenix", f"base64url.bearer.phx.{b64}"]
    # the token is not in the URL
    assert "s3cr3t" not in s.wire.urls[0]


def test_a_callable_auth_token_is_evaluated_again_on_every_reconnect(
    connect: MakeClient, server: LoopbackServer, connect_log: ConnectLog
) -> None:
    token = Counter(lambda n: f"token-{n}")
    s = connect(options=ConnectOptions(auth_token=token))
    joined(s)
    bounce(s, server, opened=2)
    infos = connect_log.wait_count(2)
    assert [i.auth_token for i in infos] == ["token-1", "token-2"]
    assert token.calls == 2


def test_extra_headers_reach_the_connect_hook(
    connect: MakeClient, server: LoopbackServer, connect_log: ConnectLog
) -> None:
    s = connect(options=ConnectOptions(headers={"X-Wire-Test": "yes", "Origin": "http://h.test"}))
    joined(s)
    bounce(s, server, opened=2)
    infos = connect_log.wait_count(2)
    for info in infos:
        headers = {k.lower(): v for k, v in info.headers.items()}
        assert headers["x-wire-test"] == "yes"
        assert headers["origin"] == "http://h.test"
        assert info.auth_token is None


# --- serializers and payload kinds ---------------------------------------------------------


def test_vsn_1_speaks_v1_frames_end_to_end(
    connect: MakeClient, server: LoopbackServer, connect_log: ConnectLog
) -> None:
    s = connect(options=ConnectOptions(vsn="1.0.0"))
    joined(s)
    me = whoami(s)
    assert me["serializer"] == "Phoenix.Socket.V1.JSONSerializer"
    assert server.sockets()[0].vsn == "1.0.0"
    assert connect_log.wait_count(1)[0].params["vsn"] == "1.0.0"
    # V1 frames are objects: {"topic", "event", "payload", "ref", "join_ref"?}
    join = s.wire.sent(lambda f: isinstance(f.data, dict) and f.data["event"] == "phx_join")[0]
    assert join.data["join_ref"] == join.data["ref"]
    assert join.data["topic"] == LOBBY
    assert all(isinstance(f.data, dict) for f in s.wire.snapshot())


def test_vsn_1_rejects_a_bytes_push_locally_with_a_typed_error(connect: MakeClient) -> None:
    s = connect(options=ConnectOptions(vsn="1.0.0"))
    joined(s)
    reply = s.client.ask(Push(LOBBY, "binary", b"\x01\x02", timeout=WAIT), timeout=WAIT)
    assert isinstance(reply, PushError), reply
    assert reply.status == "local"
    assert "binary" in reply.response["reason"]
    assert s.events.wait_for(PushError, timeout=WAIT) == reply
    # nothing binary went out, and the socket and channel carry on
    assert not [f for f in s.wire.sent() if f.binary]
    ok = s.client.ask(Push(LOBBY, "ping", {"after": 1}, timeout=WAIT), timeout=WAIT)
    assert isinstance(ok, PushOk)
    assert s.wire.attempts == 1


def test_bytes_push_gets_a_bytes_reply_over_binary_frames(connect: MakeClient) -> None:
    s = connect()
    join = joined(s)
    data = bytes(range(256)) * 4
    reply = s.client.ask(Push(LOBBY, "binary", data, timeout=WAIT), timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    assert reply.response == data
    (out,) = s.wire.sent(lambda f: f.binary)
    # kind 0, then 1-byte lengths of join_ref, ref, topic, event
    raw = out.data
    assert raw[0] == 0
    jr_len, ref_len, topic_len, event_len = raw[1:5]
    fields = raw[5 : 5 + jr_len + ref_len + topic_len + event_len]
    assert fields[:jr_len].decode() == join.join_ref
    assert fields[jr_len + ref_len :].decode() == LOBBY + "binary"
    assert raw[5 + len(fields) :] == data
    (back,) = s.wire.received(lambda f: f.binary)
    assert back.data[0] == 1  # a binary reply


def test_a_server_push_with_bytes_arrives_as_bytes(connect: MakeClient) -> None:
    s = connect()
    joined(s)
    data = b"\xffraw\x00bytes"
    reply = s.client.ask(Push(LOBBY, "push_back", data, timeout=WAIT), timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    event = s.events.wait_for(ChannelEvent, lambda e: e.event == "pushed", timeout=WAIT)
    assert event.topic == LOBBY
    assert event.payload == data
    pushed = s.wire.received(lambda f: f.binary and f.data[0] == 0)
    assert len(pushed) == 1
