"""``listen`` and ``push`` as subprocesses against a loopback server in the test process."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Callable

from phoenix_actors.server import LoopbackServer
from tests.cli.conftest import WAIT, CliProcess, run_cli

TOPIC = "room:lobby"


def _post(url: str, body: object) -> object:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return json.loads(response.read())


def test_listen_prints_a_broadcast_sent_through_the_admin_route_as_one_json_line(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    listen = cli("listen", server.url, TOPIC, "--param", "user_id=ears")
    assert listen.event("SocketOpened")["url"].startswith(server.url)
    joined = listen.event("JoinOk", topic=TOPIC)
    assert joined["response"] == {"joined": "lobby", "user_id": "ears"}

    sent = _post(f"{server.http_url}/admin/broadcast/{TOPIC}/news", {"x": 1, "s": "é"})
    assert sent == {"sent": 1}
    line = listen.line(lambda text: '"event":"news"' in text)
    assert json.loads(line) == {
        "type": "ChannelEvent",
        "topic": TOPIC,
        "event": "news",
        "payload": {"x": 1, "s": "é"},
    }

    assert listen.interrupt() == 0
    assert "Traceback" not in listen.stderr


def test_listen_shows_the_socket_closing_and_the_rejoin_after_a_forced_disconnect(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    listen = cli("listen", server.url, TOPIC, "--param", "user_id=kicked", "--vsn", "1.0.0")
    listen.event("JoinOk", topic=TOPIC, rejoin=False)
    assert _post(f"{server.http_url}/admin/disconnect/kicked", {}) == {"disconnected": 1}
    assert listen.event("SocketClosed")["code"] == 1001
    listen.event("JoinOk", topic=TOPIC, rejoin=True)
    assert listen.interrupt() == 0


def test_listen_keeps_listening_after_a_refused_join_as_the_client_rejoins(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    listen = cli("listen", server.url, TOPIC, "--payload", '{"reject": true}')
    first = listen.event("JoinError", topic=TOPIC)
    assert first["response"] == {"reason": "rejected"}
    assert first["rejoin_in"] == 1.0
    listen.event("JoinError", topic=TOPIC)  # the rejoin, refused again: still listening
    assert listen.proc.poll() is None
    assert listen.interrupt() == 0
    assert "Traceback" not in listen.stderr


def test_listen_over_longpoll_prints_a_server_broadcast(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    listen = cli("listen", server.url, TOPIC, "--longpoll")
    listen.event("JoinOk", topic=TOPIC)
    server.broadcast(TOPIC, "news", {"via": "longpoll"})
    assert listen.event("ChannelEvent", event="news")["payload"] == {"via": "longpoll"}
    assert listen.interrupt() == 0


def test_push_prints_the_ok_reply_and_exits_0(server: LoopbackServer) -> None:
    done = run_cli("push", server.url, TOPIC, "ping", '{"n": 1}', "--param", "user_id=p")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["type"] == "PushOk"
    assert reply["response"] == {"n": 1}
    assert reply["push"]["event"] == "ping"
    assert done.stdout.count("\n") == 1


def test_push_exits_1_on_an_error_reply(server: LoopbackServer) -> None:
    done = run_cli("push", server.url, TOPIC, "error_reply")
    assert done.returncode == 1, done.stderr
    reply = json.loads(done.stdout)
    assert reply["type"] == "PushError"
    assert reply["status"] == "error"
    assert reply["response"] == {"reason": "asked"}


def test_push_exits_1_on_a_timeout(server: LoopbackServer) -> None:
    done = run_cli("push", server.url, TOPIC, "noreply", "--timeout", "0.5")
    assert done.returncode == 1, done.stderr
    reply = json.loads(done.stdout)
    assert reply["type"] == "PushTimeout"
    assert reply["push"]["timeout"] == 0.5


def test_push_prints_the_join_error_and_exits_1_when_the_join_is_refused(
    server: LoopbackServer,
) -> None:
    done = run_cli("push", server.url, "room:private", "ping", "--join-payload", '{"password": 1}')
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == {
        "type": "JoinError",
        "topic": "room:private",
        "response": {"reason": "unauthorized"},
        "rejoin_in": 1.0,
    }


def test_push_sends_the_params_the_token_and_the_vsn_it_is_given(server: LoopbackServer) -> None:
    done = run_cli(
        "push",
        server.http_url + "/socket",
        TOPIC,
        "whoami",
        "--param",
        "user_id=me",
        "--param",
        "k=a=b",
        "--vsn",
        "1.0.0",
        "--token",
        "secret-token",
    )
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)["response"]
    assert response["user_id"] == "me"
    assert response["params"]["k"] == "a=b"
    assert response["params"]["vsn"] == "1.0.0"
    assert response["transport"] == "websocket"
    assert "secret-token" not in done.stderr


def test_listen_prints_a_binary_broadcast_payload_as_base64(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    listen = cli("listen", server.url, TOPIC)
    listen.event("JoinOk", topic=TOPIC)
    server.broadcast(TOPIC, "blob", b"\x00\x01\xff")
    payload = listen.event("ChannelEvent", event="blob")["payload"]
    assert base64.b64decode(payload) == b"\x00\x01\xff"
    assert listen.interrupt() == 0


def test_ctrl_c_during_a_push_exits_130_without_a_traceback(
    server: LoopbackServer, cli: Callable[..., CliProcess]
) -> None:
    push = cli("push", server.url, TOPIC, "noreply", "--timeout", "30", "--param", "user_id=w")
    server.wait_for(lambda: server.presence_list(TOPIC), timeout=WAIT)  # joined: pushing now
    assert push.interrupt() == 130
    assert "Traceback" not in push.stderr
    assert push.seen == []


def test_bad_arguments_exit_2_with_a_usage_message() -> None:
    for args in (
        ("push", "ws://127.0.0.1:1/socket", TOPIC, "ping", "{not json"),
        ("push", "ws://127.0.0.1:1/socket", TOPIC, "ping", "--param", "novalue"),
        ("push", "ws://127.0.0.1:1/socket", TOPIC, "ping", "--timeout", "0"),
        ("listen", "ftp://127.0.0.1/socket", TOPIC),
    ):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "error" in done.stderr
        assert "Traceback" not in done.stderr
