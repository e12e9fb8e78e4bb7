"""wss:// end to end: a trusted certificate works; an untrusted one fails once, without retries."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from phoenix_actors import (
    AddConnectOptions,
    Connect,
    ConnectOptions,
    GetConnectionState,
    GetProtocol,
    Join,
    JoinOk,
    Push,
    PushOk,
    SocketClosed,
    SocketError,
    SocketOpened,
)
from phoenix_actors.server import LoopbackServer
from tests.wire.conftest import LOBBY, WAIT, ConnectLog, MakeClient, _sessions, whoami


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA, connect_log: ConnectLog) -> Iterator[LoopbackServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    srv = LoopbackServer(connect=connect_log, ssl_context=context)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def tls_connect(tls_server: LoopbackServer) -> Iterator[MakeClient]:
    yield from _sessions(lambda: tls_server.url)


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_a_client_trusting_the_ca_joins_and_pushes_over_wss(
    tls_connect: MakeClient, tls_server: LoopbackServer, ca: trustme.CA, connect_log: ConnectLog
) -> None:
    assert tls_server.url.startswith("wss://127.0.0.1:")
    s = tls_connect(options=ConnectOptions(ssl_context=trusting(ca)))
    assert s.client.ask(GetProtocol(), timeout=WAIT) == "wss"
    join = s.client.ask(Join(LOBBY), timeout=WAIT)
    assert isinstance(join, JoinOk), join
    reply = s.client.ask(Push(LOBBY, "ping", {"over": "tls"}, timeout=WAIT), timeout=WAIT)
    assert isinstance(reply, PushOk)
    assert reply.response == {"over": "tls"}
    assert whoami(s)["join_ref"] == join.join_ref
    assert s.events.wait_for(SocketOpened, timeout=WAIT).url.startswith("wss://127.0.0.1:")
    assert s.wire.urls[0].startswith("wss://")
    assert len(connect_log.wait_count(1)) == 1
    # binary frames over TLS too
    data = b"\x00tls\xff"
    binary = s.client.ask(Push(LOBBY, "binary", data, timeout=WAIT), timeout=WAIT)
    assert isinstance(binary, PushOk)
    assert binary.response == data


def test_an_untrusted_certificate_fails_once_and_is_not_retried(
    tls_connect: MakeClient, tls_server: LoopbackServer, connect_log: ConnectLog
) -> None:
    s = tls_connect()  # the default context: system trust, which does not know our CA
    assert s.client.ask(GetProtocol(), timeout=WAIT) == "wss"
    s.client.tell(Join(LOBBY, timeout=WAIT))
    error = s.events.wait_for(SocketError, timeout=WAIT)
    assert error.tls is True
    assert error.error == "ConnectError"
    assert error.status is None
    closed = s.events.wait_for(SocketClosed, timeout=WAIT)
    assert closed.will_reconnect is False
    assert closed.reconnect_in is None
    # bounded negative check: with reconnect_after=[0.05] a retry would show at once
    s.no_event(SocketError)
    s.no_event(SocketOpened)
    assert s.wire.attempts == 1
    assert connect_log.infos == []  # the handshake never reached the HTTP upgrade
    assert tls_server.sockets() == []
    assert s.client.ask(GetConnectionState(), timeout=WAIT) == "closed"
    assert s.client.ask(GetProtocol(), timeout=WAIT) == "wss"


def test_after_an_untrusted_certificate_trusting_options_and_connect_recover(
    tls_connect: MakeClient, ca: trustme.CA
) -> None:
    s = tls_connect()
    s.client.tell(Join(LOBBY, timeout=WAIT))
    assert s.events.wait_for(SocketError, timeout=WAIT).tls is True
    s.events.wait_for(SocketClosed, timeout=WAIT)
    s.client.ask(AddConnectOptions(ConnectOptions(ssl_context=trusting(ca))), timeout=WAIT)
    s.client.ask(Connect(), timeout=WAIT)
    s.events.wait_for(SocketOpened, timeout=WAIT)
    # the join told before the failure was kept and goes out now
    join = s.events.wait_for(JoinOk, timeout=WAIT)
    assert whoami(s)["join_ref"] == join.join_ref
    assert s.wire.attempts == 2
