"""Fixtures for the actor tests: a Client on a FakeClock and an in-memory network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from phoenix_actors.actors.scheduler import GetDeadline
from phoenix_actors.actors.supervisor import ResetChannels
from phoenix_actors.client import Client
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.messages import GetIsConnected, JoinOk, SocketOpened
from phoenix_actors.protocol.frames import Message
from phoenix_actors.testing.clock import FakeClock
from phoenix_actors.testing.recorder import EventRecorder
from phoenix_actors.testing.transport import MemoryNetwork, MemoryTransport

ENDPOINT = "ws://127.0.0.1:4000/socket"
WAIT = 5.0
TOPIC = "room:lobby"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def network() -> MemoryNetwork:
    # accept on open: accept() from the test can race the socket actor's open()
    return MemoryNetwork(auto_accept=True)


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture
def client(clock: FakeClock, network: MemoryNetwork, recorder: EventRecorder) -> Iterator[Client]:
    c = Client(ENDPOINT, clock=clock, transport=network)
    started(c)
    c.subscribe(recorder)
    yield c
    c.stop()


def started(client: Client) -> Client:
    """Wait until the supervisor has started its children.

    ``Client()`` returns before ``Supervisor.on_start`` ran, so a socket
    command sent at once can find no socket actor (a bug reported in
    test_actors.py); any ask to the supervisor is answered after ``on_start``.
    """
    client._supervisor.ask(ResetChannels(), timeout=WAIT)  # nothing to reset yet: a barrier
    return client


def eventually(
    client: Client, predicate: Callable[[], bool], what: str, timeout: float = WAIT
) -> None:
    """Wait until ``predicate()`` holds; between tries, one round trip through the socket actor.

    No sleep: each try waits on an actor reply, so the actors make progress.
    """
    real = MonotonicClock()
    deadline = real.now() + timeout
    while not predicate():
        if real.now() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        client.ask(GetIsConnected(), timeout=timeout)


def deadline_of(client: Client, owner: str, name: str) -> float | None:
    scheduler = client._rt.scheduler
    assert scheduler is not None
    result: Any = scheduler.ask(GetDeadline(owner, name), timeout=WAIT)
    return None if result is None else float(result)


def wait_armed(client: Client, owner: str, name: str, at: float | None = None) -> float:
    """Wait until timer ``(owner, name)`` is armed (at ``at``, if given); return its deadline."""
    found: list[float] = []

    def armed() -> bool:
        value = deadline_of(client, owner, name)
        if value is None or (at is not None and abs(value - at) > 1e-9):
            return False
        found.append(value)
        return True

    eventually(client, armed, f"timer {owner}/{name} armed at {at}")
    return found[0]


def connect(network: MemoryNetwork, client: Client, recorder: EventRecorder) -> MemoryTransport:
    """Return the next (auto-accepted) transport once the socket reports it open."""
    server = network.wait_for_transport(timeout=WAIT)
    recorder.wait_for(SocketOpened, timeout=WAIT)
    wait_armed(client, "socket", "heartbeat")
    return server


def join(
    server: MemoryTransport, recorder: EventRecorder, topic: str = TOPIC, response: Any = None
) -> Message:
    """Answer the next join on ``topic`` with ok; return the join message."""
    msg = server.expect_join(topic, timeout=WAIT)
    server.reply(msg, "ok", response)
    recorder.wait_for(JoinOk, lambda e: e.join_ref == msg.ref, timeout=WAIT)
    return msg
