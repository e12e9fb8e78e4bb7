"""Handshake, close codes, bad input, faults, restart, admin routes and the CLI."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp
import pytest

from phoenix_actors.server import ConnectInfo, LoopbackServer
from phoenix_actors.server.demo import demo_connect
from tests.server.rawclient import Raw, connect, handshake_status, run

OK_EMPTY = {"status": "ok", "response": {}}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


async def alive(c: Raw, ref: str = "hb") -> None:
    await c.send(None, ref, "phoenix", "heartbeat", {})
    assert await c.recv() == [None, ref, "phoenix", "phx_reply", OK_EMPTY]


# -- handshake --------------------------------------------------------------------------


def test_refused_handshakes_get_403(server: LoopbackServer) -> None:
    async def body() -> None:
        assert await handshake_status(server.url, "token=bad&vsn=2.0.0") == 403
        assert await handshake_status(server.url, "vsn=2.1.0") == 403
        assert await handshake_status(server.url, "vsn=3.0.0") == 403
        assert await handshake_status(server.url, "vsn=2.0.0", ["chat"]) == 403
        assert await handshake_status(server.url, "vsn=2.0.0") == 101
        assert await handshake_status(server.url, "") == 101  # missing vsn: V1

    run(body)


def test_auth_token_subprotocol_is_decoded_and_phoenix_echoed() -> None:
    seen: list[str | None] = []

    def hook(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        seen.append(info.auth_token)
        if info.auth_token != "s3cr+t/?":
            return None
        return demo_connect(params, info)

    token = base64.b64encode(b"s3cr+t/?").decode().rstrip("=")
    good = ["phoenix", f"base64url.bearer.phx.{token}"]
    bad = ["phoenix", "base64url.bearer.phx." + base64.b64encode(b"wrong").decode().rstrip("=")]

    async def body(url: str) -> None:
        async with connect(url, "vsn=2.0.0", protocols=good) as c:
            assert c.ws.protocol == "phoenix"
            await alive(c)
        assert await handshake_status(url, "vsn=2.0.0", bad) == 403
        assert await handshake_status(url, "vsn=2.0.0") == 403  # no token at all

    with LoopbackServer(connect=hook) as srv:
        run(lambda: body(srv.url))
    assert seen == ["s3cr+t/?", "wrong", None]


def test_connect_info_carries_params_and_headers() -> None:
    infos: list[ConnectInfo] = []

    def hook(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        infos.append(info)
        return {}

    async def body(url: str) -> None:
        async with connect(url, "a=1&vsn=2.0.0") as c:
            await alive(c)
            # no route at all: every join is unmatched
            reply = await c.join("room:x", "1")
            assert reply[4]["response"] == {"reason": "unmatched topic"}

    with LoopbackServer({}, connect=hook) as srv:
        run(lambda: body(srv.url))
        assert srv.sockets() == []
    (info,) = infos
    assert dict(info.params) == {"a": "1", "vsn": "2.0.0"}
    assert info.headers["Host"].startswith("127.0.0.1:")
    assert info.auth_token is None


# -- close codes and bad input ----------------------------------------------------------------


def test_idle_timeout_closes_with_1002() -> None:
    async def body(url: str) -> None:
        async with connect(url) as c:
            await alive(c)
            started = asyncio.get_running_loop().time()
            closed = await c.closed(wait=3.0)
            assert closed.code == 1002
            assert asyncio.get_running_loop().time() - started >= 0.25

    with LoopbackServer(idle_timeout=0.3) as srv:
        run(lambda: body(srv.url))


def test_oversize_frame_closes_with_1009_others_untouched() -> None:
    async def body(url: str) -> None:
        async with connect(url) as victim, connect(url) as other:
            await alive(victim)
            await victim.send_text('[null,"1","phoenix","heartbeat",{"pad":"' + "x" * 2000 + '"}]')
            assert (await victim.closed()).code == 1009
            await alive(other)

    with LoopbackServer(max_frame_size=1000) as srv:
        run(lambda: body(srv.url))


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '[null,"1","room:bad","ping"]',  # V2 array of 4
        '{"topic":"room:bad","event":"ping","payload":{},"ref":"1"}',  # an object on V2
        '[null,"1",5,"ping",{}]',  # topic not a string
        '[null,"1",null,"phx_join",{}]',  # a join without a topic
        b"\x05\x00\x00\x00\x00",  # binary kind 5
        b"\x00\x09\x01",  # truncated binary push
    ],
)
def test_bad_frame_closes_with_1011_stops_channels_logs_once(
    server: LoopbackServer, frame: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        async with (
            connect(server.url, "user_id=bad&vsn=2.0.0") as victim,
            connect(server.url, "user_id=good&vsn=2.0.0") as other,
        ):
            await victim.join("room:bad", "1")
            await other.join("room:bad", "1")
            if isinstance(frame, str):
                await victim.send_text(frame)
            else:
                await victim.send_bytes(frame)
            assert (await victim.closed()).code == 1011
            # the other socket sees the victim's presence leave, then still works
            leave = await other.recv_until(
                lambda f: f[3] == "presence_diff" and "bad" in f[4]["leaves"]
            )
            assert leave
            await alive(other)

    with caplog.at_level(logging.WARNING, logger="phoenix_actors.server"):
        run(body)
    bad = [r for r in caplog.records if "bad frame" in r.getMessage()]
    assert len(bad) == 1


def test_v1_missing_key_and_binary_on_v1_close_with_1011(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url, "vsn=1.0.0") as c:
            await c.send_text('{"topic":"phoenix","event":"heartbeat","payload":{}}')
            assert (await c.closed()).code == 1011
        async with connect(server.url, "vsn=1.0.0") as c:
            await c.send_bytes(b"\x00\x00\x01\x01\x01\x00a")
            assert (await c.closed()).code == 1011

    run(body)


def test_forced_disconnect_closes_with_1001(server: LoopbackServer) -> None:
    async def body() -> None:
        async with (
            connect(server.url, "user_id=fd&vsn=2.0.0") as a,
            connect(server.url, "user_id=fd&vsn=2.0.0") as b,
            connect(server.url, "user_id=keep&vsn=2.0.0") as keep,
        ):
            await alive(a)
            await alive(b)
            await alive(keep)
            assert server.disconnect("user_socket:fd") == 2
            assert (await a.closed()).code == 1001
            assert (await b.closed()).code == 1001
            await alive(keep)
            assert server.disconnect_user("keep") == 1
            assert (await keep.closed()).code == 1001
            assert server.disconnect("user_socket:nobody") == 0

    run(body)


# -- faults -----------------------------------------------------------------------------------


def test_fault_drop_replies_counts_and_all(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await c.join("bench:f", "1")
            server.faults.drop_replies(1)
            await c.send("1", "2", "bench:f", "echo", {"n": 2})
            await c.send("1", "3", "bench:f", "echo", {"n": 3})
            assert (await c.recv())[1] == "3"
            server.faults.drop_replies()
            await c.send("1", "4", "bench:f", "echo", {})
            await alive(c)  # heartbeats still answered: they are not channel replies
            server.faults.reset()
            await c.send("1", "5", "bench:f", "echo", {})
            assert (await c.recv())[1] == "5"

    run(body)


def test_fault_delay_replies(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            await c.join("bench:d", "1")
            server.faults.delay_replies(0.3)
            started = asyncio.get_running_loop().time()
            await c.send("1", "2", "bench:d", "echo", {})
            assert (await c.recv())[1] == "2"
            assert asyncio.get_running_loop().time() - started >= 0.29
            server.faults.reset()

    run(body)


def test_fault_drop_next_frames_and_stop_heartbeats(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as c:
            server.faults.drop_next_frames(2)
            await c.send(None, "1", "phoenix", "heartbeat", {})
            await c.send(None, "2", "phoenix", "heartbeat", {})
            await alive(c, "3")
            server.faults.stop_heartbeats()
            await c.send(None, "4", "phoenix", "heartbeat", {})
            await c.join("bench:h", "5")  # the first reply is the join's, not the heartbeat's
            server.faults.reset()
            await alive(c, "6")

    run(body)


def test_fault_close_all_and_abort_all(server: LoopbackServer) -> None:
    async def body() -> None:
        async with connect(server.url) as a, connect(server.url) as b:
            await alive(a)
            await alive(b)
            server.faults.close_all(4000, "bye")
            for c in (a, b):
                closed = await c.closed()
                assert (closed.code, closed.reason) == (4000, "bye")
        async with connect(server.url) as c:
            await alive(c)
            server.faults.abort_all()
            msg = await c.ws.receive(timeout=3.0)
            # no close frame: the stream just ends
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)

    run(body)


def test_restart_serves_again_on_the_same_port(server: LoopbackServer) -> None:
    port = server.port

    async def before() -> None:
        async with connect(server.url) as c:
            await alive(c)
            server.restart()
            assert (await c.closed()).code == 1012

    run(before)
    assert server.port == port

    async def after() -> None:
        async with connect(server.url) as c:
            await alive(c)

    run(after)
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    with pytest.raises(RuntimeError):
        server.sockets()
    server.start()
    assert server.port == port
    run(after)


def test_wait_for_times_out(server: LoopbackServer) -> None:
    with pytest.raises(TimeoutError):
        server.wait_for(lambda: False, timeout=0.1)
    assert server.wait_for_sockets(0) == []


# -- the pytest plugin -------------------------------------------------------------------------


def test_phoenix_server_fixture(phoenix_server: LoopbackServer) -> None:
    assert phoenix_server.url == f"ws://127.0.0.1:{phoenix_server.port}/socket"

    async def body() -> None:
        async with connect(phoenix_server.url, "user_id=fx&vsn=2.0.0") as c:
            await alive(c)
            sockets = phoenix_server.wait_for_sockets(1)
            assert sockets[0].socket_id == "user_socket:fx"

    run(body)


# -- admin routes ------------------------------------------------------------------------------


def test_admin_routes() -> None:
    async def body(srv: LoopbackServer) -> None:
        async with aiohttp.ClientSession() as http, connect(srv.url, "user_id=adm&vsn=2.0.0") as c:
            async with http.get(f"{srv.http_url}/health") as resp:
                assert (resp.status, await resp.json()) == (200, {"ok": True})
            await c.join("room:adm", "1")
            await c.recv_until(lambda f: f[3] == "presence_diff")
            async with http.get(f"{srv.http_url}/admin/presence/room:adm") as resp:
                presence = await resp.json()
            assert list(presence) == ["adm"]
            assert presence["adm"]["user"] == {"name": "user-adm"}
            url = f"{srv.http_url}/admin/broadcast/room:adm/news"
            async with http.post(url, json={"n": 1}) as resp:
                assert await resp.json() == {"sent": 1}
            assert await c.recv() == [None, None, "room:adm", "news", {"n": 1}]
            async with http.post(url, data=b"{not json") as resp:
                assert resp.status == 400
            async with http.post(f"{srv.http_url}/admin/disconnect/adm") as resp:
                assert await resp.json() == {"disconnected": 1}
            assert (await c.closed()).code == 1001

    with LoopbackServer(admin=True) as srv:
        run(lambda: body(srv))


def test_admin_routes_are_off_by_default(server: LoopbackServer) -> None:
    async def body() -> None:
        async with aiohttp.ClientSession() as http, http.get(f"{server.http_url}/health") as resp:
            assert resp.status == 404

    run(body)


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_serve_prints_its_url_and_stops_on_sigint() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "phoenix_actors.cli", "serve", "--port", "0", "--admin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints this once it listens
        assert line.startswith("Serving Phoenix channels at ws://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        assert url.endswith("/socket")

        async def body() -> None:
            async with connect(url, "user_id=cli&vsn=2.0.0") as c:
                reply = await c.join("room:cli", "1")
                assert reply[4]["response"] == {"joined": "cli", "user_id": "cli"}
            http_url = url.removeprefix("ws://").removesuffix("/socket")
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://{http_url}/health") as resp,
            ):
                assert await resp.json() == {"ok": True}

        run(body)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
