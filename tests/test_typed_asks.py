"""Typed asks: mypy --strict (part of the test command) checks these signatures.

``assert_type`` fails the mypy run if ``ask`` loses its answer types; at run
time each check also runs against a real client on the bundled server.
"""

from __future__ import annotations

import asyncio
from typing import Any, assert_type

from phoenix_actors import (
    AsyncClient,
    Client,
    GetAllQueuedPushes,
    GetChannelJoined,
    GetDisconnectReason,
    GetIsConnected,
    GetJoinedChannels,
    GetLastPresenceJoin,
    GetPresenceState,
    GetPushCountdown,
    GetQueuedPushes,
    GetSocketState,
    Join,
    JoinError,
    JoinOk,
    JoinTimeout,
    Leave,
    LeaveOk,
    Match,
    Presence,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    SocketState,
)
from phoenix_actors.server import LoopbackServer


def typed_answers(client: Client) -> list[Any]:
    """Each answer is what mypy says it is (checked statically and at run time)."""
    joined = client.ask(Join("room:typed"))
    assert_type(joined, JoinOk | JoinError | JoinTimeout)
    pushed = client.ask(Push("room:typed", "ping", {"n": 1}))
    assert_type(pushed, PushOk | PushError | PushTimeout)
    channels = client.ask(GetJoinedChannels())
    assert_type(channels, list[str])
    assert_type(client.ask(GetChannelJoined("room:typed")), bool)
    assert_type(client.ask(GetIsConnected()), bool)
    assert_type(client.ask(GetSocketState()), SocketState)
    assert_type(client.ask(GetDisconnectReason()), str | None)
    assert_type(client.ask(GetQueuedPushes("room:typed")), list[Push])
    assert_type(client.ask(GetAllQueuedPushes()), dict[str, list[Push]])
    assert_type(client.ask(GetPushCountdown(Match(topic="room:typed"))), int | None)
    assert_type(client.ask(GetPresenceState("room:typed")), list[Presence])
    assert_type(client.ask(GetLastPresenceJoin("room:typed")), Presence | None)
    left = client.ask(Leave("room:typed"))
    assert_type(left, LeaveOk)
    return [joined, pushed, channels, left]


def test_answers_have_the_types_the_signatures_promise() -> None:
    with LoopbackServer() as server, Client(server.url) as client:
        joined, pushed, channels, left = typed_answers(client)
    assert isinstance(joined, JoinOk)
    assert isinstance(pushed, PushOk)
    assert channels == ["room:typed"]
    assert isinstance(left, LeaveOk)


async def typed_async_answers(client: AsyncClient) -> None:
    """The same signatures on AsyncClient (checked by mypy)."""
    assert_type(await client.ask(Join("room:typed")), JoinOk | JoinError | JoinTimeout)
    assert_type(await client.ask(Push("room:typed", "ping")), PushOk | PushError | PushTimeout)
    assert_type(await client.ask(GetJoinedChannels()), list[str])
    assert_type(await client.ask(GetPushCountdown(Match(topic="room:typed"))), int | None)
    assert_type(await client.ask(Leave("room:typed")), LeaveOk)


def test_async_answers_have_the_promised_types() -> None:
    async def main(url: str) -> None:
        async with AsyncClient(url) as client:
            await typed_async_answers(client)

    with LoopbackServer() as server:
        asyncio.run(main(server.url))
