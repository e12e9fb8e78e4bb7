"""AsyncClient: await asks, tell, async for events, channel handles, async params.

At the end, a flood of broadcasts is read under a LoopWatch, which measures
how long any one loop callback held the loop.

Run by the test suite against the bundled loopback server; output in
``asyncio_client.out``.
"""

from __future__ import annotations

import asyncio

from phoenix_actors import (
    AsyncClient,
    ChannelEvent,
    GetJoinedChannels,
    Join,
    JoinOk,
    Push,
    PushOk,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import LoopWatch


async def params() -> dict[str, str]:
    """Awaited on each connect (for instance to fetch a fresh token first)."""
    await asyncio.sleep(0)
    return {"user_id": "async-bot"}


async def main(url: str) -> None:
    async with AsyncClient(url, params=params) as client:
        joined = await client.ask(Join("room:lobby"))  # typed: JoinOk | JoinError | JoinTimeout
        assert isinstance(joined, JoinOk)
        print("joined:", await client.ask(GetJoinedChannels()))  # typed: list[str]

        feed = client.events(timeout=5)  # subscribed from here on
        client.tell(Push("room:lobby", "shout", {"body": "hello"}))  # never blocks, never awaits
        async for event in feed:
            if isinstance(event, ChannelEvent) and event.event == "shout":
                print("event:", event.event, event.payload)
                break

        # a channel handle: the same messages, awaitable
        room = client.channel("room:lobby")
        got = asyncio.get_running_loop().create_future()

        async def on_pushed(payload: object) -> None:  # coroutine callbacks run on this loop
            got.set_result(payload)

        room.on("pushed", on_pushed)
        reply = await room.push("push_back", {"event": "pushed", "payload": {"n": 1}})
        assert isinstance(reply, PushOk)
        print("handler got:", await asyncio.wait_for(got, 5))
        whoami = await room.push("whoami")
        assert isinstance(whoami, PushOk)
        print("connected as:", whoami.response["user_id"])

        # cancelling an awaited ask frees the caller at once
        slow = asyncio.create_task(client.ask(Push("room:lobby", "noreply", timeout=0.2)))
        await asyncio.sleep(0.01)
        slow.cancel()
        try:
            await slow
        except asyncio.CancelledError:
            print("cancelled the wait; the push still ends with its own outcome event")

        # a flood of 2,000 broadcasts, read while a LoopWatch times the loop's callbacks
        await client.ask(Join("bench:1"))
        feed = client.events(timeout=5)
        async with LoopWatch() as watch:
            client.tell(Push("bench:1", "fanout", {"n": 2000}))
            async for event in feed:
                if isinstance(event, ChannelEvent) and event.payload.get("i") == 2000:
                    break
        lag = watch.result()
        print("longest loop callback under 5 ms:", lag.longest_callback < 0.005)


with LoopbackServer() as server:
    asyncio.run(main(server.url))
