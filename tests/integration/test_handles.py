"""Channel handles and presence on_sync, end to end on the bundled server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from phoenix_actors import (
    AsyncClient,
    Client,
    JoinOk,
    LeaveOk,
    Presence,
    Push,
    PushError,
    PushOk,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

from .conftest import FAST, WAIT


class Collector:
    """A callback that records what it is given and wakes a waiter (with a deadline)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_until(self, predicate: Any, timeout: float = WAIT) -> Any:
        with self.cond:
            assert self.cond.wait_for(lambda: any(predicate(i) for i in self.items), timeout), (
                self.items
            )
            return next(i for i in self.items if predicate(i))


def ids(presences: list[Presence]) -> list[str]:
    return sorted(p.id for p in presences)


def test_a_channel_handle_joins_pushes_routes_events_and_leaves(
    phoenix_server: LoopbackServer,
) -> None:
    with Client(phoenix_server.url, params={"user_id": "hana"}, options=FAST) as client:
        ch = client.channel("room:handles", payload={"name": "hana"})
        shouts = Collector()
        others = Collector()
        unsubscribe = ch.on("shout", shouts)
        ch.on("pushed", others)
        joined = ch.join()
        assert isinstance(joined, JoinOk)
        reply = ch.push("ping", {"n": 1})
        assert isinstance(reply, PushOk)
        assert reply.response == {"n": 1}
        error = ch.push("error_reply", {"reason": "nope"})
        assert isinstance(error, PushError)
        client.tell(Push("room:handles", "shout", {"body": "hi"}))  # shouts get no reply
        assert shouts.wait_until(lambda p: p == {"body": "hi"}) == {"body": "hi"}
        ch.push("push_back", {"event": "pushed", "payload": {"k": 2}})
        others.wait_until(lambda p: p["payload"] == {"k": 2})
        unsubscribe()
        client.tell(Push("room:handles", "shout", {"body": "after"}))
        ch.push("push_back", {"event": "pushed", "payload": {"k": 3}})
        others.wait_until(lambda p: p["payload"] == {"k": 3})  # delivered after the shout
        assert [p["body"] for p in shouts.items] == ["hi"]  # removed: "after" never came
        assert isinstance(ch.leave(), LeaveOk)


def test_presence_on_sync_gets_the_whole_list_on_every_change(
    phoenix_server: LoopbackServer,
) -> None:
    with (
        Client(phoenix_server.url, params={"user_id": "ann"}, options=FAST) as ann,
        Client(phoenix_server.url, params={"user_id": "bob"}, options=FAST) as bob,
    ):
        ch = ann.channel("room:who")
        lists = Collector()
        ch.presence.on_sync(lambda presences: lists(ids(presences)))
        ch.join()
        lists.wait_until(lambda i: i == ["ann"])
        bob.channel("room:who").join()
        lists.wait_until(lambda i: i == ["ann", "bob"])
        assert ids(ch.presence.list()) == ["ann", "bob"]
        bob.channel("room:who").leave()
        with lists.cond:  # the last sync after bob's leave is ann alone again
            assert lists.cond.wait_for(lambda: lists.items[-1] == ["ann"], WAIT), lists.items
        # every sync is a whole list, in order: never bob alone, never a partial view
        assert all("ann" in i for i in lists.items)


def test_async_channel_handles_and_coroutine_callbacks(phoenix_server: LoopbackServer) -> None:
    async def main() -> None:
        url = phoenix_server.url
        async with AsyncClient(url, params={"user_id": "cy"}, options=FAST) as client:
            ch = client.channel("room:async-handles")
            got: asyncio.Queue[Any] = asyncio.Queue()

            async def on_shout(payload: Any) -> None:
                await got.put(payload)

            ch.on("shout", on_shout)
            synced: asyncio.Queue[list[str]] = asyncio.Queue()
            loop = asyncio.get_running_loop()
            ch.presence.on_sync(
                lambda ps: loop.call_soon_threadsafe(synced.put_nowait, ids(ps))
            )
            assert isinstance(await ch.join(), JoinOk)
            assert await asyncio.wait_for(synced.get(), WAIT) == ["cy"]
            client.tell(Push("room:async-handles", "shout", {"body": "hey"}))  # no reply: told
            assert await asyncio.wait_for(got.get(), WAIT) == {"body": "hey"}
            reply = await ch.push("ping", {"n": 3})
            assert isinstance(reply, PushOk)
            assert ids(await ch.presence.list()) == ["cy"]
            assert isinstance(await ch.leave(), LeaveOk)

    asyncio.run(asyncio.wait_for(main(), 30.0))


def test_one_subscription_serves_every_handle_of_a_client(phoenix_server: LoopbackServer) -> None:
    with Client(phoenix_server.url, options=FAST) as client:
        recorder = EventRecorder()
        client.subscribe(recorder)
        before = len(client._rt.events._subs)
        for n in range(5):
            client.channel(f"room:h{n}").on("shout", lambda p: None)
        assert len(client._rt.events._subs) == before + 1
