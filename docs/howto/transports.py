"""Long-poll, the websocket-to-long-poll fallback, and TLS with your own CA."""

import ssl
from collections.abc import Mapping
from typing import Any

import trustme

from phoenix_actors import (
    Client,
    ConnectOptions,
    EventRecorder,
    GetProtocol,
    Join,
    JoinOk,
    Push,
    PushOk,
    SocketError,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.demo import demo_connect


def transport_of(client: Client, topic: str) -> str:
    """Ask the demo channel which transport the server sees."""
    reply = client.ask(Push(topic, "whoami", {}))
    assert isinstance(reply, PushOk)
    return str(reply.response["transport"])


# 1. long-poll, chosen explicitly
with LoopbackServer(longpoll_window=0.5) as server:
    options = ConnectOptions(transport="longpoll")
    with Client(server.url, params={"user_id": "poller"}, options=options) as client:
        print("long-poll:", transport_of(client, "room:lp"))


# 2. the fallback: this server refuses websockets, so the client falls back
def no_websockets(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
    """Refuse websocket connections with 403; accept long-poll ones."""
    return None if info.transport == "websocket" else demo_connect(params, info)


with LoopbackServer(connect=no_websockets, longpoll_window=0.5) as server:
    recorder = EventRecorder()
    options = ConnectOptions(longpoll_fallback=2.5)  # phoenix.js longPollFallbackMs, in seconds
    with Client(server.url, params={"user_id": "fallback"}, options=options) as client:
        client.subscribe(recorder)
        print("after fallback:", transport_of(client, "room:fb"))
        print("websocket refused with:", recorder.wait_for(SocketError).status)

# 3. TLS: a certificate from a test CA; the client trusts that CA only
ca = trustme.CA()
server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
client_ctx = ssl.create_default_context()
ca.configure_trust(client_ctx)

with LoopbackServer(ssl_context=server_ctx) as server:
    with Client(server.url, options=ConnectOptions(ssl_context=client_ctx)) as client:
        joined = client.ask(Join("room:tls"))
        print("wss joined:", isinstance(joined, JoinOk), "protocol:", client.ask(GetProtocol()))

    recorder = EventRecorder()
    with Client(server.url) as client:  # the system's trust store: this CA is unknown
        client.subscribe(recorder)
        client.ask(GetProtocol())
        client.tell(Join("room:tls"))
        error = recorder.wait_for(SocketError)
        print("untrusted:", error.error, "tls:", error.tls)
