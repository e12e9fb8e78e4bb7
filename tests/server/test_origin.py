"""``check_origin`` (Phoenix's ``Transport.check_origin/5``) and the handshake faults."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest

from phoenix_actors.errors import InvalidArgumentError
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.origin import CheckOrigin, OriginPolicy
from tests.server.rawclient import WAIT, connect, run

OK_EMPTY = {"status": "ok", "response": {}}


def allows(policy: CheckOrigin, origin: str | None, host: str = "example.com") -> bool:
    return OriginPolicy(policy, host).allows(origin, scheme="http", host=host, port=4000)


# -- the policy ---------------------------------------------------------------------------


def test_an_absent_origin_always_passes_and_false_accepts_all() -> None:
    for policy in (False, True, "conn", ["https://example.com"], lambda _o: False):
        assert allows(policy, None)
    assert allows(False, "https://evil.test")
    assert allows(False, "not an origin")


def test_true_compares_the_host_only() -> None:
    assert allows(True, "https://example.com")
    assert allows(True, "http://example.com:8080")
    assert allows(True, "https://EXAMPLE.com")  # hosts are case-insensitive
    assert not allows(True, "https://www.example.com")
    assert not allows(True, "https://evil.test")
    assert not allows(True, "null")  # an opaque origin has no host


def test_conn_compares_scheme_host_and_port_with_the_request() -> None:
    assert allows("conn", "http://example.com:4000")
    assert not allows("conn", "https://example.com:4000")
    assert not allows("conn", "http://example.com")  # port 80
    assert not allows("conn", "http://other.com:4000")


def test_a_list_compares_scheme_and_port_only_when_given() -> None:
    allowed = ["https://example.com", "//another.com:888", "//*.other.com"]
    assert allows(allowed, "https://example.com")
    assert allows(allowed, "https://example.com:443")  # a scheme implies its default port
    assert not allows(allowed, "http://example.com")
    assert not allows(allowed, "https://example.com:8443")
    assert allows(allowed, "http://another.com:888")
    assert allows(allowed, "https://another.com:888")
    assert not allows(allowed, "https://another.com")
    assert allows(allowed, "https://other.com")
    assert allows(allowed, "http://a.b.other.com:1234")
    assert not allows(allowed, "https://notother.com")
    assert not allows([], "https://example.com")


def test_a_callable_decides_from_the_raw_header() -> None:
    seen: list[str] = []

    def decide(origin: str) -> bool:
        seen.append(origin)
        return origin.endswith(".trusted")

    assert allows(decide, "https://app.trusted")
    assert not allows(decide, "https://app.untrusted")
    assert seen == ["https://app.trusted", "https://app.untrusted"]


@pytest.mark.parametrize("bad", ["yes", ["example.com"], ["https://"], [1], 3, None])
def test_invalid_settings_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        OriginPolicy(bad, "127.0.0.1")
    with pytest.raises(InvalidArgumentError):
        LoopbackServer(check_origin=bad)


# -- over loopback ----------------------------------------------------------------------------


async def ws_status(url: str, origin: str | None) -> int:
    """The HTTP status of a websocket upgrade sending ``origin`` (101 when accepted)."""
    headers = {} if origin is None else {"Origin": origin}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{url}/websocket?vsn=2.0.0", headers=headers) as ws,
        ):
            await ws.send_str(json.dumps([None, "1", "phoenix", "heartbeat", {}]))
            reply = await ws.receive(timeout=WAIT)
            assert json.loads(reply.data) == [None, "1", "phoenix", "phx_reply", OK_EMPTY]
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


def lp_status(server: LoopbackServer, origin: str | None) -> Any:
    """The long-poll ``status`` of a first GET sending ``origin``."""
    headers = {} if origin is None else {"Origin": origin}
    url = f"{server.http_url}/socket/longpoll?vsn=2.0.0"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200
        return json.loads(response.read())["status"]


def statuses(server: LoopbackServer, origins: Sequence[str | None]) -> list[int]:
    async def body() -> list[int]:
        return [await ws_status(server.url, o) for o in origins]

    return run(body)


def test_websocket_and_long_poll_refuse_a_disallowed_origin_with_403() -> None:
    with LoopbackServer(check_origin=["http://good.test", "//*.fine.test"]) as server:
        origins = [None, "http://good.test", "https://x.fine.test", "http://evil.test", "null"]
        assert statuses(server, origins) == [101, 101, 101, 403, 403]
        assert [lp_status(server, o) for o in origins] == [410, 410, 410, 403, 403]


def test_check_origin_true_is_the_server_host_and_false_is_the_default() -> None:
    with LoopbackServer(check_origin=True) as server:
        assert statuses(server, ["http://127.0.0.1:1", "http://localhost"]) == [101, 403]
    with LoopbackServer() as server:
        assert statuses(server, ["http://anything.test"]) == [101]


def test_check_origin_conn_needs_the_requests_own_origin() -> None:
    with LoopbackServer(check_origin="conn") as server:
        own = f"http://127.0.0.1:{server.port}"
        assert statuses(
            server, [own, "http://127.0.0.1:1", f"https://127.0.0.1:{server.port}"]
        ) == [
            101,
            403,
            403,
        ]


# -- handshake faults -------------------------------------------------------------------------


def test_fail_handshakes_holds_then_refuses_the_next_upgrades() -> None:
    with LoopbackServer() as server:
        server.faults.fail_handshakes(2, 503, 0.2)

        async def body() -> tuple[list[int], float]:
            loop = asyncio.get_running_loop()
            started = loop.time()
            first = await ws_status(server.url, None)
            held = loop.time() - started
            return [
                first,
                await ws_status(server.url, None),
                await ws_status(server.url, None),
            ], held

        got, held = run(body)
        assert got == [503, 503, 101]
        assert held >= 0.2
        server.faults.fail_handshakes(1)
        server.faults.reset()
        assert statuses(server, [None]) == [101]


def test_fail_handshakes_validates() -> None:
    with LoopbackServer() as server:
        for args in ((-1,), (1, 200), (1, 500, -0.1), (1, 500, True)):
            with pytest.raises(InvalidArgumentError):
                server.faults.fail_handshakes(*args)


def test_break_all_sends_a_reserved_opcode_frame() -> None:
    with LoopbackServer() as server:

        async def body() -> None:
            async with connect(server.url) as c:
                await c.send(None, "1", "phoenix", "heartbeat", {})
                assert await c.recv() == [None, "1", "phoenix", "phx_reply", OK_EMPTY]
                server.faults.break_all()
                msg = await c.ws.receive(timeout=WAIT)
                assert msg.type is aiohttp.WSMsgType.ERROR  # aiohttp: a protocol error

        run(body)
        server.wait_for(lambda: server.sockets() == [])
