"""What supervised actors share: their base class and the messages they send the supervisor.

The supervisor imports every child actor to start it, so these cannot live
in ``supervisor.py`` without an import cycle.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import pykka

from phoenix_actors.actors.reply import Call

if TYPE_CHECKING:
    from phoenix_actors.actors.runtime import Runtime

__all__ = [
    "ChannelFinished",
    "ChildFailed",
    "ClientActor",
    "Crash",
    "CrashInjectedError",
    "Deliver",
    "Fanout",
    "Route",
]

log = logging.getLogger("phoenix_actors")


class CrashInjectedError(RuntimeError):
    """Raised by an actor's handler on a :class:`Crash` message (crash injection)."""


class Crash(msgspec.Struct, frozen=True):
    """Make the receiving actor's handler raise, as a bug would (``testing.crash``)."""


class ClientActor(pykka.ThreadingActor):
    """Base of every actor of a client: naming, crash hand-over, inbox replay.

    Threads are daemons with a name unique per client: a client never
    stopped is stopped by the client module's exit hook, which runs each
    actor's ``on_stop`` (threads still alive then), so the process exits.

    When a handler raises, pykka stops the actor and drops the plain
    ``tell``s still in its inbox. :meth:`take_inbox` (called from
    ``on_failure``) takes them first; the supervisor hands them to the
    restarted actor, whose :meth:`replay_inbox` (from ``on_start``) handles
    them in order before anything newer.
    """

    use_daemon_thread: ClassVar[bool] = True

    @staticmethod
    def _create_actor_inbox() -> queue.SimpleQueue[Any]:
        """The inbox: a ``SimpleQueue`` (pykka needs put, get and empty).

        It is written in C: a tell and its take cost a fraction of
        ``queue.Queue``'s (a Condition in Python code), on every hop.
        """
        return queue.SimpleQueue()

    rt: Runtime
    inherited: list[Any] | None = None
    """Envelopes taken from the crashed predecessor's inbox, to replay first."""

    def name_thread(self, label: str) -> None:
        """Rename the actor's thread ``<client name>-<label>`` (for leak reports and logs)."""
        threading.current_thread().name = f"{self.rt.name}-{label}"

    def take_inbox(self) -> list[Any]:
        """Take every envelope still waiting in this (failing) actor's inbox."""
        envelopes = []
        inbox = self.actor_inbox
        while not inbox.empty():
            envelopes.append(inbox.get())
        return envelopes

    def answer(self, call: Call) -> None:
        """Handle ``call``'s command and answer its reply (an ask sent by tell)."""
        try:
            result = self.on_receive(call.command)
        except Exception as exc:  # noqa: BLE001 - the asker gets the error, the actor lives
            call.reply_to.set_exception(exc)
        else:
            call.reply_to.set(result)

    def replay_inbox(self) -> None:
        """Handle the predecessor's waiting envelopes, in order, answering any asks."""
        envelopes, self.inherited = self.inherited or [], None
        for envelope in envelopes:
            message = envelope.message
            if type(message).__name__ == "_ActorStop":  # a stop sent to the dead actor
                if envelope.reply_to is not None:
                    envelope.reply_to.set(None)
                continue
            try:
                result = self.on_receive(message)
            except Exception:
                log.exception(
                    "%s: replaying %s raised", type(self).__name__, type(message).__name__
                )
                if envelope.reply_to is not None:
                    envelope.reply_to.set_exception()
                continue
            if envelope.reply_to is not None:
                envelope.reply_to.set(result)


class ChildFailed(msgspec.Struct, frozen=True):
    """A child crashed; ``state`` is what to restart it from, ``inbox`` what it left unread."""

    kind: str
    topic: str | None
    error: str
    state: Any
    inbox: list[Any] = msgspec.field(default_factory=list)


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


class Deliver(msgspec.Struct, frozen=True):
    """Hand ``message`` to the child ``kind`` ("socket", "presence", "scheduler").

    Sent when a direct tell found that child dead: the supervisor holds it
    until the restarted child takes over, so nothing is lost in between.
    """

    kind: str
    message: Any
