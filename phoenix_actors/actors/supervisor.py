"""The supervisor: starts, watches and restarts the other actors (one-for-one).

Children report crashes through their ``on_failure`` (a ``ChildFailed``
message carrying the state to restart from and the inbox they left unread).
Every restart restores, observably:

=====================  ===============================================================
restarted              restores
=====================  ===============================================================
SocketActor            a new connection if the old one was wanted; every channel was
                       told the old one is gone, and rejoins with a fresh join_ref
RetrySchedulerActor    every timer of every actor at its original deadline
ChannelActor           its queued pushes (in-flight ones queued again) and the
                       commands in its inbox, in order; every waiting ask answered once
PresenceActor          the state of every topic; the topic of a frame it broke on is
                       resynced (its channel rejoins: the server sends the state again)
=====================  ===============================================================

Messages for a child that is down (between its crash and its restart) are
held here and handed to the restarted child before it is published, so they
keep their order. Only the supervisor writes the topic registry. More than N
restarts within T seconds stops the client with a
:class:`~phoenix_actors.messages.ClientFailed` event.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import msgspec
import pykka

from phoenix_actors.actors.channel import ChannelActor, Resync
from phoenix_actors.actors.presence import ForgetTopic, PresenceActor
from phoenix_actors.actors.reply import Call, Reply
from phoenix_actors.actors.runtime import Runtime, log
from phoenix_actors.actors.scheduler import RetrySchedulerActor
from phoenix_actors.actors.socket import EnsureConnected, SocketActor
from phoenix_actors.actors.supervision import (
    ChannelFinished,
    ChildFailed,
    ClientActor,
    Deliver,
    Fanout,
    Route,
)
from phoenix_actors.errors import ClientClosedError
from phoenix_actors.messages import ClientFailed, InternalError

__all__ = [
    "HELD_MAX",
    "Ping",
    "ResetChannels",
    "Supervisor",
]

HELD_MAX = 100_000
"""Messages held at most for children that are down; past it the oldest is failed."""


class Ping(msgspec.Struct, frozen=True):
    """Answered with True once the supervisor has started its children."""


class ResetChannels(msgspec.Struct, frozen=True):
    """Stop every channel and forget configs (disconnect-and-reset)."""


class Supervisor(ClientActor):
    """Root of one client's actors."""

    def __init__(self, runtime: Runtime) -> None:
        """Create the supervisor; children start in :meth:`on_start`."""
        super().__init__()
        self.rt = runtime
        self.restarts: deque[float] = deque()
        self.failed = False
        self.held: dict[str, list[Any]] = {}
        """Messages for a child that is down, by child key ("socket", "channel:<topic>")."""
        self._held_count = 0

    def on_start(self) -> None:
        """Start the scheduler, the presence actor and the socket actor."""
        rt = self.rt
        self.name_thread("supervisor")
        rt.supervisor = self.actor_ref
        rt.scheduler = RetrySchedulerActor.start(rt)
        rt.presence = PresenceActor.start(rt)
        rt.socket = SocketActor.start(rt)

    def on_stop(self) -> None:
        """Stop the children, last started first, so no thread outlives the client."""
        rt = self.rt
        for topic, channel in list(rt.registry.items()):
            rt.registry.pop(topic, None)
            _stop(channel)
        for child in (rt.socket, rt.presence, rt.scheduler):
            _stop(child)
        for messages in self.held.values():
            _fail(messages)
        self.held.clear()
        rt.children_changed()

    def on_receive(self, message: Any) -> Any:
        """Start channels, stop finished ones, restart crashed children."""
        rt = self.rt
        match message:
            case Ping():
                return True
            case Route(topic=topic, message=inner):
                self._route(topic, inner)
            case Deliver(kind=kind, message=inner):
                if not rt.tell(getattr(rt, kind), inner):
                    self._hold(kind, inner)
            case Fanout(message=inner, reply=None):
                for topic, ref in list(rt.registry.items()):
                    if not rt.tell(ref, inner):
                        self._hold(f"channel:{topic}", inner)
            case Fanout(message=inner, reply=reply):
                replies = []
                for topic, ref in list(rt.registry.items()):
                    child = Reply()
                    call = Call(inner, child)
                    if not rt.tell(ref, call):
                        self._hold(f"channel:{topic}", call)  # crashed: its restart answers
                    replies.append(child)
                reply.set(replies)
            case ChannelFinished(topic=topic, urn=urn):
                finished = rt.registry.get(topic)
                if finished is not None and finished.actor_urn == urn:
                    del rt.registry[topic]
                    finished.stop(block=False)
            case ResetChannels():
                for topic, ref in list(rt.registry.items()):
                    del rt.registry[topic]
                    _stop(ref)
                    rt.tell_child("presence", ForgetTopic(topic))
                rt.join_configs.clear()
                rt.leave_configs.clear()
            case ChildFailed():
                self._child_failed(message)
            case Call():
                self.answer(message)
            case _:
                log.warning("supervisor: unknown message %r", type(message).__name__)
        return None

    def _route(self, topic: str, message: Any) -> None:
        ref = self.rt.registry.get(topic)
        if ref is not None:
            if self.rt.tell(ref, message):
                return
            # registered but dead: it crashed, and its ChildFailed is on the way
            self._hold(f"channel:{topic}", message)
            return
        new = ChannelActor.start(self.rt, topic)
        # the message goes in before the channel is published: a tell that finds
        # it in the registry afterwards is queued behind this one (order kept)
        new.tell(message)
        self.rt.registry[topic] = new

    def _hold(self, key: str, message: Any) -> None:
        self.held.setdefault(key, []).append(message)
        self._held_count += 1
        if self._held_count > HELD_MAX:
            oldest = max(self.held.values(), key=len)
            _fail([oldest.pop(0)])
            self._held_count -= 1
            log.warning("supervisor: more than %d messages held: failing the oldest", HELD_MAX)

    def _release(self, key: str, ref: pykka.ActorRef[Any]) -> None:
        """Hand the messages held for ``key`` to its restarted actor (before it is published)."""
        for message in self.held.pop(key, []):
            self._held_count -= 1
            ref.tell(message)

    def _child_failed(self, failure: ChildFailed) -> None:
        rt = self.rt
        log.error("%s actor crashed: %s", failure.kind, failure.error)
        rt.events.emit(
            InternalError(
                reason=f"{failure.kind} actor crashed", error=failure.error, topic=failure.topic
            )
        )
        now = rt.clock.now()
        limit, period = rt.restart_limit
        self.restarts.append(now)
        while self.restarts and self.restarts[0] < now - period:
            self.restarts.popleft()
        if len(self.restarts) > limit:
            self.failed = True
            reason = (
                f"more than {limit} restarts in {period} s "
                f"(last: {failure.kind} actor, {failure.error})"
            )
            rt.events.emit(ClientFailed(reason=reason))
            rt.events.finish()  # deliver what is waiting (ClientFailed last), then end
            self.actor_ref.stop(block=False)
            return
        ref: pykka.ActorRef[Any]
        match failure.kind:
            case "channel" if failure.topic is not None:
                topic = failure.topic
                ref = ChannelActor.start(rt, topic, failure.state, failure.inbox)
                self._release(f"channel:{topic}", ref)
                rt.registry[topic] = ref
            case "socket":
                ref = SocketActor.start(rt, failure.inbox)
                if failure.state:
                    ref.tell(EnsureConnected())
                self._release("socket", ref)
                rt.socket = ref
            case "presence":
                ref = PresenceActor.start(rt, failure.state, failure.inbox)
                self._release("presence", ref)
                rt.presence = ref
                channel = rt.registry.get(failure.topic or "")
                if channel is not None:
                    rt.tell(channel, Resync())
            case "scheduler":
                ref = RetrySchedulerActor.start(rt, failure.state, failure.inbox)
                self._release("scheduler", ref)
                rt.scheduler = ref
        rt.children_changed()


def _stop(ref: pykka.ActorRef[Any] | None) -> None:
    if ref is None:
        return
    with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
        ref.stop(block=True, timeout=10.0)


def _fail(messages: list[Any]) -> None:
    """Answer the asks among ``messages`` that will never be delivered."""
    closed = ClientClosedError("the client stopped before this was delivered")
    for message in messages:
        if isinstance(message, Call):
            message.reply_to.set_exception(closed)
