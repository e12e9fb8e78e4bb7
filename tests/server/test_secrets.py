"""Refused handshakes are logged without the auth token or param values."""

from __future__ import annotations

import base64
import json
import logging
import urllib.request

import pytest
import websocket

from phoenix_actors.server import LoopbackServer

TOKEN = "s3cr3t-t0ken"
ENTRY = "base64url.bearer.phx." + base64.b64encode(TOKEN.encode()).decode().rstrip("=")


def refused(url: str, header: list[str]) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, header=header, timeout=5)
    return int(info.value.status_code)


def test_a_refused_token_header_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with LoopbackServer() as server:
        url = server.url + "/websocket?vsn=2.0.0"
        # no "phoenix" entry beside the token: Phoenix answers 403
        assert refused(url, [f"Sec-WebSocket-Protocol: chat, {ENTRY}"]) == 403
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused websocket" in text
    assert TOKEN not in text
    assert ENTRY not in text


def test_refused_connect_params_are_logged_by_name_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with LoopbackServer() as server:
        url = server.url + f"/websocket?vsn=2.0.0&token=bad&password={TOKEN}"
        assert refused(url, []) == 403
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "connect refused" in text
    assert "password" in text
    assert TOKEN not in text


def test_refused_long_poll_params_are_logged_by_name_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with LoopbackServer() as server:
        url = server.http_url + f"/socket/longpoll?vsn=2.0.0&token=bad&password={TOKEN}"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.loads(response.read())["status"] == 403
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "connect refused" in text
    assert "password" in text
    assert TOKEN not in text
