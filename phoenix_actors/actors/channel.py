"""ChannelActor: one per topic; join, leave, rejoin, the push buffer, replies.

Decisions come from :class:`~phoenix_actors.protocol.channel.ChannelCore`;
this actor carries out its effects. Frames for its topic arrive straight
from the transport's reader thread.
"""

from __future__ import annotations

from typing import Any

import msgspec

from phoenix_actors.actors.presence import ForgetTopic, PresenceFrame
from phoenix_actors.actors.reply import Call, Reply
from phoenix_actors.actors.runtime import Inflow, Runtime, log
from phoenix_actors.actors.scheduler import ArmTimer, CancelOwner, CancelTimer
from phoenix_actors.actors.socket import (
    EnsureConnected,
    Frames,
    SocketClosedNotice,
    SocketOpenedNotice,
)
from phoenix_actors.actors.supervision import (
    ChannelFinished,
    ChildFailed,
    ClientActor,
    Crash,
    CrashInjectedError,
    Route,
)
from phoenix_actors.errors import ClientClosedError, PhoenixError
from phoenix_actors.messages import (
    AddEvents,
    ChannelEvent,
    DropEvents,
    DropPush,
    DropQueuedPush,
    DropTimeoutPush,
    Join,
    Leave,
    Match,
    Push,
    PushError,
    PushOk,
    PushTimeout,
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
    "Resync",
]


OUTBOX_MAX = 128
"""Frames held back at most, while more messages wait, before a write."""


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


class Resync(msgspec.Struct, frozen=True):
    """Rejoin now if joined: the server sends the presence state again."""


class _ChannelTimer(msgspec.Struct, frozen=True):
    name: str
    at: float


class ChannelActor(ClientActor):
    """The channel of one topic."""

    def __init__(
        self,
        runtime: Runtime,
        topic: str,
        core: ChannelCore | None = None,
        inbox: list[Any] | None = None,
    ) -> None:
        """Create the actor; ``core`` and ``inbox`` are what a crashed predecessor left."""
        super().__init__()
        self.rt = runtime
        self.topic = topic
        self.owner = f"channel:{topic}"
        self.restarted = core is not None
        self.retiring = False
        self.inherited = inbox
        self.generation = -1
        """The connection this channel last heard opened; its writes go to that one only."""
        self._current: Any = None
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
        wire = self.rt.wire
        self.generation = wire.generation
        self.core.socket_open = wire.open
        if self.restarted:
            now = self.rt.clock.now()
            if self.core.wants_join:
                self._run(self.core.join(now))
            elif self.core.leave_calls:  # it crashed while leaving: the leave ends now
                self._run(self.core.leave(now))
        self.replay_inbox()
        if self._outbox:
            self._flush()

    def on_stop(self) -> None:
        """Cancel timers; hand on (or fail) what is still in the inbox, so nothing is lost."""
        rt = self.rt
        if self._outbox:
            self._flush()
        rt.tell_child("scheduler", CancelOwner(self.owner))
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
        """Report the crash to the supervisor with the state and the unread inbox.

        The restarted actor rejoins (fresh join_ref), keeps the queued pushes
        (in-flight ones queued again) and replays the inbox in order. An ask
        whose command was being handled, and that the state does not hold,
        is answered now with the error (exactly once).
        """
        rt = self.rt
        inbox = self.take_inbox()
        current = self._current
        if isinstance(current, Call) and not self.core.holds_call(current.reply_to):
            current.reply_to.set_exception(
                PhoenixError(f"the channel of {self.topic!r} crashed handling this: {args[1]!r}")
            )
        rt.tell_child("scheduler", CancelOwner(self.owner))
        self.core.reset_for_restart()
        rt.tell(rt.supervisor, ChildFailed("channel", self.topic, repr(args[1]), self.core, inbox))

    def on_receive(self, message: Any) -> Any:
        """Handle one message; write queued frames once the inbox is empty.

        Frames produced while more messages wait are written together with
        the next ones: a burst of pushes costs one socket write, not one each.
        """
        self._current = message
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
            case Frames(messages=messages, size=size, inflow=inflow):
                share = size // len(messages)
                forwarded = 0
                emits: list[Any] = []  # the batch's events, emitted together (one lock)
                for msg in messages:
                    effects = core.receive(now, msg)
                    if not effects:
                        continue
                    if (
                        len(effects) == 1
                        and type(first := effects[0]) is Emit
                        and type(first.event) is ChannelEvent
                    ):
                        # the common frame, a broadcast: one event and nothing else to do
                        emits.append(first.event)
                        continue
                    forwarded += self._run(effects, share, emits, inflow)
                rt.events.emit_many(emits)
                # presence frames are released by the PresenceActor, once it handled them
                inflow.release(size - forwarded * share)
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
            case SocketOpenedNotice(generation=generation):
                self.generation = generation
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
            case Resync():
                self._run(core.resync(now))
            case Crash():
                raise CrashInjectedError(self.owner)
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

    def _run(
        self,
        effects: list[Effect],
        frame_size: int = 0,
        emits: list[Any] | None = None,
        inflow: Inflow | None = None,
    ) -> int:
        """Carry out ``effects``; return how many presence frames were forwarded.

        Events go to ``emits`` when given (the caller emits them together);
        they are emitted before anything that lets another thread act on
        this input (an answer, a tell), so every subscriber's order stays causal.
        """
        rt = self.rt
        forwarded = 0
        # dispatch on the exact type (effects are final structs): a ``match`` of
        # class patterns costs several times as much, on every frame
        for eff in effects:
            if emits and type(eff) not in _QUIET_EFFECTS:
                rt.events.emit_many(emits)
                emits.clear()
            if type(eff) is Send:
                self._outbox.append(eff.message)
            elif type(eff) is Emit:
                event = eff.event
                if isinstance(event, _PUSH_OUTCOMES):
                    rt.counters.push(_outcome(event))
                if emits is None:
                    rt.events.emit(event)
                else:
                    emits.append(event)
            elif type(eff) is Resolve:
                eff.call.set(eff.result)
            else:
                forwarded += self._run_rare(eff, frame_size, inflow)
        return forwarded

    def _run_rare(self, eff: Effect, frame_size: int, inflow: Inflow | None) -> int:
        """Carry out one effect that is not a send, an event or an answer (1: a presence frame)."""
        rt = self.rt
        match eff:
            case Arm(name=name, at=at):
                timer = _ChannelTimer(name, at)
                rt.tell_child("scheduler", ArmTimer(self.owner, name, at, self.actor_ref, timer))
            case Cancel(name=name):
                rt.tell_child("scheduler", CancelTimer(self.owner, name))
            case Forward(message=msg, join_ref=join_ref):
                frame = PresenceFrame(self.topic, msg, join_ref, frame_size, inflow)
                if not rt.tell_child("presence", frame) and inflow is not None:
                    inflow.release(frame_size)
                return 1
            case NeedSocket():
                rt.tell_child("socket", EnsureConnected(self.actor_ref))
            case Finished():
                self.retiring = True
                rt.tell_child("presence", ForgetTopic(self.topic))
                rt.tell(rt.supervisor, ChannelFinished(self.topic, self.actor_urn))
        return 0

    def _flush(self) -> None:
        batch, self._outbox = self._outbox, []
        failed, refused = self.rt.wire.send_many(batch, self.generation)
        for msg, exc in failed:
            log.warning("channel %s: cannot encode %s: %s", self.topic, msg.event, exc)
            self._run(self.core.local_failure(msg.ref, str(exc)))
        if refused:
            # the connection is gone: nothing goes out with its join_ref; the
            # pushes wait for the rejoin on the next one
            self._run(self.core.unsent(batch))


_QUIET_EFFECTS = (Emit, Send, Arm, Cancel)
"""Effects that let no other thread act on the input yet: events may wait behind them."""
_PUSH_OUTCOMES = (PushOk, PushError, PushTimeout)


def _outcome(event: PushOk | PushError | PushTimeout) -> str:
    """The metrics key of a push outcome (a PushTimeout that retries counts a retry too)."""
    match event:
        case PushOk():
            return "ok"
        case PushError(status=status):
            return status
        case PushTimeout(retry_in=retry_in):
            return "timeout" if retry_in is None else "timeout_retried"


def _is_command(message: object) -> bool:
    """Whether ``message`` is a user command (to hand on), not a frame, timer or query."""
    if isinstance(message, Call):
        message = message.command
    return isinstance(message, Push | Join | Leave | AddEvents | DropEvents)


def _pick(*values: Any) -> Any:
    """The first value that is set (not UNSET and not None-for-missing-config)."""
    *candidates, default = values
    for value in candidates:
        if value is not msgspec.UNSET and value is not None:
            return value
    return default
