"""Reconnect policy, jitter, and a token refreshed after a refusal.

The bundled server refuses the token "stale" (HTTP 403), as a Phoenix
``connect/3`` returning ``:error`` would. Run by the test suite; output in
``reconnect_policy.out``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phoenix_actors import (
    Client,
    Connect,
    ConnectOptions,
    Join,
    JoinOk,
    Refusal,
    SocketClosed,
    SocketError,
)
from phoenix_actors.server import ConnectInfo, LoopbackServer
from phoenix_actors.server.demo import demo_connect
from phoenix_actors.testing import EventRecorder

STALE = "stale"


def check_token(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
    """The server side: refuse a stale token (403)."""
    return None if info.auth_token == STALE else demo_connect(params, info)


# 1. A token provider that takes the refusal fetches a fresh token after a 403.
def token(refusal: Refusal | None) -> str:
    if refusal is None:
        return STALE  # say, the one cached from yesterday
    print("refused with", refusal.status, "on attempt", refusal.attempt, "- fetching a new token")
    return "fresh"


# 2. Without a provider, a 403 stops the reconnects (no storm of refused handshakes);
# a policy decides otherwise: (close_code, http_status, attempt) -> seconds | None.
def policy(code: int | None, status: int | None, attempt: int) -> float | None:
    del code  # any close the client did not start: back off the same way
    if status == 403:
        return None  # credentials are wrong: wait for the user
    return min(30.0, 0.5 * 2.0 ** (attempt - 1))  # 0.5, 1, 2, 4 ... 30 s


with LoopbackServer(connect=check_token) as server:
    options = ConnectOptions(auth_token=token, reconnect_after=[0.05], reconnect_jitter=0.2)
    with Client(server.url, options=options) as client:
        recorder = EventRecorder()
        client.subscribe(recorder)
        joined = client.ask(Join("room:lobby"), timeout=5)
        assert isinstance(joined, JoinOk)
        print("joined after the refresh:", joined.topic)

    refused = ConnectOptions(auth_token=STALE, reconnect_policy=policy)
    with Client(server.url, options=refused) as c:
        recorder = EventRecorder()
        c.subscribe(recorder)
        c.tell(Connect())
        print("refused:", recorder.wait_for(SocketError).status)
        closed = recorder.wait_for(SocketClosed)
        print("reconnects:", closed.will_reconnect, "-", closed.reconnect_stopped)
