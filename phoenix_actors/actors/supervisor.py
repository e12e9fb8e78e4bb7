"""The supervisor: starts, watches and restarts the other actors (one-for-one).

Children report crashes through their ``on_failure`` (a ``ChildFailed``
message). A crashed ChannelActor restarts from its last state (it rejoins
its topic and keeps its queued pushes); a crashed scheduler restarts and
every timer is armed again. More than N restarts within T seconds stops the
client with a :class:`~phoenix_actors.messages.ClientFailed` event.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import msgspec
import pykka

from phoenix_actors.actors.channel import Call, ChannelActor, Rearm
from phoenix_actors.actors.presence import ForgetTopic, PresenceActor
from phoenix_actors.actors.reply import Reply
from phoenix_actors.actors.runtime import Runtime, log
from phoenix_actors.actors.scheduler import RetrySchedulerActor
from phoenix_actors.actors.socket import EnsureConnected, SocketActor
from phoenix_actors.actors.supervision import (
    ChannelFinished,
    ChildFailed,
    ClientActor,
    Fanout,
    Route,
)
from phoenix_actors.messages import ClientFailed, InternalError

__all__ = [
    "Ping",
    "ResetChannels",
    "Supervisor",
]


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

    def on_receive(self, message: Any) -> Any:
        """Start channels, stop finished ones, restart crashed children."""
        match message:
            case Ping():
                return True
            case Route(topic=topic, message=inner):
                self._route(topic, inner)
            case Fanout(message=inner, reply=None):
                for ref in list(self.rt.registry.values()):
                    self.rt.tell(ref, inner)
            case Fanout(message=inner, reply=reply):
                replies = []
                for ref in list(self.rt.registry.values()):
                    child = Reply()
                    if self.rt.tell(ref, Call(inner, child)):
                        replies.append(child)
                reply.set(replies)
            case ChannelFinished(topic=topic, urn=urn):
                finished = self.rt.registry.get(topic)
                if finished is not None and finished.actor_urn == urn:
                    del self.rt.registry[topic]
                    finished.stop(block=False)
            case ResetChannels():
                for topic, ref in list(self.rt.registry.items()):
                    del self.rt.registry[topic]
                    _stop(ref)
                    self.rt.tell(self.rt.presence, ForgetTopic(topic))
                self.rt.join_configs.clear()
                self.rt.leave_configs.clear()
            case ChildFailed():
                self._child_failed(message)
            case _:
                log.warning("supervisor: unknown message %r", type(message).__name__)
        return None

    def _route(self, topic: str, message: Any) -> None:
        ref = self.rt.registry.get(topic)
        if ref is not None and self.rt.tell(ref, message):
            return
        new = ChannelActor.start(self.rt, topic)
        # the message goes in before the channel is published: a tell that finds
        # it in the registry afterwards is queued behind this one (order kept)
        new.tell(message)
        self.rt.registry[topic] = new

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
            reason = f"more than {limit} restarts in {period} s (last: {failure.kind})"
            rt.events.emit(ClientFailed(reason=reason))
            self.actor_ref.stop(block=False)
            return
        if failure.kind == "channel" and failure.topic is not None:
            ref = ChannelActor.start(rt, failure.topic, failure.state)
            rt.registry[failure.topic] = ref
        elif failure.kind == "socket":
            rt.socket = SocketActor.start(rt)
            if failure.state:
                rt.tell(rt.socket, EnsureConnected())
        elif failure.kind == "presence":
            rt.presence = PresenceActor.start(rt)
        elif failure.kind == "scheduler":
            rt.scheduler = RetrySchedulerActor.start(rt)
            for ref in list(rt.registry.values()):
                rt.tell(ref, Rearm())


def _stop(ref: pykka.ActorRef[Any] | None) -> None:
    if ref is None:
        return
    with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
        ref.stop(block=True, timeout=10.0)
