"""Phoenix Presence, sans-IO: sync a state, apply diffs, track joins and leaves.

This mirrors phoenix.js ``presence.js`` (``PROTOCOL.md`` §7) with plain data
in and out:

- :func:`sync_state` / :func:`sync_diff` are the static ``syncState`` /
  ``syncDiff``; instead of calling ``onJoin`` / ``onLeave`` they return the
  calls phoenix.js would have made, in its order, in a :class:`SyncResult`.
- :class:`PresenceTracker` is the ``Presence`` object's state machine for one
  topic: :func:`handle_state` and :func:`handle_diff` return a new tracker and
  the events (:class:`PresenceJoined`, :class:`PresenceLeft`, then one
  :class:`PresenceSynced`). Diffs wait until the state of the current join
  arrives, as ``inPendingSyncState()`` decides.
- :class:`Presence` and :class:`PresenceDiff` are the Elm API's view.

A state maps each presence key to ``{"metas": [{..., "phx_ref": ...}], ...}``;
keys beside ``metas`` (the server's ``fetch/2`` may add ``user``) are kept.
Nothing here mutates its inputs: new states share the unchanged meta values
with the old ones, so treat every state and payload as read-only.

Keys are visited in JavaScript's property order (integer-like keys such as
``"7"`` first, ascending, then the others in insertion order), so joins,
leaves and lists come out in the order phoenix.js gives them.

A malformed payload raises :class:`RemoteProtocolError`; the tracker is then
unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar, overload

import msgspec

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, RemoteProtocolError

__all__ = [
    "DEFAULT_DIFF_EVENT",
    "DEFAULT_STATE_EVENT",
    "JoinCall",
    "LeaveCall",
    "Presence",
    "PresenceDiff",
    "PresenceEvent",
    "PresenceJoined",
    "PresenceLeft",
    "PresenceState",
    "PresenceSynced",
    "PresenceTracker",
    "SyncResult",
    "handle_diff",
    "handle_event",
    "handle_state",
    "list_presences",
    "sync_diff",
    "sync_state",
    "to_presence",
]

DEFAULT_STATE_EVENT: Final = "presence_state"
"""The event carrying a full presence state (phoenix.js ``events.state``)."""

DEFAULT_DIFF_EVENT: Final = "presence_diff"
"""The event carrying joins and leaves (phoenix.js ``events.diff``)."""

PresenceState = dict[str, dict[str, Any]]
"""Presence key -> ``{"metas": [{..., "phx_ref": ...}], ...extra keys}``."""

T = TypeVar("T")

_MAX_ARRAY_INDEX: Final = 2**32 - 2


# --- the static syncState / syncDiff ----------------------------------------------------------


class JoinCall(NamedTuple):
    """The arguments phoenix.js passes to ``onJoin``."""

    key: str
    """The presence key."""
    current: dict[str, Any] | None
    """The key's entry before the join, or ``None`` if the key was absent."""
    joined: dict[str, Any]
    """The joining entry, holding only the metas that joined."""


class LeaveCall(NamedTuple):
    """The arguments phoenix.js passes to ``onLeave``."""

    key: str
    """The presence key."""
    current: dict[str, Any]
    """The key's entry after the leave; its ``metas`` may be empty (the key is then gone)."""
    left: dict[str, Any]
    """The leaving entry, holding only the metas that left."""


class SyncResult(NamedTuple):
    """The outcome of :func:`sync_state` or :func:`sync_diff`."""

    state: PresenceState
    """The new state (a new dict; the input state is untouched)."""
    joins: list[JoinCall]
    """The ``onJoin`` calls, in order; phoenix.js makes them all before any leave."""
    leaves: list[LeaveCall]
    """The ``onLeave`` calls, in order."""


def _is_array_index(key: str) -> bool:
    return (
        key.isascii()
        and key.isdecimal()
        and (key == "0" or not key.startswith("0"))
        and int(key) <= _MAX_ARRAY_INDEX
    )


def _js_keys(obj: Mapping[str, Any]) -> list[str]:
    """Return ``obj``'s keys in the order ``Object.getOwnPropertyNames`` lists them."""
    indices = [key for key in obj if _is_array_index(key)]
    if not indices:
        return list(obj)
    indices.sort(key=int)
    return indices + [key for key in obj if not _is_array_index(key)]


def _checked_entries(where: str, value: object) -> dict[str, dict[str, Any]]:
    """Return ``value`` as a presence map, or raise RemoteProtocolError saying what is wrong."""
    if not isinstance(value, Mapping):
        msg = f"{where} must be an object of presences, not {type(value).__name__}"
        raise RemoteProtocolError(msg)
    entries: dict[str, dict[str, Any]] = {}
    for key, entry in value.items():
        if not isinstance(key, str):
            msg = f"{where} has a non-string key {key!r}"
            raise RemoteProtocolError(msg)
        if not isinstance(entry, Mapping):
            msg = f"{where}[{key!r}] must be an object, not {type(entry).__name__}"
            raise RemoteProtocolError(msg)
        metas = entry.get("metas")
        if not isinstance(metas, Sequence) or isinstance(metas, str | bytes):
            msg = f"{where}[{key!r}].metas must be a list, not {type(metas).__name__}"
            raise RemoteProtocolError(msg)
        for i, meta in enumerate(metas):
            if not isinstance(meta, Mapping) or not isinstance(meta.get("phx_ref"), str):
                msg = f"{where}[{key!r}].metas[{i}] must be an object with a string phx_ref"
                raise RemoteProtocolError(msg)
        entries[key] = entry if isinstance(entry, dict) else dict(entry)
    return entries


def _checked_diff(value: object) -> dict[str, dict[str, dict[str, Any]]]:
    """Return ``value`` as ``{"joins": ..., "leaves": ...}`` or raise RemoteProtocolError."""
    if not isinstance(value, Mapping):
        msg = f"presence diff must be an object, not {type(value).__name__}"
        raise RemoteProtocolError(msg)
    missing = [name for name in ("joins", "leaves") if name not in value]
    if missing:
        msg = f"presence diff has no {' and no '.join(missing)}"
        raise RemoteProtocolError(msg)
    return {
        "joins": _checked_entries("presence diff joins", value["joins"]),
        "leaves": _checked_entries("presence diff leaves", value["leaves"]),
    }


def _refs(entry: Mapping[str, Any]) -> set[str]:
    return {meta["phx_ref"] for meta in entry["metas"]}


def _sync_diff(
    state: Mapping[str, dict[str, Any]],
    joins: Mapping[str, dict[str, Any]],
    leaves: Mapping[str, dict[str, Any]],
) -> SyncResult:
    new_state = dict(state)
    join_calls: list[JoinCall] = []
    leave_calls: list[LeaveCall] = []
    for key in _js_keys(joins):
        joined = joins[key]
        current = new_state.get(key)
        metas = list(joined["metas"])
        if current is not None:
            joined_refs = _refs(joined)
            kept = [meta for meta in current["metas"] if meta["phx_ref"] not in joined_refs]
            metas = kept + metas
        new_state[key] = {**joined, "metas": metas}
        join_calls.append(JoinCall(key, current, joined))
    for key in _js_keys(leaves):
        left = leaves[key]
        current = new_state.get(key)
        if current is None:
            continue
        left_refs = _refs(left)
        remaining = {
            **current,
            "metas": [meta for meta in current["metas"] if meta["phx_ref"] not in left_refs],
        }
        leave_calls.append(LeaveCall(key, remaining, left))
        if remaining["metas"]:
            new_state[key] = remaining
        else:
            del new_state[key]
    return SyncResult(new_state, join_calls, leave_calls)


def _sync_state(
    state: Mapping[str, dict[str, Any]], new_state: Mapping[str, dict[str, Any]]
) -> SyncResult:
    joins: dict[str, dict[str, Any]] = {}
    leaves: dict[str, dict[str, Any]] = {
        key: state[key] for key in _js_keys(state) if key not in new_state
    }
    for key in _js_keys(new_state):
        new_presence = new_state[key]
        current = state.get(key)
        if current is None:
            joins[key] = new_presence
            continue
        new_refs = _refs(new_presence)
        current_refs = _refs(current)
        joined = [meta for meta in new_presence["metas"] if meta["phx_ref"] not in current_refs]
        left = [meta for meta in current["metas"] if meta["phx_ref"] not in new_refs]
        if joined:
            joins[key] = {**new_presence, "metas": joined}
        if left:
            leaves[key] = {**current, "metas": left}
    return _sync_diff(state, joins, leaves)


def sync_state(state: Mapping[str, Any], new_state: Mapping[str, Any]) -> SyncResult:
    """Sync ``state`` with a full state from the server (phoenix.js ``syncState``).

    Keys missing from ``new_state`` leave with all their metas; for a shared
    key each meta joins or leaves by its ``phx_ref``; new keys join whole.
    The result is that of :func:`sync_diff` on those joins and leaves, so a
    surviving key keeps its old metas first, then the ones that joined.

    Args:
        state: The current state (left untouched).
        new_state: The ``presence_state`` payload.

    Returns:
        The new state and the joins and leaves phoenix.js would report.

    Raises:
        RemoteProtocolError: either state is not a presence map (an entry
            without a ``metas`` list, a meta without a string ``phx_ref``).
    """
    return _sync_state(
        _checked_entries("presence state", state), _checked_entries("presence state", new_state)
    )


def sync_diff(state: Mapping[str, Any], diff: Mapping[str, Any]) -> SyncResult:
    """Apply a ``presence_diff`` payload to ``state`` (phoenix.js ``syncDiff``).

    Joins come first: a joining key's entry becomes the joined one (its extra
    keys included) with the key's previous metas whose ``phx_ref`` did not
    join put in front. Then leaves: unknown keys are skipped, the listed
    ``phx_ref`` s are removed and a key with no metas left is deleted.

    Args:
        state: The current state (left untouched).
        diff: ``{"joins": {...}, "leaves": {...}}``.

    Returns:
        The new state and the joins and leaves phoenix.js would report.

    Raises:
        RemoteProtocolError: ``state`` or ``diff`` is malformed.
    """
    checked = _checked_diff(diff)
    return _sync_diff(
        _checked_entries("presence state", state), checked["joins"], checked["leaves"]
    )


@overload
def list_presences(
    state: Mapping[str, dict[str, Any]], chooser: None = None
) -> list[dict[str, Any]]: ...


@overload
def list_presences(
    state: Mapping[str, dict[str, Any]], chooser: Callable[[str, dict[str, Any]], T]
) -> list[T]: ...


def list_presences(
    state: Mapping[str, dict[str, Any]],
    chooser: Callable[[str, dict[str, Any]], Any] | None = None,
) -> list[Any]:
    """List the presences of ``state`` (phoenix.js ``Presence.list``).

    Args:
        state: A presence state.
        chooser: Called as ``chooser(key, presence)`` for each key; by
            default each presence entry is listed as it is.

    Returns:
        One item per key, in phoenix.js's key order.
    """
    if chooser is None:
        return [state[key] for key in _js_keys(state)]
    return [chooser(key, state[key]) for key in _js_keys(state)]


# --- the Elm view -----------------------------------------------------------------------------


class Presence(msgspec.Struct, frozen=True):
    """One presence, as the Elm API shows it."""

    id: str
    """The presence key (the first argument of the server's ``Presence.track/3``)."""
    metas: list[Any]
    """The metas, each with its ``phx_ref``."""
    user: Any = None
    """The ``user`` the server's ``fetch/2`` added, or ``None`` when it added none."""
    presence: dict[str, Any] = {}
    """The whole presence entry, for any other key ``fetch/2`` added."""


class PresenceDiff(msgspec.Struct, frozen=True):
    """The presences a ``presence_diff`` reported joining and leaving."""

    joins: list[Presence]
    """Presences that joined, with the metas that joined."""
    leaves: list[Presence]
    """Presences that left, with the metas that left."""


def to_presence(key: str, entry: Mapping[str, Any]) -> Presence:
    """Return the Elm view of the state entry ``entry`` under ``key``.

    Args:
        key: The presence key.
        entry: ``{"metas": [...], ...}``.

    Returns:
        The :class:`Presence`; ``user`` is ``entry["user"]`` or ``None``.
    """
    return Presence(key, list(entry["metas"]), entry.get("user"), dict(entry))


def _to_diff(
    joins: Mapping[str, dict[str, Any]], leaves: Mapping[str, dict[str, Any]]
) -> PresenceDiff:
    return PresenceDiff(
        [to_presence(key, joins[key]) for key in _js_keys(joins)],
        [to_presence(key, leaves[key]) for key in _js_keys(leaves)],
    )


# --- events -----------------------------------------------------------------------------------


class PresenceEvent(msgspec.Struct, frozen=True, tag=True):
    """Base of what a presence state or diff made happen on one topic."""


class PresenceJoined(PresenceEvent, frozen=True, tag=True):
    """A presence joined, or an existing key gained metas (phoenix.js ``onJoin``)."""

    key: str
    """The presence key."""
    current: Presence | None
    """The key's presence before the join, or ``None`` if it is new."""
    joined: Presence
    """The presence that joined, with only the metas that joined."""


class PresenceLeft(PresenceEvent, frozen=True, tag=True):
    """A presence lost metas (phoenix.js ``onLeave``)."""

    key: str
    """The presence key."""
    current: Presence | None
    """What remains of the key, or ``None`` when no metas remain (the key is gone)."""
    left: Presence
    """The presence that left, with only the metas that left."""


class PresenceSynced(PresenceEvent, frozen=True, tag=True):
    """A state or diff was applied (phoenix.js ``onSync``): the full list after it."""

    presences: list[Presence]
    """Every presence now on the topic."""


# --- the tracker ------------------------------------------------------------------------------


class PresenceTracker(msgspec.Struct, frozen=True, kw_only=True):
    """One topic's presence, as the phoenix.js ``Presence`` object tracks it.

    Immutable: :func:`handle_state`, :func:`handle_diff` and
    :func:`handle_event` return a new tracker. The history lists are oldest
    first and keep at most ``history_limit`` items each, dropping the oldest.

    Raises:
        InvalidTypeError: ``history_limit`` is not an int or an event name not a string.
        InvalidArgumentError: ``history_limit`` is negative or an event name empty.
    """

    state: PresenceState = {}
    """The synced presence state."""
    join_ref: str | None = None
    """The channel's join_ref when the last state arrived; ``None`` before any."""
    pending: tuple[dict[str, Any], ...] = ()
    """Diffs held until the state of the current join arrives (validated payloads)."""
    diffs: tuple[PresenceDiff, ...] = ()
    """Diffs received (the Elm ``presenceDiff``)."""
    joins: tuple[Presence, ...] = ()
    """Presences that joined (the Elm ``presenceJoins``)."""
    leaves: tuple[Presence, ...] = ()
    """Presences that left (the Elm ``presenceLeaves``)."""
    last_join: Presence | None = None
    """The last presence to join (the Elm ``lastPresenceJoin``)."""
    last_leave: Presence | None = None
    """The last presence to leave (the Elm ``lastPresenceLeave``)."""
    history_limit: int = 100
    """The most items kept in ``diffs``, ``joins`` and ``leaves`` each."""
    pending_limit: int = 1000
    """The most diffs held while no state arrives (phoenix.js holds any number:
    a server that sends diffs but never a state would grow them forever)."""
    dropped_pending: int = 0
    """How many held diffs were dropped, oldest first, past ``pending_limit``."""
    state_event: str = DEFAULT_STATE_EVENT
    """The event name carrying full states (phoenix.js ``events.state``)."""
    diff_event: str = DEFAULT_DIFF_EVENT
    """The event name carrying diffs (phoenix.js ``events.diff``)."""

    def __post_init__(self) -> None:
        """Check the options."""
        for option in ("history_limit", "pending_limit"):
            limit: object = getattr(self, option)
            if not isinstance(limit, int) or isinstance(limit, bool):
                msg = f"{option} must be an int, not {type(limit).__name__}"
                raise InvalidTypeError(msg)
            if limit < 0:
                msg = f"{option} must be >= 0, got {limit}"
                raise InvalidArgumentError(msg)
        for field in ("state_event", "diff_event"):
            name: object = getattr(self, field)
            if not isinstance(name, str):
                msg = f"{field} must be a string, not {type(name).__name__}"
                raise InvalidTypeError(msg)
            if not name:
                msg = f"{field} must not be empty"
                raise InvalidArgumentError(msg)

    def presences(self) -> list[Presence]:
        """Return the Elm view of every presence now on the topic (the Elm ``presenceState``)."""
        return list_presences(self.state, to_presence)

    def in_pending_sync_state(self, channel_join_ref: str | None) -> bool:
        """Return whether diffs must wait (phoenix.js ``inPendingSyncState``).

        Args:
            channel_join_ref: The channel's current join_ref.

        Returns:
            True before the first state, or when the channel rejoined since.
        """
        return not self.join_ref or self.join_ref != channel_join_ref


def _bounded(items: tuple[T, ...], new: Sequence[T], limit: int) -> tuple[T, ...]:
    if not new:
        return items
    merged = items + tuple(new)
    return merged[len(merged) - limit :] if len(merged) > limit else merged


def _apply(
    tracker: PresenceTracker, results: Sequence[SyncResult], **changes: Any
) -> tuple[PresenceTracker, list[PresenceEvent]]:
    """Turn sync results into events and a tracker with the new state and history."""
    events: list[PresenceEvent] = []
    joined: list[Presence] = []
    left: list[Presence] = []
    for result in results:
        for key, current, joined_entry in result.joins:
            presence = to_presence(key, joined_entry)
            joined.append(presence)
            before = None if current is None else to_presence(key, current)
            events.append(PresenceJoined(key, before, presence))
        for key, remaining, left_entry in result.leaves:
            presence = to_presence(key, left_entry)
            left.append(presence)
            after = to_presence(key, remaining) if remaining["metas"] else None
            events.append(PresenceLeft(key, after, presence))
    state = results[-1].state
    events.append(PresenceSynced(list_presences(state, to_presence)))
    limit = tracker.history_limit
    new = msgspec.structs.replace(
        tracker,
        state=state,
        joins=_bounded(tracker.joins, joined, limit),
        leaves=_bounded(tracker.leaves, left, limit),
        last_join=joined[-1] if joined else tracker.last_join,
        last_leave=left[-1] if left else tracker.last_leave,
        **changes,
    )
    return new, events


def handle_state(
    tracker: PresenceTracker, payload: object, channel_join_ref: str | None
) -> tuple[PresenceTracker, list[PresenceEvent]]:
    """Apply a full presence state, then the diffs that waited for it.

    As phoenix.js: record ``channel_join_ref``, sync the state, apply the
    pending diffs in order, then report one sync.

    Args:
        tracker: The topic's tracker.
        payload: The state event's payload.
        channel_join_ref: The channel's current join_ref.

    Returns:
        The new tracker and the events: the joins and leaves of each sync in
        phoenix.js's order, then exactly one :class:`PresenceSynced`.

    Raises:
        RemoteProtocolError: the payload is not a presence state.
    """
    new_state = _checked_entries("presence state", payload)
    results = [_sync_state(tracker.state, new_state)]
    for diff in tracker.pending:
        results.append(_sync_diff(results[-1].state, diff["joins"], diff["leaves"]))
    return _apply(tracker, results, join_ref=channel_join_ref, pending=())


def handle_diff(
    tracker: PresenceTracker, payload: object, channel_join_ref: str | None
) -> tuple[PresenceTracker, list[PresenceEvent]]:
    """Apply a presence diff, or hold it until the current join's state arrives.

    Args:
        tracker: The topic's tracker.
        payload: The diff event's payload, ``{"joins": {...}, "leaves": {...}}``.
        channel_join_ref: The channel's current join_ref.

    Returns:
        The new tracker and the events: none when the diff is held; else its
        joins, its leaves and one :class:`PresenceSynced`.

    Raises:
        RemoteProtocolError: the payload is not a presence diff.
    """
    diff = _checked_diff(payload)
    diffs = _bounded(
        tracker.diffs, [_to_diff(diff["joins"], diff["leaves"])], tracker.history_limit
    )
    if tracker.in_pending_sync_state(channel_join_ref):
        pending = (*tracker.pending, diff)
        dropped = max(0, len(pending) - tracker.pending_limit)
        new = msgspec.structs.replace(
            tracker,
            pending=pending[dropped:],
            diffs=diffs,
            dropped_pending=tracker.dropped_pending + dropped,
        )
        return new, []
    result = _sync_diff(tracker.state, diff["joins"], diff["leaves"])
    return _apply(tracker, [result], diffs=diffs)


def handle_event(
    tracker: PresenceTracker, event: str, payload: object, channel_join_ref: str | None
) -> tuple[PresenceTracker, list[PresenceEvent]]:
    """Route a channel event to :func:`handle_state` or :func:`handle_diff` by its name.

    Args:
        tracker: The topic's tracker.
        event: The channel event's name.
        payload: Its payload.
        channel_join_ref: The channel's current join_ref.

    Returns:
        What the handler returned, or the same tracker and no events for an
        event that is not the tracker's state or diff event.

    Raises:
        RemoteProtocolError: a state or diff payload is malformed.
    """
    if event == tracker.state_event:
        return handle_state(tracker, payload, channel_join_ref)
    if event == tracker.diff_event:
        return handle_diff(tracker, payload, channel_join_ref)
    return tracker, []
