"""What supervised actors share: their base class and the messages they send the supervisor.

The supervisor imports every child actor to start it, so these cannot live
in ``supervisor.py`` without an import cycle.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import pykka

if TYPE_CHECKING:
    from phoenix_actors.actors.runtime import Runtime

__all__ = ["ChannelFinished", "ChildFailed", "ClientActor", "Fanout", "Route"]


class ClientActor(pykka.ThreadingActor):
    """Base of every actor of a client: a daemon thread with a name unique per client.

    Daemon threads do not hold the interpreter open: a client never stopped
    is stopped by the client module's exit hook, which runs each actor's
    ``on_stop`` (threads still alive then), so the process exits normally.
    """

    use_daemon_thread: ClassVar[bool] = True

    rt: Runtime

    def name_thread(self, label: str) -> None:
        """Rename the actor's thread ``<client name>-<label>`` (for leak reports and logs)."""
        threading.current_thread().name = f"{self.rt.name}-{label}"


class ChildFailed(msgspec.Struct, frozen=True):
    """A child crashed; ``state`` is what to restart it from."""

    kind: str
    topic: str | None
    error: str
    state: Any


class ChannelFinished(msgspec.Struct, frozen=True):
    """The channel ``urn`` of ``topic`` is closed for good: stop it."""

    topic: str
    urn: str


class Route(msgspec.Struct, frozen=True):
    """Hand ``message`` to the ChannelActor of ``topic``, starting one if needed.

    Sent by the facade for a topic it has no live channel for (so a ``tell``
    never waits), and by a channel closed for good for commands it can no
    longer take.
    """

    topic: str
    message: Any


class Fanout(msgspec.Struct, frozen=True):
    """Hand ``message`` to every channel (a channel-wide query or drop).

    It goes through the supervisor, behind any :class:`Route` the facade
    sent before it, so a ``tell`` to a new topic followed by a channel-wide
    ``ask`` sees that topic. With ``reply`` (a ``Reply``), each channel gets
    ``Call(message, Reply())`` and ``reply`` is answered at once with the
    list of those replies, for the caller to wait on within its own deadline.
    """

    message: Any
    reply: Any = None
