"""PresenceActor: the presence state of every topic, on the pure tracker.

Channels forward ``presence_state`` / ``presence_diff`` frames here with
their current join_ref; the tracker (phoenix.js ``Presence`` semantics) holds
diffs until the current join's state arrives.
"""

from __future__ import annotations

from typing import Any

import msgspec

from phoenix_actors.actors.reply import Call
from phoenix_actors.actors.runtime import Inflow, Runtime, log
from phoenix_actors.actors.supervision import ChildFailed, ClientActor, Crash, CrashInjectedError
from phoenix_actors.errors import RemoteProtocolError
from phoenix_actors.messages import (
    GetLastPresenceJoin,
    GetLastPresenceLeave,
    GetPresenceDiffs,
    GetPresenceJoins,
    GetPresenceLeaves,
    GetPresenceState,
    InternalError,
    PresenceDiffReceived,
    PresenceJoined,
    PresenceLeft,
    PresenceStateReceived,
    PresenceSynced,
)
from phoenix_actors.protocol import presence as core
from phoenix_actors.protocol.frames import Message

__all__ = ["ForgetTopic", "PresenceActor", "PresenceFrame"]


class PresenceFrame(msgspec.Struct, frozen=True):
    """A presence frame for ``topic``, with the channel's join_ref when it arrived."""

    topic: str
    message: Message
    join_ref: str | None
    size: int = 0
    """Bytes of ``inflow`` this frame holds (released once it is handled)."""
    inflow: Inflow | None = None


class ForgetTopic(msgspec.Struct, frozen=True):
    """Drop the presence of ``topic`` (its channel was left or closed)."""

    topic: str


class PresenceActor(ClientActor):
    """Holds one :class:`~phoenix_actors.protocol.presence.PresenceTracker` per topic."""

    def __init__(
        self,
        runtime: Runtime,
        trackers: dict[str, core.PresenceTracker] | None = None,
        inbox: list[Any] | None = None,
    ) -> None:
        """Create the actor; ``trackers`` and ``inbox`` are a crashed predecessor's."""
        super().__init__()
        self.rt = runtime
        self.inherited = inbox
        # trackers are replaced whole on each frame, never changed in place, so
        # a predecessor's are consistent even if it crashed mid-frame
        self.trackers: dict[str, core.PresenceTracker] = dict(trackers or {})
        self._current: Any = None

    def on_start(self) -> None:
        """Name the thread; handle what a crashed predecessor left unread."""
        self.name_thread("presence")
        self.replay_inbox()

    def on_failure(self, *args: object) -> None:
        """Report the crash with the trackers, the unread inbox and the topic it broke on.

        The frame being handled is lost with the crash: its topic (if it was
        a frame) is resynced by the supervisor (the channel rejoins, and the
        server sends the whole state again).
        """
        inbox = self.take_inbox()
        current = self._current
        topic = current.topic if isinstance(current, PresenceFrame) else None
        failure = ChildFailed("presence", topic, repr(args[1]), self.trackers, inbox)
        self.rt.tell(self.rt.supervisor, failure)

    def on_receive(self, message: Any) -> Any:
        """Apply frames and answer the presence queries."""
        self._current = message
        match message:
            case PresenceFrame(size=size, inflow=inflow):
                try:
                    self._apply(message)
                finally:
                    if inflow is not None:
                        inflow.release(size)
            case ForgetTopic(topic=topic):
                self.trackers.pop(topic, None)
            case Crash():
                raise CrashInjectedError("presence")
            case Call():
                self.answer(message)
            case GetPresenceState(topic=topic):
                return self._tracker(topic).presences()
            case GetPresenceDiffs(topic=topic):
                return list(self._tracker(topic).diffs)
            case GetPresenceJoins(topic=topic):
                return list(self._tracker(topic).joins)
            case GetPresenceLeaves(topic=topic):
                return list(self._tracker(topic).leaves)
            case GetLastPresenceJoin(topic=topic):
                return self._tracker(topic).last_join
            case GetLastPresenceLeave(topic=topic):
                return self._tracker(topic).last_leave
            case _:
                log.warning("presence: unknown message %r", type(message).__name__)
        return None

    def _tracker(self, topic: str) -> core.PresenceTracker:
        return self.trackers.get(topic) or core.PresenceTracker()

    def _apply(self, frame: PresenceFrame) -> None:
        topic, msg = frame.topic, frame.message
        tracker = self._tracker(topic)
        dropped_before = tracker.dropped_pending
        try:
            tracker, events = core.handle_event(tracker, msg.event, msg.payload, frame.join_ref)
        except RemoteProtocolError as exc:
            self.rt.events.emit(
                InternalError(
                    reason=f"bad {msg.event}: {exc}", error="RemoteProtocolError", topic=topic
                )
            )
            return
        self.trackers[topic] = tracker
        emit = self.rt.events.emit
        if dropped_before == 0 and tracker.dropped_pending:
            # reported once per topic: the server sends diffs but no presence state
            reason = f"more than {tracker.pending_limit} presence diffs without a state: dropping"
            emit(InternalError(reason=reason, error="RemoteProtocolError", topic=topic))
        if events and msg.event == tracker.diff_event and tracker.diffs:
            emit(PresenceDiffReceived(topic=topic, diff=tracker.diffs[-1]))
        for event in events:
            match event:
                case core.PresenceJoined(current=current, joined=joined):
                    emit(PresenceJoined(topic=topic, presence=joined, current=current))
                case core.PresenceLeft(current=current, left=left):
                    emit(PresenceLeft(topic=topic, presence=left, current=current))
                case core.PresenceSynced(presences=presences):
                    emit(PresenceStateReceived(topic=topic, presences=presences))
        synced = msg.event == tracker.state_event or (
            msg.event == tracker.diff_event and not tracker.in_pending_sync_state(frame.join_ref)
        )
        if synced:  # phoenix.js onSync: once per state (with the diffs it held) or diff
            emit(PresenceSynced(topic=topic, presences=tracker.presences()))
