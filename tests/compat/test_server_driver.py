"""The phoenix.js driver itself (``tests/js/driver.mjs`` via :class:`JsClient`), no server."""

from __future__ import annotations

import socket

import pytest

from tests.jsclient import JsClient, JsClientFactory, js_client_fixture  # noqa: F401 (fixture)


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_socket_state_and_refused_connection(js_client: JsClientFactory) -> None:
    js = js_client()
    url = f"ws://127.0.0.1:{closed_port()}/socket"
    made = js.send("socket", url=url, params={"a": "b"}, reconnectAfterMs=[60_000])
    assert made == {"endPointURL": f"{url}/websocket?a=b&vsn=2.0.0"}
    js.send("channel", channel="c", topic="room:x")
    state = js.send("state")
    assert state["sockets"]["s"] == {
        "connectionState": "closed",
        "isConnected": False,
        "channels": 1,
    }
    assert state["channels"]["c"] == {
        "topic": "room:x",
        "state": "closed",
        "joinRef": None,
        "presence": None,
    }
    js.send("connect")
    closed = js.wait_for("close")
    assert (closed["code"], closed["wasClean"]) == (1006, False)
    assert js.select("error")


def test_commands_that_throw_raise_assertion_errors(js_client: JsClientFactory) -> None:
    js = js_client()
    js.send("socket", url=f"ws://127.0.0.1:{closed_port()}/socket", reconnectAfterMs=[60_000])
    js.send("channel", channel="c", topic="room:x")
    with pytest.raises(AssertionError, match="before joining"):
        js.send("push", channel="c", event="x", payload={})
    with pytest.raises(AssertionError, match="unknown command"):
        js.send("fly")
    with pytest.raises(AssertionError, match="no channel"):
        js.send("join", channel="nope")


def test_offline_join_times_out_and_events_are_ordered(js_client: JsClientFactory) -> None:
    js = js_client()
    js.send("socket", url=f"ws://127.0.0.1:{closed_port()}/socket", reconnectAfterMs=[60_000])
    js.send("channel", channel="c", topic="room:x")
    js.send("join", channel="c", timeout=50)
    reply = js.wait_for("join_reply", channel="c")
    assert (reply["status"], reply["response"], reply["topic"]) == ("timeout", {}, "room:x")
    seqs = [e["seq"] for e in js.events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


def test_wait_for_times_out_listing_recent_events() -> None:
    with JsClient() as js:
        js.send("state")
        with pytest.raises(AssertionError, match=r"(?s)timed out .* 'open'.*\"type\": \"ack\""):
            js.wait_for("open", timeout=0.05)
    assert js._reader.is_alive() is False
