"""Presence tracking for the loopback server: plain data in, diffs out.

This is the server half of Phoenix Presence (``Phoenix.Presence`` over the
``phoenix_pubsub`` tracker), without sockets or tasks, so it can be tested
on its own. A *presence* is one ``(owner, topic, key)`` entry with a meta
map; the owner is whatever identifies the tracking channel (the runtime
uses the channel object). Every change returns the diff Phoenix would
broadcast as ``presence_diff``::

    {"joins": {key: {"metas": [meta, ...]}}, "leaves": {key: {"metas": [...]}}}

Every meta carries ``phx_ref``, 16 URL-safe base64 characters, unique per
track or update; an update also carries the previous ref as
``phx_ref_prev`` and shows up as a join of the new meta plus a leave of the
old one, in one diff. :meth:`PresenceTracker.list` returns the same shape
as the state Phoenix pushes as ``presence_state``. The ``fetch`` hook
(Phoenix's ``fetch/2``), which adds per-key data such as ``user``, is
applied by the caller (see :func:`apply_fetch`).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from phoenix_actors.errors import InvalidArgumentError

__all__ = [
    "Diff",
    "FetchHook",
    "PresenceTracker",
    "Presences",
    "apply_fetch",
    "new_phx_ref",
]

Presences = dict[str, dict[str, Any]]
"""``{key: {"metas": [meta, ...], ...extra}}``, as Phoenix lists presences."""

FetchHook = Callable[[str, Presences], Presences]
"""``fetch(topic, presences) -> presences``: adds per-key data beside ``metas``."""


def new_phx_ref() -> str:
    """Return a fresh ``phx_ref``: 16 URL-safe base64 characters (12 random bytes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()


@dataclass(frozen=True)
class Diff:
    """One presence change on a topic, as Phoenix broadcasts it."""

    topic: str
    """The topic the change happened on."""
    joins: Presences = field(default_factory=dict)
    """Keys with the metas that joined."""
    leaves: Presences = field(default_factory=dict)
    """Keys with the metas that left."""

    def payload(self) -> dict[str, Presences]:
        """Return the ``presence_diff`` payload (before any fetch hook)."""
        return {"joins": self.joins, "leaves": self.leaves}

    def __bool__(self) -> bool:
        """Return True when something joined or left."""
        return bool(self.joins or self.leaves)


def apply_fetch(fetch: FetchHook | None, topic: str, presences: Presences) -> Presences:
    """Run the fetch hook over ``presences`` (unchanged when there is no hook or nothing)."""
    if fetch is None or not presences:
        return presences
    return fetch(topic, presences)


@dataclass
class _Entry:
    owner: Hashable
    key: str
    meta: dict[str, Any]


def _add(presences: Presences, key: str, meta: dict[str, Any]) -> None:
    presences.setdefault(key, {"metas": []})["metas"].append(meta)


class PresenceTracker:
    """Presences of every topic on one server (not thread-safe: one event loop owns it).

    Args:
        make_ref: source of ``phx_ref`` values (tests pass a counter).
    """

    def __init__(self, make_ref: Callable[[], str] = new_phx_ref) -> None:
        """Create an empty tracker."""
        self._make_ref = make_ref
        # topic -> entries in tracking order (Phoenix lists metas oldest first)
        self._topics: dict[str, list[_Entry]] = {}

    def _find(self, topic: str, owner: Hashable, key: str) -> _Entry | None:
        for entry in self._topics.get(topic, ()):
            if entry.owner == owner and entry.key == key:
                return entry
        return None

    def track(self, topic: str, owner: Hashable, key: str, meta: Mapping[str, Any]) -> Diff:
        """Track ``key`` on ``topic`` for ``owner`` with ``meta``; return the join diff.

        Raises:
            InvalidArgumentError: this owner already tracks this key on this
                topic (Phoenix's ``{:error, {:already_tracked, ...}}``).
        """
        if self._find(topic, owner, key) is not None:
            raise InvalidArgumentError(f"{key!r} is already tracked on {topic!r} by this owner")
        stored = {**meta, "phx_ref": self._make_ref()}
        self._topics.setdefault(topic, []).append(_Entry(owner, key, stored))
        return Diff(topic, joins={key: {"metas": [stored]}})

    def update(
        self,
        topic: str,
        owner: Hashable,
        key: str,
        meta: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]],
    ) -> Diff:
        """Replace the meta of a tracked key; return a diff with the old meta leaving.

        ``meta`` is the new meta, or a function from the old meta (without
        the ``phx_ref`` keys) to the new one. The new meta gets a new
        ``phx_ref`` and ``phx_ref_prev`` = the old ref.

        Raises:
            InvalidArgumentError: the key is not tracked by this owner on this topic.
        """
        entry = self._find(topic, owner, key)
        if entry is None:
            raise InvalidArgumentError(f"{key!r} is not tracked on {topic!r} by this owner")
        old = entry.meta
        if callable(meta):
            bare = {k: v for k, v in old.items() if k not in ("phx_ref", "phx_ref_prev")}
            meta = meta(bare)
        new = {**meta, "phx_ref": self._make_ref(), "phx_ref_prev": old["phx_ref"]}
        entry.meta = new
        return Diff(topic, joins={key: {"metas": [new]}}, leaves={key: {"metas": [old]}})

    def untrack(self, topic: str, owner: Hashable, key: str) -> Diff:
        """Stop tracking ``key`` on ``topic`` for ``owner`` (untracked: an empty diff)."""
        entries = self._topics.get(topic, [])
        entry = self._find(topic, owner, key)
        if entry is None:
            return Diff(topic)
        entries.remove(entry)
        if not entries:
            del self._topics[topic]
        return Diff(topic, leaves={key: {"metas": [entry.meta]}})

    def untrack_owner(self, owner: Hashable) -> list[Diff]:
        """Untrack everything ``owner`` tracks (it went away); return one diff per topic."""
        diffs = []
        for topic in list(self._topics):
            entries = self._topics[topic]
            gone = [e for e in entries if e.owner == owner]
            if not gone:
                continue
            leaves: Presences = {}
            for entry in gone:
                entries.remove(entry)
                _add(leaves, entry.key, entry.meta)
            if not entries:
                del self._topics[topic]
            diffs.append(Diff(topic, leaves=leaves))
        return diffs

    def get(self, topic: str, owner: Hashable, key: str) -> dict[str, Any] | None:
        """Return a copy of ``owner``'s meta for ``key`` on ``topic``, or None."""
        entry = self._find(topic, owner, key)
        return None if entry is None else dict(entry.meta)

    def list(self, topic: str) -> Presences:
        """Return the presences of ``topic``: ``{key: {"metas": [...]}}`` (fresh dicts)."""
        out: Presences = {}
        for entry in self._topics.get(topic, ()):
            _add(out, entry.key, dict(entry.meta))
        return out

    def topics(self) -> tuple[str, ...]:
        """Return the topics with at least one presence."""
        return tuple(self._topics)
