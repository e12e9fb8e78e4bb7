"""The /socket/longpoll endpoint at the HTTP level: statuses, batches, session lifetime."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from phoenix_actors.protocol.frames import Message
from phoenix_actors.server import LoopbackServer
from tests.longpoll.conftest import CLIENT, SESSION_TIMEOUT, WAIT, WINDOW, lp_url


def call(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """GET (or POST ``body``, ndjson by default) and return the JSON answer (always HTTP 200)."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/x-ndjson")
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200
        assert response.headers["access-control-allow-origin"] == "*"
        return json.loads(response.read())


def open_session(server: LoopbackServer, query: str = "") -> str:
    answer = call(lp_url(server, query))
    assert answer["status"] == 410
    assert answer["messages"] == []
    token = answer["token"]
    assert isinstance(token, str)
    return token


def text(msg: Message) -> bytes:
    return CLIENT.encode(msg).data


def poll_until(url: str, count: int) -> list[str]:
    messages: list[str] = []
    for _ in range(int(WAIT / WINDOW) + 1):
        answer = call(url)
        if answer["status"] == 200:
            messages += answer["messages"]
        else:
            assert answer["status"] == 204
            assert answer["messages"] == []
        if len(messages) >= count:
            return messages
    raise AssertionError(f"got {messages}")


def test_open_poll_post_and_idle(server: LoopbackServer) -> None:
    token = open_session(server, "user_id=raw1")
    url = lp_url(server, "user_id=raw1") + "&token=" + token
    assert call(url) == {"status": 204, "token": token, "messages": []}  # idle window
    batch = b"\n".join(
        [
            text(Message("1", "1", "room:raw", "phx_join", {})),
            text(Message(None, "2", "phoenix", "heartbeat", {})),
        ]
    )
    assert call(url, batch) == {"status": 200}
    messages = poll_until(url, 3)
    decoded = [json.loads(m) for m in messages]
    assert decoded[0][:4] == ["1", "1", "room:raw", "phx_reply"]
    assert decoded[1] == [None, "2", "phoenix", "phx_reply", {"status": "ok", "response": {}}]
    assert decoded[2][3] == "presence_state"


def test_binary_lines_are_base64_both_ways(server: LoopbackServer) -> None:
    token = open_session(server, "user_id=raw2")
    url = lp_url(server, "user_id=raw2") + "&token=" + token
    call(url, text(Message("1", "1", "room:rawbin", "phx_join", {})))
    poll_until(url, 2)  # join reply, presence_state
    binary = CLIENT.encode(Message("1", "2", "room:rawbin", "binary", b"\x00\xffraw"))
    assert binary.binary
    assert call(url, base64.b64encode(binary.data)) == {"status": 200}
    messages = [m for m in poll_until(url, 1) if not m.startswith("[")]
    reply = CLIENT.decode(base64.b64decode(messages[0]), binary=True)
    assert reply.payload == {"status": "ok", "response": b"\x00\xffraw"}


def test_refused_and_unknown_sessions(server: LoopbackServer) -> None:
    assert call(lp_url(server, "token=bad")) == {"status": 403}
    gone = "phxlp.nosuchsession"
    assert call(lp_url(server) + "&token=" + gone) == {
        "status": 410,
        "token": gone,
        "messages": [],
    }
    assert call(lp_url(server) + "&token=" + gone, b"[]") == {"status": 410}


def test_session_token_header_of_phoenix_1_9(server: LoopbackServer) -> None:
    token = open_session(server)
    answer = call(lp_url(server), headers={"X-Phoenix-Longpoll-Token": token})
    assert answer == {"status": 204, "token": token, "messages": []}


def test_bad_frame_ends_the_session(server: LoopbackServer) -> None:
    token = open_session(server, "user_id=raw3")
    url = lp_url(server, "user_id=raw3") + "&token=" + token
    assert call(url, b"[1,2]") == {"status": 500}
    assert call(url)["status"] == 410
    server.wait_for(lambda: not [s for s in server.sockets() if s.socket_id == "user_socket:raw3"])


def test_non_ndjson_post_is_one_frame(server: LoopbackServer) -> None:
    token = open_session(server)
    url = lp_url(server) + "&token=" + token
    body = text(Message(None, "7", "phoenix", "heartbeat", {}))
    assert call(url, body, {"Content-Type": "application/json"}) == {"status": 200}
    assert json.loads(poll_until(url, 1)[0])[1] == "7"


def test_session_ends_when_polls_stop(server: LoopbackServer) -> None:
    token = open_session(server, "user_id=raw4")
    sid = "user_socket:raw4"
    [info] = [s for s in server.sockets() if s.socket_id == sid]
    assert info.transport == "longpoll"
    server.wait_for(
        lambda: not [s for s in server.sockets() if s.socket_id == sid],
        timeout=SESSION_TIMEOUT + WAIT,
    )
    url = lp_url(server, "user_id=raw4") + "&token=" + token
    assert call(url) == {"status": 410, "token": token, "messages": []}


def test_cors_preflight(server: LoopbackServer) -> None:
    request = urllib.request.Request(
        lp_url(server),
        method="OPTIONS",
        headers={"Access-Control-Request-Headers": "x-phoenix-authtoken"},
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200
        assert response.headers["access-control-allow-headers"] == "x-phoenix-authtoken"
        assert "post" in response.headers["access-control-allow-methods"]
