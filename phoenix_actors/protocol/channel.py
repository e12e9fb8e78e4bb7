"""The channel state machine: join, leave, rejoin, the push buffer, replies.

Sans-IO: :class:`ChannelCore` takes inputs (a command, a frame, a timer, the
socket opening or closing) with ``now`` as an argument and returns a list of
effects for the ChannelActor to carry out. The rules are phoenix.js's
(``channel.js``, ``push.js``; PROTOCOL.md §5-6):

===========================  ==================================================
input                        effect
===========================  ==================================================
join                         joining; send ``phx_join`` (join_ref = its ref) if
                             the socket is open, else wait for it
join ok                      joined; rejoin backoff reset; queued pushes sent,
                             each with a new ref and a fresh timeout
join error                   errored; rejoin on the schedule (1, 2, 5, 10 s)
join timeout                 ``phx_leave`` with the stale join_ref; errored;
                             rejoin on the schedule (a join waiting for the
                             socket times out too, at its own timeout)
``phx_error``                errored; rejoin on the schedule
``phx_close``                closed; never rejoined
socket open                  an errored or waiting channel rejoins at once
socket closed                joined / joining channels turn errored
leave                        ``phx_leave``; closed on ok or on timeout
frame with a stale join_ref  ignored
===========================  ==================================================

Pushes made while the channel cannot push are queued *with their timeout
running*; a push that times out follows its retry strategy (Elm's Drop,
Every, Backoff): :class:`PushTimeout` says when it is tried again. The queue
holds at most ``max_queued_pushes``; a push beyond it fails at once with
``PushError(status="overflow")``.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

import msgspec

from phoenix_actors.messages import (
    ChannelClosed,
    ChannelErrored,
    ChannelEvent,
    Event,
    JoinError,
    JoinOk,
    JoinTimeout,
    LeaveOk,
    Match,
    Push,
    PushError,
    PushOk,
    PushTimeout,
)
from phoenix_actors.protocol.frames import Event as Wire
from phoenix_actors.protocol.frames import Message
from phoenix_actors.protocol.presence import DEFAULT_DIFF_EVENT, DEFAULT_STATE_EVENT
from phoenix_actors.protocol.schedule import rejoin_after, retry_delay

__all__ = [
    "Arm",
    "Cancel",
    "ChannelCore",
    "ChannelStatus",
    "Effect",
    "EventFilter",
    "Finished",
    "Forward",
    "NeedSocket",
    "Resolve",
    "Send",
]

PRESENCE_EVENTS: Final = frozenset({DEFAULT_STATE_EVENT, DEFAULT_DIFF_EVENT})
MAX_QUEUED_PUSHES: Final = 10_000
HEAP_COMPACT_FROM: Final = 4096
"""Push-timer heap size from which stale entries are swept out once they are over half."""
"""Default bound on a channel's queued pushes (``ConnectOptions.max_queued_pushes``)."""


class ChannelStatus(StrEnum):
    """Channel states, verbatim from phoenix.js ``CHANNEL_STATES``."""

    CLOSED = "closed"
    ERRORED = "errored"
    JOINED = "joined"
    JOINING = "joining"
    LEAVING = "leaving"


# --- effects -----------------------------------------------------------------------


class Send(msgspec.Struct, frozen=True):
    """Write ``message`` to the socket."""

    message: Message


class Emit(msgspec.Struct, frozen=True):
    """Deliver ``event`` to subscribers."""

    event: Event


class Arm(msgspec.Struct, frozen=True):
    """Start (or move) this channel's timer ``name`` to fire at ``at``."""

    name: str
    at: float


class Cancel(msgspec.Struct, frozen=True):
    """Stop this channel's timer ``name``."""

    name: str


class Resolve(msgspec.Struct, frozen=True):
    """Answer the ``ask`` waiting on ``call`` with ``result``."""

    call: Any
    result: Any


class Forward(msgspec.Struct, frozen=True):
    """Hand a presence frame to the PresenceActor, with the current join_ref."""

    message: Message
    join_ref: str | None


class NeedSocket(msgspec.Struct, frozen=True):
    """The channel wants the socket connected (automatic connect)."""


class Finished(msgspec.Struct, frozen=True):
    """The channel is closed for good (left, or closed by the server)."""


Effect = Send | Emit | Arm | Cancel | Resolve | Forward | NeedSocket | Finished

_Where = Literal["queued", "in_flight", "timed_out"]


@dataclass(eq=False, slots=True)
class _PushRecord:
    """One push the channel is responsible for, until its final outcome."""

    id: int
    push: Push
    call: Any
    where: _Where = "queued"
    ref: str | None = None
    deadline: float = math.inf
    retry_at: float | None = None
    attempt: int = 0


@dataclass(slots=True)
class EventFilter:
    """Which events are delivered as ChannelEvent.

    ``only`` None means every event except ``dropped`` (and presence events,
    which go to the PresenceActor); a set means exactly those events.
    """

    only: set[str] | None = None
    dropped: set[str] = field(default_factory=set)

    def allows(self, event: str) -> bool:
        """Return whether ``event`` is delivered."""
        if self.only is not None:
            return event in self.only
        return event not in self.dropped and event not in PRESENCE_EVENTS

    def add(self, events: Iterable[str]) -> None:
        """Deliver ``events`` too."""
        if self.only is None:
            self.dropped.difference_update(events)
        else:
            self.only.update(events)

    def drop(self, events: Iterable[str]) -> None:
        """Stop delivering ``events``."""
        if self.only is None:
            self.dropped.update(events)
        else:
            self.only.difference_update(events)


class ChannelCore:
    """The state of one topic's channel, and its transitions.

    Args:
        topic: the channel topic.
        make_ref: returns the next ref from the socket's shared counter.
        default_timeout: the socket's default timeout in seconds.
        rejoin_schedule: ``tries -> seconds`` (phoenix.js ``rejoinAfterMs``).
        max_queued_pushes: pushes queued at most while the channel cannot push.
    """

    def __init__(
        self,
        topic: str,
        make_ref: Callable[[], str],
        *,
        default_timeout: float = 10.0,
        rejoin_schedule: Callable[[int], float] = rejoin_after,
        max_queued_pushes: int = MAX_QUEUED_PUSHES,
    ) -> None:
        """Create a closed channel for ``topic``."""
        self.topic = topic
        self.max_queued_pushes = max_queued_pushes
        self.socket_error: str | None = None
        """Why the socket is down (the last SocketError), for timeouts while it is."""
        self.make_ref = make_ref
        self.default_timeout = default_timeout
        self.rejoin_schedule = rejoin_schedule
        self.status = ChannelStatus.CLOSED
        self.wants_join = False
        """True from a join until a leave or close: the channel should be joined."""
        self.socket_open = False
        self.join_payload: Any = {}
        self.join_timeout: float | None = None
        self.join_ref: str | None = None
        self.join_push_ref: str | None = None
        self.joined_once = False
        self.rejoin_tries = 0
        self.leave_ref: str | None = None
        self.filter = EventFilter()
        self.join_calls: list[Any] = []
        self.leave_calls: list[Any] = []
        self._pushes: dict[int, _PushRecord] = {}
        self._queue: dict[int, _PushRecord] = {}  # insertion-ordered FIFO
        self._in_flight: dict[str, _PushRecord] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._armed: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._out: list[Effect] = []

    # --- helpers ----------------------------------------------------------------

    def _take(self) -> list[Effect]:
        out, self._out = self._out, []
        return out

    def _arm(self, name: str, at: float) -> None:
        if self._armed.get(name) != at:
            self._armed[name] = at
            self._out.append(Arm(name, at))

    def _cancel(self, name: str) -> None:
        if self._armed.pop(name, None) is not None:
            self._out.append(Cancel(name))

    def _emit(self, event: Event) -> None:
        self._out.append(Emit(event))

    def _resolve(self, call: Any, result: Any) -> None:
        if call is not None:
            self._out.append(Resolve(call, result))

    @property
    def timeout(self) -> float:
        """The channel's default timeout: its join's, else the socket's (phoenix.js)."""
        return self.default_timeout if self.join_timeout is None else self.join_timeout

    def timeout_of(self, push: Push) -> float:
        """The seconds ``push`` waits for its reply: its own timeout, else the channel's."""
        return self.timeout if push.timeout is None else push.timeout

    def _schedule(self, at: float, rec: _PushRecord, kind: str) -> None:
        heap = self._heap
        if len(heap) >= HEAP_COMPACT_FROM and len(heap) > 2 * len(self._pushes):
            # an answered push leaves its deadline entry behind until it is due:
            # under load (pushes/s x timeout) that is most of the heap; sweep them,
            # so the heap is bounded by the pushes alive (amortised O(1) a push)
            heap[:] = [entry for entry in heap if not self._stale(entry)]
            heapq.heapify(heap)
        heapq.heappush(heap, (at, rec.id, kind))
        if at < self._armed.get("push", math.inf):
            self._arm("push", at)

    @property
    def can_push(self) -> bool:
        """Socket open and channel joined (phoenix.js ``canPush``)."""
        return self.socket_open and self.status is ChannelStatus.JOINED

    # --- join / leave ------------------------------------------------------------

    def join(
        self,
        now: float,
        *,
        payload: Any = None,
        timeout: float | None = None,
        call: Any = None,
    ) -> list[Effect]:
        """Join (or rejoin now, if already joining or errored) with ``payload``."""
        if payload is not None:
            self.join_payload = payload
        self.join_timeout = timeout
        if call is not None:
            if self.status is ChannelStatus.JOINED and self.socket_open:
                self._resolve(
                    call, JoinOk(topic=self.topic, response=None, join_ref=self.join_ref or "")
                )
                return self._take()
            self.join_calls.append(call)
        if self.status is ChannelStatus.JOINED and self.wants_join:
            return self._take()
        self.wants_join = True
        self._rejoin(now)
        return self._take()

    def _rejoin(self, now: float) -> None:
        if self.status is ChannelStatus.LEAVING:
            return
        self.status = ChannelStatus.JOINING
        self._cancel("rejoin")
        if not self.socket_open:
            # wait for the socket: the join goes out when it opens, and times out
            # at its own timeout if the socket cannot connect by then
            self.join_push_ref = None
            self._arm("join", now + self.timeout)
            self._out.append(NeedSocket())
            return
        ref = self.make_ref()
        self.join_ref = self.join_push_ref = ref
        self._out.append(Send(Message(ref, ref, self.topic, Wire.JOIN, self.join_payload)))
        timeout = self.timeout
        self._arm("join", now + timeout)

    def _schedule_rejoin(self, now: float) -> float | None:
        self.status = ChannelStatus.ERRORED
        if not self.socket_open:
            return None
        self.rejoin_tries += 1
        delay = self.rejoin_schedule(self.rejoin_tries)
        self._arm("rejoin", now + delay)
        return delay

    def leave(self, now: float, *, timeout: float | None = None, call: Any = None) -> list[Effect]:
        """Leave the channel: ``phx_leave``, then closed on ok or timeout."""
        if call is not None:
            self.leave_calls.append(call)
        self.wants_join = False
        self._cancel("rejoin")
        self._cancel("join")
        self._fail_waiting("left", {"reason": "left"})
        if self.status is ChannelStatus.CLOSED:
            self._close_local(now)
            return self._take()
        self.status = ChannelStatus.LEAVING
        if not self.can_push_leave:
            self._close_local(now)
            return self._take()
        ref = self.make_ref()
        self.leave_ref = ref
        self._out.append(Send(Message(self.join_ref, ref, self.topic, Wire.LEAVE, {})))
        self._arm("leave", now + (self.timeout if timeout is None else timeout))
        return self._take()

    @property
    def can_push_leave(self) -> bool:
        """Whether a ``phx_leave`` can go out now (socket open, channel not waiting)."""
        return self.socket_open and self.join_ref is not None

    def _close_local(self, now: float) -> None:
        del now
        self.status = ChannelStatus.CLOSED
        self.wants_join = False
        self.leave_ref = None
        self.join_ref = None
        self._cancel("leave")
        self._cancel("push")
        # a push made while leaving is still tracked: its timer is cancelled, so fail it
        self._fail_waiting("left", {"reason": "left"})
        self._emit(LeaveOk(topic=self.topic))
        # Finished first: presence is forgotten before the leave's ask returns
        self._out.append(Finished())
        for call in self.leave_calls:
            self._resolve(call, LeaveOk(topic=self.topic))
        self.leave_calls.clear()

    # --- socket ------------------------------------------------------------------

    def socket_opened(self, now: float) -> list[Effect]:
        """The socket opened: reset the rejoin timer; rejoin a channel that wants it."""
        self.socket_open = True
        self.rejoin_tries = 0
        self._cancel("rejoin")
        waiting = self.status is ChannelStatus.JOINING and self.join_push_ref is None
        if self.wants_join and (self.status is ChannelStatus.ERRORED or waiting):
            self._rejoin(now)
        return self._take()

    def socket_closed(
        self, now: float, reason: str = "connection_closed", too_large: str | None = None
    ) -> list[Effect]:
        """The transport went away: joined / joining channels turn errored.

        ``too_large`` is the ref of the push the server closed the socket for
        (close 1009, message too big): it fails as ``too_large`` and is never
        retried, since it would only close the socket again.
        """
        del now
        self.socket_open = False
        rec = None if too_large is None else self._in_flight.pop(too_large, None)
        if rec is not None:
            del self._pushes[rec.id]
            response = {"reason": "the server closed the socket with 1009 (message too big)"}
            event = PushError(push=rec.push, response=response, status="too_large")
            self._emit(event)
            self._resolve(rec.call, event)
        self._cancel("rejoin")
        if self.status in (ChannelStatus.JOINED, ChannelStatus.JOINING):
            if self.status is ChannelStatus.JOINED:
                self._cancel("join")
            # a join in progress keeps its deadline: it times out if no socket returns
            self.join_push_ref = None
            self.status = ChannelStatus.ERRORED
            payload = {"source": "transport", "reason": reason}
            self._emit(ChannelErrored(topic=self.topic, payload=payload, rejoin_in=None))
        elif self.status is ChannelStatus.LEAVING:
            self._close_local(0.0)
        return self._take()

    # --- frames ------------------------------------------------------------------

    def is_member(self, msg: Message) -> bool:
        """phoenix.js ``isMember``: topic matches and join_ref is null or current."""
        return msg.topic == self.topic and (msg.join_ref is None or msg.join_ref == self.join_ref)

    def receive(self, now: float, msg: Message) -> list[Effect]:
        """Handle one frame for this topic."""
        if not self.is_member(msg):
            return []
        event = msg.event
        if event == Wire.REPLY:
            self._reply(now, msg)
        elif event == Wire.CLOSE:
            self._server_close(msg.payload)
        elif event == Wire.ERROR:
            self._server_error(now, msg.payload)
        else:
            if event in PRESENCE_EVENTS:
                self._out.append(Forward(msg, self.join_ref))
            if self.filter.allows(event):
                self._emit(ChannelEvent(topic=self.topic, event=event, payload=msg.payload))
        return self._take()

    def _reply(self, now: float, msg: Message) -> None:
        ref = msg.ref
        payload = msg.payload
        status, response = _status_response(payload)
        if ref is not None and ref == self.join_push_ref:
            self._join_reply(now, status, response)
        elif ref is not None and ref == self.leave_ref:
            self._close_local(now)
        elif ref is not None and (rec := self._in_flight.pop(ref, None)) is not None:
            del self._pushes[rec.id]
            if status == "ok":
                result: Event = PushOk(push=rec.push, response=response)
            else:
                result = PushError(push=rec.push, response=response, status=status)
            self._emit(result)
            self._resolve(rec.call, result)

    def _join_reply(self, now: float, status: str, response: Any) -> None:
        self.join_push_ref = None
        self._cancel("join")
        if status == "ok":
            self.status = ChannelStatus.JOINED
            self.rejoin_tries = 0
            self._cancel("rejoin")
            event = JoinOk(
                topic=self.topic,
                response=response,
                join_ref=self.join_ref or "",
                rejoin=self.joined_once,
            )
            self.joined_once = True
            self._emit(event)
            for call in self.join_calls:
                self._resolve(call, event)
            self.join_calls.clear()
            self._flush(now)
            return
        delay = self._schedule_rejoin(now)
        event_err = JoinError(topic=self.topic, response=response, rejoin_in=delay)
        self._emit(event_err)
        for call in self.join_calls:
            self._resolve(call, event_err)
        self.join_calls.clear()
        self._fail_waiting("join_error", response, queued_only=True)

    def _server_close(self, payload: Any) -> None:
        if self.status is ChannelStatus.LEAVING:
            # the leave's own reply was lost: this close ends the leave
            self._close_local(0.0)
            return
        self.status = ChannelStatus.CLOSED
        self.wants_join = False
        self.join_ref = self.join_push_ref = None
        for name in list(self._armed):
            self._cancel(name)
        self._emit(ChannelClosed(topic=self.topic, payload=payload))
        self._fail_waiting("closed", payload)
        self._out.append(Finished())
        for call in self.leave_calls:
            self._resolve(call, LeaveOk(topic=self.topic))
        self.leave_calls.clear()

    def _server_error(self, now: float, payload: Any) -> None:
        if self.status is ChannelStatus.JOINING:
            self.join_ref = self.join_push_ref = None
            self._cancel("join")
        delay = self._schedule_rejoin(now)
        self._emit(ChannelErrored(topic=self.topic, payload=payload, rejoin_in=delay))

    # --- pushes ------------------------------------------------------------------

    def push(self, now: float, push: Push, call: Any = None) -> list[Effect]:
        """Send ``push`` now if the channel can push, else queue it (timeout running)."""
        if not self.can_push and len(self._queue) >= self.max_queued_pushes:
            self._overflow(push, call)
            return self._take()
        rec = _PushRecord(next(self._ids), push, call)
        self._pushes[rec.id] = rec
        if self.can_push:
            self._send(now, rec)
        else:
            self._enqueue(now, rec)
            if not self.wants_join:
                # automatic join on the first push (Elm)
                self.wants_join = True
                self._rejoin(now)
        return self._take()

    def _overflow(self, push: Push, call: Any) -> None:
        response = {"reason": f"more than {self.max_queued_pushes} pushes queued"}
        event = PushError(push=push, response=response, status="overflow")
        self._emit(event)
        self._resolve(call, event)

    def _send(self, now: float, rec: _PushRecord) -> None:
        ref = self.make_ref()
        rec.where, rec.ref, rec.retry_at = "in_flight", ref, None
        rec.deadline = now + self.timeout_of(rec.push)
        self._in_flight[ref] = rec
        p = rec.push
        self._out.append(Send(Message(self.join_ref, ref, self.topic, p.event, p.payload)))
        self._schedule(rec.deadline, rec, "deadline")

    def _enqueue(self, now: float, rec: _PushRecord) -> None:
        rec.where, rec.ref, rec.retry_at = "queued", None, None
        rec.deadline = now + self.timeout_of(rec.push)
        self._queue[rec.id] = rec
        self._schedule(rec.deadline, rec, "deadline")

    def _flush(self, now: float) -> None:
        queued = list(self._queue.values())
        self._queue.clear()
        for rec in queued:
            self._send(now, rec)

    def _fail_waiting(self, status: str, response: Any, *, queued_only: bool = False) -> None:
        """Fail pushes that can no longer be sent (join refused, left, closed)."""
        victims = list(self._queue.values())
        self._queue.clear()
        if not queued_only:
            victims += [r for r in self._pushes.values() if r.where != "queued"]
            self._in_flight.clear()
        for rec in victims:
            self._pushes.pop(rec.id, None)
            event = PushError(push=rec.push, response=response, status=status)
            self._emit(event)
            self._resolve(rec.call, event)

    def local_failure(self, ref: str | None, reason: str) -> list[Effect]:
        """A frame we sent could not be encoded: fail its push (status "local")."""
        rec = None if ref is None else self._in_flight.pop(ref, None)
        if rec is None:
            return []
        del self._pushes[rec.id]
        event = PushError(push=rec.push, response={"reason": reason}, status="local")
        self._emit(event)
        self._resolve(rec.call, event)
        return self._take()

    # --- timers ------------------------------------------------------------------

    def timer(self, now: float, name: str, at: float) -> list[Effect]:
        """A timer armed by an :class:`Arm` effect fired; stale firings do nothing."""
        if self._armed.get(name) != at:
            return []
        del self._armed[name]
        if name == "join":
            self._join_timeout(now)
        elif name == "rejoin":
            if self.socket_open and self.wants_join:
                self._rejoin(now)
        elif name == "leave":
            self._close_local(now)
        elif name == "push":
            self._push_timers(now)
        return self._take()

    def _join_timeout(self, now: float) -> None:
        if self.join_push_ref is not None:
            stale = self.join_ref
            # phoenix.js resets the join push: joinRef() is null until the rejoin, so
            # frames for the abandoned join (the phx_close answering our phx_leave) are dropped
            self.join_ref = self.join_push_ref = None
            if self.socket_open:
                # tell the server to drop the join we stopped waiting for
                leave = Message(stale, self.make_ref(), self.topic, Wire.LEAVE, {})
                self._out.append(Send(leave))
        elif not self.wants_join or self.status not in (
            ChannelStatus.JOINING,
            ChannelStatus.ERRORED,
        ):
            return
        delay = self._schedule_rejoin(now)
        reason = None if self.socket_open else self.socket_error
        event = JoinTimeout(
            topic=self.topic, payload=self.join_payload, rejoin_in=delay, reason=reason
        )
        self._emit(event)
        for call in self.join_calls:
            self._resolve(call, event)
        self.join_calls.clear()

    def _push_timers(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, rid, kind = heapq.heappop(heap)
            rec = self._pushes.get(rid)
            if rec is None:
                continue
            if kind == "deadline" and rec.deadline == at and rec.where != "timed_out":
                self._push_timeout(now, rec)
            elif kind == "retry" and rec.retry_at == at and rec.where == "timed_out":
                if self.can_push:
                    self._send(now, rec)
                elif len(self._queue) < self.max_queued_pushes:
                    self._enqueue(now, rec)
                else:
                    del self._pushes[rec.id]
                    self._overflow(rec.push, None)
        # skip stale entries so the timer is armed for a live one
        while heap and self._stale(heap[0]):
            heapq.heappop(heap)
        if heap:
            self._arm("push", heap[0][0])

    def _stale(self, entry: tuple[float, int, str]) -> bool:
        at, rid, kind = entry
        rec = self._pushes.get(rid)
        if rec is None:
            return True
        return rec.deadline != at if kind == "deadline" else rec.retry_at != at

    def _push_timeout(self, now: float, rec: _PushRecord) -> None:
        if rec.where == "in_flight" and rec.ref is not None:
            self._in_flight.pop(rec.ref, None)
        self._queue.pop(rec.id, None)
        rec.attempt += 1
        delay = retry_delay(rec.push.retry, rec.attempt)
        reason = None if self.socket_open else self.socket_error
        event = PushTimeout(push=rec.push, retry_in=delay, attempt=rec.attempt, reason=reason)
        self._emit(event)
        self._resolve(rec.call, event)
        rec.call = None
        if delay is None:
            del self._pushes[rec.id]
            return
        rec.where, rec.ref, rec.deadline = "timed_out", None, math.inf
        rec.retry_at = now + delay
        self._schedule(rec.retry_at, rec, "retry")

    # --- drops, filters, queries ---------------------------------------------------

    def drop(self, match: Match, where: Iterable[_Where]) -> int:
        """Forget matching pushes in the given places; return how many.

        A dropped in-flight push is only forgotten locally: its reply is ignored.
        An ``ask`` still waiting on a dropped push is answered with
        ``PushError(status="dropped")``; take those effects with :meth:`effects`.
        """
        places = set(where)
        n = 0
        for rec in list(self._pushes.values()):
            if rec.where in places and match(rec.push):
                del self._pushes[rec.id]
                self._queue.pop(rec.id, None)
                if rec.ref is not None:
                    self._in_flight.pop(rec.ref, None)
                response = {"reason": "dropped"}
                self._resolve(
                    rec.call, PushError(push=rec.push, response=response, status="dropped")
                )
                n += 1
        return n

    def effects(self) -> list[Effect]:
        """Take the effects an input that returns a value (``drop``) left behind."""
        return self._take()

    def pushes(self, where: _Where) -> Iterator[Push]:
        """The pushes in one place, oldest first."""
        return (r.push for r in self._pushes.values() if r.where == where)

    def countdown(self, match: Match, now: float) -> int | None:
        """Whole seconds until the first matching timed-out push retries."""
        waits = [
            r.retry_at - now
            for r in self._pushes.values()
            if r.where == "timed_out" and r.retry_at is not None and match(r.push)
        ]
        return max(0, math.ceil(min(waits))) if waits else None

    def unsent(self, msgs: Iterable[Message]) -> list[Effect]:
        """Frames handed to the socket were refused (its connection is gone): take them back.

        Pushes go back to the queue in their order, their timeouts still
        running; a refused join waits for the socket again. Nothing is sent
        until the rejoin on the next connection.
        """
        requeued = False
        for msg in msgs:
            ref = msg.ref
            if ref is None:
                continue
            rec = self._in_flight.pop(ref, None)
            if rec is not None:
                rec.where, rec.ref = "queued", None
                self._queue[rec.id] = rec
                requeued = True
            elif ref == self.join_push_ref:
                self.join_push_ref = None
        if requeued:
            self._queue = dict(sorted(self._queue.items()))
        return self._take()

    def resync(self, now: float) -> list[Effect]:
        """Rejoin now if joined, so the server sends the whole (presence) state again."""
        if self.wants_join and self.status is ChannelStatus.JOINED and self.socket_open:
            self._rejoin(now)
        return self._take()

    def holds_call(self, call: Any) -> bool:
        """Whether ``call`` (an ask) waits on this state: it will be answered from it."""
        return (
            call in self.join_calls
            or call in self.leave_calls
            or any(r.call is call for r in self._pushes.values())
        )

    def pending_calls(self) -> list[Any]:
        """Every ask still waiting on this channel (to fail them when it stops)."""
        calls = [*self.join_calls, *self.leave_calls]
        calls += [r.call for r in self._pushes.values() if r.call is not None]
        self.join_calls, self.leave_calls = [], []
        for rec in self._pushes.values():
            rec.call = None
        return calls

    @property
    def queued(self) -> bool:
        """Waiting to join (Elm ``channelQueued``): wants to join, not joined yet."""
        return self.wants_join and self.status is not ChannelStatus.JOINED

    def reset_for_restart(self) -> None:
        """Forget the wire state after an actor restart; keep config and queued pushes."""
        self.status = ChannelStatus.ERRORED if self.wants_join else ChannelStatus.CLOSED
        self.join_ref = self.join_push_ref = self.leave_ref = None
        self._armed.clear()
        for rec in list(self._pushes.values()):
            if rec.where == "in_flight":
                rec.where, rec.ref = "queued", None
                self._queue[rec.id] = rec
        self._in_flight.clear()
        self._heap = [
            (
                r.deadline if r.where != "timed_out" else (r.retry_at or 0.0),
                r.id,
                "deadline" if r.where != "timed_out" else "retry",
            )
            for r in self._pushes.values()
        ]
        heapq.heapify(self._heap)
        # effects of the input that crashed are dropped; the push timer died with the
        # old actor, so arm it again (returned with the restarted actor's first input)
        self._out = []
        if self._heap:
            self._arm("push", self._heap[0][0])


def _status_response(payload: Any) -> tuple[str, Any]:
    if isinstance(payload, dict):
        status = payload.get("status")
        return (status if isinstance(status, str) else "error"), payload.get("response")
    return "error", payload
