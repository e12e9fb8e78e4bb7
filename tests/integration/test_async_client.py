"""AsyncClient against the bundled server: ask, tell, events, cancellation, stop,
async params and token, no thread per ask, a loop never held by the client.

Each test runs its own loop with ``asyncio.run``: no plugin needed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from phoenix_actors import (
    AsyncClient,
    ChannelEvent,
    ClientClosedError,
    ConnectOptions,
    GetJoinedChannels,
    Join,
    JoinOk,
    Push,
    PushOk,
    PushTimeout,
)
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import ConnectInfo
from phoenix_actors.server.demo import demo_connect
from phoenix_actors.testing import LoopLag, LoopWatch

WAIT = 5.0
FAST = ConnectOptions(timeout=2.0, reconnect_after=[0.05], rejoin_after=[0.05])
real = MonotonicClock()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30.0))


def test_ask_tell_and_events(phoenix_server: LoopbackServer) -> None:
    async def main() -> None:
        async with AsyncClient(phoenix_server.url, options=FAST) as client:
            joined = await client.ask(Join("room:async"))
            assert isinstance(joined, JoinOk)
            assert await client.ask(GetJoinedChannels()) == ["room:async"]
            feed = client.events(timeout=WAIT)
            client.tell(Push("room:async", "push_back", {"event": "told", "payload": {"n": 1}}))
            async for event in feed:
                if isinstance(event, ChannelEvent) and event.event == "told":
                    assert event.payload["payload"] == {"n": 1}
                    break
            else:
                pytest.fail("the told push's event never came")
            reply = await client.ask(Push("room:async", "ping", {"n": 2}))
            assert isinstance(reply, PushOk)
            assert reply.response == {"n": 2}

    run(main())


def test_cancelling_an_awaited_ask_frees_the_caller_and_the_push_still_ends(
    phoenix_server: LoopbackServer,
) -> None:
    async def main() -> None:
        async with AsyncClient(phoenix_server.url, options=FAST) as client:
            await client.ask(Join("room:async"))
            task = asyncio.create_task(client.ask(Push("room:async", "noreply", timeout=0.5)))
            await asyncio.sleep(0.05)  # let it go out
            start = real.now()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert real.now() - start < 0.1  # freed at once
            timed_out = None
            async for event in client.events(timeout=WAIT):
                if isinstance(event, PushTimeout):
                    timed_out = event
                    break
            assert timed_out is not None
            assert timed_out.push.event == "noreply"  # the push itself still ended

    run(main())


def test_stop_then_asks_raise_client_closed(phoenix_server: LoopbackServer) -> None:
    async def main() -> None:
        client = AsyncClient(phoenix_server.url, options=FAST)
        await client.ask(Join("room:async"))
        await client.stop()
        await client.stop()  # idempotent
        with pytest.raises(ClientClosedError):
            await client.ask(GetJoinedChannels())
        with pytest.raises(ClientClosedError):
            client.tell(Push("room:async", "ping"))

    run(main())


def test_async_params_and_token_are_awaited_on_each_connect() -> None:
    tokens: list[str | None] = []
    lock = threading.Lock()

    def hook(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
        with lock:
            tokens.append(info.auth_token)
        return demo_connect(params, info)

    calls = {"params": 0, "token": 0}

    async def params() -> dict[str, str]:
        calls["params"] += 1
        await asyncio.sleep(0)  # really asynchronous
        return {"user_id": f"async-{calls['params']}"}

    async def token() -> str:
        calls["token"] += 1
        return f"tok-{calls['token']}"

    async def main(server: LoopbackServer) -> None:
        options = ConnectOptions(
            timeout=2.0, reconnect_after=[0.05], rejoin_after=[0.05], auth_token=token
        )
        async with AsyncClient(server.url, params=params, options=options) as client:
            await client.ask(Join("room:async"))
            who = await client.ask(Push("room:async", "whoami"))
            assert isinstance(who, PushOk)
            assert who.response["user_id"] == "async-1"
            server.faults.abort_all()  # reconnect: both callables are awaited again
            for _ in range(200):
                who = await client.ask(Push("room:async", "whoami"), timeout=WAIT)
                if isinstance(who, PushOk) and who.response["user_id"] == "async-2":
                    break
            assert isinstance(who, PushOk)
            assert who.response["user_id"] == "async-2"

    with LoopbackServer(connect=hook) as server:
        run(main(server))
    assert tokens[:2] == ["tok-1", "tok-2"]
    assert calls == {"params": 2, "token": 2}


def test_a_thousand_concurrent_awaited_asks_add_no_thread(phoenix_server: LoopbackServer) -> None:
    async def main() -> None:
        async with AsyncClient(phoenix_server.url, options=FAST) as client:
            await client.ask(Join("bench:1"))
            before = threading.active_count()
            tasks = [
                asyncio.create_task(client.ask(Push("bench:1", "echo", {"i": i}), timeout=WAIT))
                for i in range(1000)
            ]
            await asyncio.sleep(0)  # every ask is sent and in flight
            during = threading.active_count()
            replies = await asyncio.gather(*tasks)
            assert during == before
            assert all(isinstance(r, PushOk) for r in replies)
            assert [r.response["i"] for r in replies if isinstance(r, PushOk)] == list(range(1000))

    run(main())


def test_a_flood_never_holds_the_loop(phoenix_server: LoopbackServer) -> None:
    """No loop callback of the client's runs long; a probe is never late by much."""

    async def main() -> LoopLag:
        async with AsyncClient(phoenix_server.url, options=FAST) as client:
            await client.ask(Join("bench:1"))
            ticks = 0
            feed = client.events(timeout=WAIT)
            async with LoopWatch() as watch:
                client.tell(Push("bench:1", "fanout", {"n": 20_000}))
                async for event in feed:
                    if isinstance(event, ChannelEvent) and event.event == "tick":
                        ticks += 1
                        if event.payload["i"] == 20_000:
                            break
            assert ticks > 1000  # a flood went through (drops are reported, not silent)
            return watch.result()

    lag = run(main())
    # what the client itself holds the loop for: the CPU of its longest callback
    # (the events() drain hands over 32 events a turn, a bridge wake-up a batch)
    assert lag.longest_callback < 0.005, lag
    # the probe's lateness also counts waits for the GIL (the client's and here
    # the server's threads run Python code) and for a CPU shared with whatever
    # else the machine runs: on 2 cores its p99 is 5-15 ms, and 30-46 ms at busy
    # times (a 20 ms bound failed 4 runs in 15), so only a stalled loop fails it
    assert lag.samples > 10, lag
    assert lag.p50 < 0.002, lag
    assert lag.p99 < 0.100, lag


def test_answered_asks_do_not_pile_up_in_the_deadline_heap(
    phoenix_server: LoopbackServer,
) -> None:
    from phoenix_actors.async_client import _COMPACT_AT, _bridge  # noqa: PLC0415

    async def main() -> int:
        async with AsyncClient(phoenix_server.url, options=FAST) as client:
            await client.ask(Join("bench:1"))
            for batch in range(30):  # 3,000 asks, all answered long before their guard
                await asyncio.gather(
                    *(
                        client.ask(Push("bench:1", "echo", {"i": batch * 100 + i}))
                        for i in range(100)
                    )
                )
            return len(_bridge(asyncio.get_running_loop())._deadlines)

    assert run(main()) <= _COMPACT_AT + 100
