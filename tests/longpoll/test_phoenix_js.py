"""phoenix.js's own LongPoll transport against our /socket/longpoll endpoint."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.demo import demo_connect, demo_socket_id
from tests.longpoll.conftest import longpoll_server
from tests.node import JS_DIR, NODE

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

DEADLINE = 20.0


def test_phoenix_js_longpoll_connects_joins_pushes_and_receives_broadcasts() -> None:
    tokens: list[str | None] = []

    def connect(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        tokens.append(info.auth_token)
        return demo_connect(params, info)

    with longpoll_server(connect=connect, socket_id=demo_socket_id) as server:
        assert NODE is not None
        proc = subprocess.Popen(
            [NODE, str(JS_DIR / "longpoll_check.mjs")],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdin is not None
            assert proc.stderr is not None
            data = {"url": server.url, "params": {"user_id": "js1"}, "authToken": "jwt.a+b/c"}
            proc.stdin.write(json.dumps(data))
            proc.stdin.close()
            # node writes "ready" once it listens for the broadcast
            line = proc.stderr.readline()
            assert line == "ready\n", line + proc.stderr.read()
            assert server.broadcast("room:js", "news", {"from": "server"}) == 1
            # the script's own 15 s guard ends it: these reads reach EOF in time
            assert proc.stdout is not None
            out, err = proc.stdout.read(), proc.stderr.read()
            proc.wait(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=DEADLINE)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    result = json.loads(out)
    assert "error" not in result, (result, err)
    events = dict(result["events"])
    assert events["open"] is True
    assert events["join"] == {"status": "ok", "response": {"joined": "js", "user_id": "js1"}}
    assert events["ping"] == {"status": "ok", "response": {"n": 1, "s": "héllo"}}
    who = events["whoami"]["response"]
    assert who["transport"] == "longpoll"
    assert who["socket_id"] == "user_socket:js1"
    assert who["params"] == {"user_id": "js1", "vsn": "2.0.0"}
    assert events["shout"] == {"payload": {"hi": 1}}
    assert events["news"] == {"payload": {"from": "server"}}
    assert events["closed"] == "closed"
    assert tokens == ["jwt.a+b/c"]
