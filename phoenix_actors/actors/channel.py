"""ChannelActor: one per topic; join, leave, rejoin, the push buffer, replies.

Decisions come from :class:`~phoenix_actors.protocol.channel.ChannelCore`;
this actor carries out its effects. Frames for its topic arrive straight
from the transport's reader thread.
"""

from __future__ import annotations

from typing import Any

import msgspec

from phoenix_actors.actors.presence import ForgetTopic, PresenceFrame
from phoenix_actors.actors.reply import Reply
from phoenix_actors.actors.runtime import Runtime, log
from phoenix_actors.actors.scheduler import ArmTimer, CancelOwner, CancelTimer
from phoenix_actors.actors.socket import (
    EnsureConnected,
    Frames,
    SocketClosedNotice,
    SocketOpenedNotice,
)
from phoenix_actors.actors.supervision import ChannelFinished, ChildFailed, ClientActor, Route
from phoenix_actors.errors import ClientClosedError
from phoenix_actors.messages import (
    AddEvents,
    DropEvents,
    DropPush,
    DropQueuedPush,
    DropTimeoutPush,
    Join,
    Leave,
    Match,
    Push,
)
from phoenix_actors.protocol.channel import (
    MAX_QUEUED_PUSHES,
    Arm,
    Cancel,
    ChannelCore,
    ChannelStatus,
    Effect,
    Emit,
    Finished,
    Forward,
    NeedSocket,
    Resolve,
    Send,
)
from phoenix_actors.protocol.frames import Message
from phoenix_actors.protocol.schedule import make_schedule, rejoin_after

__all__ = [
    "Call",
    "ChannelActor",
    "ChannelInfo",
    "GetChannelInfo",
    "GetCountdown",
    "GetPushes",
    "Rearm",
]


OUTBOX_MAX = 128
"""Frames held back at most, while more messages wait, before a write."""


class Call(msgspec.Struct, frozen=True):
    """A command whose outcome completes ``reply_to`` (a :class:`Reply`) later (an ask)."""

    command: Any
    reply_to: Reply


class GetChannelInfo(msgspec.Struct, frozen=True):
    """Ask for the channel's :class:`ChannelInfo`."""


class ChannelInfo(msgspec.Struct, frozen=True):
    """A snapshot of one channel for the facade's queries."""

    topic: str
    status: str
    queued: bool
    joined: bool


class GetPushes(msgspec.Struct, frozen=True):
    """Ask for the pushes in ``where`` ("queued", "in_flight", "timed_out")."""

    where: str


class GetCountdown(msgspec.Struct, frozen=True):
    """Ask for the seconds until the first matching push retries."""

    match: Match


class Rearm(msgspec.Struct, frozen=True):
    """Arm every timer again (after the scheduler restarted)."""


class _ChannelTimer(msgspec.Struct, frozen=True):
    name: str
    at: float


class ChannelActor(ClientActor):
    """The channel of one topic."""

    def __init__(self, runtime: Runtime, topic: str, core: ChannelCore | None = None) -> None:
        """Create the actor; ``core`` carries the state of a crashed predecessor."""
        super().__init__()
        self.rt = runtime
        self.topic = topic
        self.owner = f"channel:{topic}"
        self.restarted = core is not None
        self.retiring = False
        self._outbox: list[Message] = []
        if core is None:
            core = ChannelCore(
                topic,
                runtime.refs,
                default_timeout=runtime.default_timeout,
                rejoin_schedule=make_schedule(runtime.option("rejoin_after", None), rejoin_after),
                max_queued_pushes=runtime.option("max_queued_pushes", MAX_QUEUED_PUSHES),
            )
            config = runtime.join_configs.get(topic)
            if config is not None and config.events not in (msgspec.UNSET, None):
                core.filter.only = set(config.events)
        self.core = core

    def on_start(self) -> None:
        """Learn whether the socket is open; after a restart, rejoin if wanted."""
        self.name_thread(f"channel:{self.topic}")
        self.core.socket_open = self.rt.wire.open
        if self.restarted and self.core.wants_join:
            self._run(self.core.join(self.rt.clock.now()))
            self._flush()

    def on_stop(self) -> None:
        """Cancel timers; hand on (or fail) what is still in the inbox, so nothing is lost."""
        rt = self.rt
        if self._outbox:
            self._flush()
        rt.tell(rt.scheduler, CancelOwner(self.owner))
        closed = ClientClosedError("the client stopped before this was answered")
        for call in self.core.pending_calls():
            call.set_exception(closed)
        while not self.actor_inbox.empty():
            envelope = self.actor_inbox.get()
            message = envelope.message
            handed_on = self.retiring and _is_command(message)
            if handed_on and rt.tell(rt.supervisor, Route(self.topic, message)):
                continue
            if isinstance(message, Call):
                message.reply_to.set_exception(closed)
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception(exc_info=(ClientClosedError, closed, None))

    def on_failure(self, *args: object) -> None:
        """Report the crash (with the state to restart from) to the supervisor."""
        self.rt.tell(self.rt.scheduler, CancelOwner(self.owner))
        self.core.reset_for_restart()
        self.rt.tell(
            self.rt.supervisor, ChildFailed("channel", self.topic, repr(args[1]), self.core)
        )

    def on_receive(self, message: Any) -> Any:
        """Handle one message; write queued frames once the inbox is empty.

        Frames produced while more messages wait are written together with
        the next ones: a burst of pushes costs one socket write, not one each.
        """
        result = self._handle(message)
        if self._outbox and (len(self._outbox) >= OUTBOX_MAX or self.actor_inbox.empty()):
            self._flush()
        return result

    def _handle(self, message: Any) -> Any:
        """Dispatch frames, commands, queries, socket notices and timers."""
        core = self.core
        rt = self.rt
        core.default_timeout = rt.default_timeout  # options may change at any time
        core.socket_error = rt.last_socket_error
        now = rt.clock.now()
        if self.retiring and _is_command(message):
            # closed for good: a fresh ChannelActor takes over this topic
            self.rt.tell(self.rt.supervisor, Route(self.topic, message))
            return None
        match message:
            case Frames(messages=messages, size=size):
                share = size // len(messages)
                forwarded = 0
                for msg in messages:
                    effects = core.receive(now, msg)
                    if effects:
                        forwarded += self._run(effects, share)
                # presence frames are released by the PresenceActor, once it handled them
                rt.inflow.release(size - forwarded * share)
            case Call(command=Push() as push, reply_to=fut):
                fut.expect_within(core.timeout_of(push))
                self._run(core.push(now, push, fut))
            case Push():
                self._run(core.push(now, message))
            case _ChannelTimer(name=name, at=at):
                self._run(core.timer(now, name, at))
            case Call(command=Join() as join, reply_to=fut):
                self._join(now, join, fut)
            case Join():
                self._join(now, message, None)
            case Call(command=Leave() as leave, reply_to=fut):
                self._leave(now, leave, fut)
            case Leave():
                self._leave(now, message, None)
            case Call(command=command, reply_to=fut):
                fut.set(self._handle(command))
            case SocketOpenedNotice():
                self._run(core.socket_opened(now))
            case SocketClosedNotice(reason=reason, too_large=too_large):
                self._run(core.socket_closed(now, reason, too_large))
            case AddEvents(events=events):
                core.filter.add(events)
            case DropEvents(events=events):
                core.filter.drop(events)
            case DropPush(match=match):
                return self._drop(match, ("queued", "timed_out", "in_flight"))
            case DropQueuedPush(match=match):
                return self._drop(match, ("queued",))
            case DropTimeoutPush(match=match):
                return self._drop(match, ("timed_out",))
            case GetChannelInfo():
                return ChannelInfo(
                    topic=self.topic,
                    status=str(core.status),
                    queued=core.queued,
                    joined=core.status is ChannelStatus.JOINED,
                )
            case GetPushes(where=where):
                return list(core.pushes(where))  # type: ignore[arg-type]
            case GetCountdown(match=match):
                return core.countdown(match, now)
            case Rearm():
                for name, at in core.armed_timers():
                    self._run([Arm(name, at)])
            case _:
                log.warning("channel %s: unknown message %r", self.topic, type(message).__name__)
        return None

    def _drop(self, match: Match, where: tuple[str, ...]) -> int:
        n = self.core.drop(match, where)  # type: ignore[arg-type]
        self._run(self.core.effects())
        return n

    def _join(self, now: float, join: Join, fut: Reply | None) -> None:
        config = self.rt.join_configs.get(self.topic)
        payload = _pick(join.payload, config and config.payload, {})
        timeout = _pick(join.timeout, config and config.timeout, None)
        events = join.events
        if events is msgspec.UNSET and config is not None:
            events = config.events
        if events is not msgspec.UNSET:
            self.core.filter.only = None if events is None else set(events)
        self._run(self.core.join(now, payload=payload, timeout=timeout, call=fut))
        if fut is not None and not fut.done:
            fut.expect_within(self.core.timeout)

    def _leave(self, now: float, leave: Leave, fut: Reply | None) -> None:
        config = self.rt.leave_configs.get(self.topic)
        timeout = leave.timeout if leave.timeout is not None else (config and config.timeout)
        if fut is not None:
            fut.expect_within(timeout or self.core.timeout)
        self._run(self.core.leave(now, timeout=timeout or None, call=fut))

    def _run(self, effects: list[Effect], frame_size: int = 0) -> int:
        """Carry out ``effects``; return how many presence frames were forwarded."""
        rt = self.rt
        forwarded = 0
        for eff in effects:
            match eff:
                case Send(message=msg):
                    self._outbox.append(msg)
                case Emit(event=event):
                    rt.events.emit(event)
                case Resolve(call=call, result=result):
                    call.set(result)
                case Arm(name=name, at=at):
                    timer = _ChannelTimer(name, at)
                    rt.tell(rt.scheduler, ArmTimer(self.owner, name, at, self.actor_ref, timer))
                case Cancel(name=name):
                    rt.tell(rt.scheduler, CancelTimer(self.owner, name))
                case Forward(message=msg, join_ref=join_ref):
                    forwarded += 1
                    if not rt.tell(
                        rt.presence, PresenceFrame(self.topic, msg, join_ref, frame_size)
                    ):
                        rt.inflow.release(frame_size)
                case NeedSocket():
                    rt.tell(rt.socket, EnsureConnected(self.actor_ref))
                case Finished():
                    self.retiring = True
                    rt.tell(rt.presence, ForgetTopic(self.topic))
                    rt.tell(rt.supervisor, ChannelFinished(self.topic, self.actor_urn))
        return forwarded

    def _flush(self) -> None:
        batch, self._outbox = self._outbox, []
        for msg, exc in self.rt.wire.send_many(batch):
            log.warning("channel %s: cannot encode %s: %s", self.topic, msg.event, exc)
            self._run(self.core.local_failure(msg.ref, str(exc)))


def _is_command(message: object) -> bool:
    """Whether ``message`` is a user command (to hand on), not a frame or a timer."""
    return isinstance(message, Call | Push | Join | Leave | AddEvents | DropEvents)


def _pick(*values: Any) -> Any:
    """The first value that is set (not UNSET and not None-for-missing-config)."""
    *candidates, default = values
    for value in candidates:
        if value is not msgspec.UNSET and value is not None:
            return value
    return default
