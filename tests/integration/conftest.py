"""Fixtures for the integration tests: the real client against the bundled server.

Every test talks over 127.0.0.1 to a :class:`LoopbackServer` (the plugin's
``phoenix_server`` fixture, or one built here with hooks). Clients come from
the ``connect`` factory, which subscribes an :class:`EventRecorder` before
anything happens and stops every client before the server goes down, so the
suite-wide leak fixture sees no thread left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import pytest

from phoenix_actors import Client, ConnectOptions, EventRecorder, Push, PushOk
from phoenix_actors.actors.supervision import ChannelFinished
from phoenix_actors.server import LoopbackServer

WAIT = 5.0
"""Seconds any wait on an event allows before the test fails."""

FAST = ConnectOptions(
    timeout=2.0,
    reconnect_after=[0.05],
    rejoin_after=[0.05],
)
"""Options that keep reconnects, rejoins and timeouts short."""


@dataclass
class Session:
    """One client and the recorder subscribed to it from the start."""

    client: Client
    events: EventRecorder
    unsubscribe: Callable[[], None] = field(repr=False)


class MakeClient(Protocol):
    """Make a started client (with its recorder) for the current test."""

    def __call__(
        self,
        url: str | None = None,
        *,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        options: ConnectOptions | None = None,
        fast: bool = True,
    ) -> Session: ...


def merge(base: ConnectOptions, extra: ConnectOptions | None) -> ConnectOptions:
    """``base`` with every field set in ``extra`` overriding."""
    if extra is None:
        return base
    changes = {
        name: getattr(extra, name)
        for name in extra.__struct_fields__
        if getattr(extra, name) is not msgspec.UNSET
    }
    return msgspec.structs.replace(base, **changes)


LOBBY = "room:lobby"


def whoami(session: Session, topic: str = LOBBY) -> dict[str, Any]:
    """Ask the demo channel who we are (user, join_ref, params, serializer...)."""
    reply = session.client.ask(Push(topic, "whoami"), timeout=WAIT)
    assert isinstance(reply, PushOk), reply
    response: dict[str, Any] = reply.response
    return response


def settle(client: Client) -> None:
    """Wait until the client's supervisor has handled everything told to it so far.

    A barrier for work the supervisor does after an answer went out (such as
    forgetting a left topic's presence). The message matches no channel, so
    it changes nothing.
    """
    client._supervisor.ask(ChannelFinished("", ""), timeout=WAIT)


@pytest.fixture
def server(phoenix_server: LoopbackServer) -> LoopbackServer:
    """The demo server on 127.0.0.1 (the plugin's fixture)."""
    assert phoenix_server.url.startswith("ws://127.0.0.1:")
    return phoenix_server


@pytest.fixture
def connect(server: LoopbackServer) -> Iterator[MakeClient]:
    """A factory of clients for ``server`` (or another URL); all stopped at teardown."""
    sessions: list[Session] = []

    def make(
        url: str | None = None,
        *,
        params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        options: ConnectOptions | None = None,
        fast: bool = True,
    ) -> Session:
        opts = merge(FAST, options) if fast else options
        client = Client(url or server.url, params=params, options=opts)
        recorder = EventRecorder()
        session = Session(client, recorder, client.subscribe(recorder))
        sessions.append(session)
        return session

    yield make
    for session in reversed(sessions):
        session.client.stop()
