"""Crash injection: make one actor of a client fail now, as a bug in its handler would.

Use it to test your own supervision story: what your code sees while the
client restarts an actor (an ``InternalError`` event, then the restored
state). ``DESIGN``'s table of what each restart restores is what the
project's own tests check with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pykka

from phoenix_actors.actors.supervision import Crash
from phoenix_actors.errors import AskTimeoutError, ClientClosedError, InvalidArgumentError

if TYPE_CHECKING:
    from phoenix_actors.client import Client

__all__ = ["crash"]

_CHILDREN = ("socket", "scheduler", "presence")


def crash(client: Client, actor: str, timeout: float = 5.0) -> None:
    """Make ``actor`` of ``client`` raise in its handler now; return once it was acted on.

    The actor's handler raises while handling the crash message, exactly as
    a bug would: pykka stops it, its ``on_failure`` hands its state and
    unread inbox to the supervisor. This returns once the supervisor has
    acted on it: the actor was restarted (``InternalError`` emitted), or the
    restart limit was passed and the client stopped (``ClientFailed``).

    Args:
        client: a running client.
        actor: ``"socket"``, ``"scheduler"``, ``"presence"`` or ``"channel:<topic>"``.
        timeout: seconds to wait for the supervisor.

    Raises:
        InvalidArgumentError: ``actor`` names no actor of this client (no such topic).
        ClientClosedError: the client is stopped.
        AskTimeoutError: nothing happened within ``timeout``.
    """
    rt = client._rt  # noqa: SLF001 - the test kit reaches into its own runtime
    supervisor = client._supervisor  # noqa: SLF001
    if not supervisor.is_alive():
        raise ClientClosedError("the client is stopped")
    ref = _find(rt, actor)
    try:
        ref.tell(Crash())
    except pykka.ActorDeadError as exc:
        raise ClientClosedError(f"{actor} is not running") from exc

    def acted_on() -> bool:
        return _current(rt, actor) is not ref or not supervisor.is_alive()

    if not rt.wait_until(acted_on, timeout):
        raise AskTimeoutError(f"{actor} was not restarted within {timeout} s")


def _current(rt: Any, actor: str) -> pykka.ActorRef[Any] | None:
    if actor in _CHILDREN:
        ref: pykka.ActorRef[Any] | None = getattr(rt, actor)
        return ref
    if actor.startswith("channel:"):
        return rt.registry.get(actor.removeprefix("channel:"))  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        f"actor must be 'socket', 'scheduler', 'presence' or 'channel:<topic>', got {actor!r}"
    )


def _find(rt: Any, actor: str) -> pykka.ActorRef[Any]:
    ref = _current(rt, actor)
    if ref is None:
        raise InvalidArgumentError(f"{actor!r}: no such actor in this client (topic not joined?)")
    return ref
