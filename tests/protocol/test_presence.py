"""Presence sync, the Elm view and the per-topic tracker (phoenix.js presence.js)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, RemoteProtocolError
from phoenix_actors.protocol.presence import (
    DEFAULT_DIFF_EVENT,
    DEFAULT_STATE_EVENT,
    JoinCall,
    LeaveCall,
    Presence,
    PresenceDiff,
    PresenceJoined,
    PresenceLeft,
    PresenceSynced,
    PresenceTracker,
    handle_diff,
    handle_event,
    handle_state,
    list_presences,
    sync_diff,
    sync_state,
    to_presence,
)


def meta(ref: str, **extra: Any) -> dict[str, Any]:
    return {"phx_ref": ref, **extra}


def entry(*refs: str, **extra: Any) -> dict[str, Any]:
    return {"metas": [meta(ref) for ref in refs], **extra}


def diff(
    joins: dict[str, Any] | None = None, leaves: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"joins": joins or {}, "leaves": leaves or {}}


def refs(state: dict[str, Any], key: str) -> list[str]:
    return [m["phx_ref"] for m in state[key]["metas"]]


# --- sync_state -------------------------------------------------------------------------------


def test_sync_state_from_empty_joins_every_key() -> None:
    new = {"u1": entry("1"), "u2": entry("2")}
    result = sync_state({}, new)
    assert result.state == new
    assert result.joins == [JoinCall("u1", None, new["u1"]), JoinCall("u2", None, new["u2"])]
    assert result.leaves == []


def test_sync_state_key_missing_from_new_state_leaves_whole() -> None:
    state = {"u1": entry("1"), "u2": entry("2", "3")}
    result = sync_state(state, {"u1": entry("1")})
    assert result.state == {"u1": entry("1")}
    assert result.joins == []
    assert result.leaves == [LeaveCall("u2", {"metas": []}, entry("2", "3"))]


def test_sync_state_shared_key_joins_and_leaves_by_phx_ref() -> None:
    state = {"u1": entry("1", "2")}
    result = sync_state(state, {"u1": entry("3", "2")})
    # Kept old metas first, then the joined ones (not the new state's order).
    assert refs(result.state, "u1") == ["2", "3"]
    assert result.joins == [JoinCall("u1", entry("1", "2"), entry("3"))]
    assert result.leaves == [LeaveCall("u1", entry("2", "3"), entry("1"))]


def test_sync_state_same_refs_keep_the_old_entry_like_phoenix_js() -> None:
    # phoenix.js only looks at phx_refs: a new `user` with the same metas is ignored.
    state = {"u1": entry("1", user="old")}
    result = sync_state(state, {"u1": entry("1", user="new")})
    assert result.state == state
    assert (result.joins, result.leaves) == ([], [])


def test_sync_state_does_not_mutate_its_inputs() -> None:
    state = {"u1": entry("1", "2"), "u2": entry("5")}
    new = {"u1": entry("2", "3"), "u3": entry("4")}
    state_before, new_before = copy.deepcopy(state), copy.deepcopy(new)
    result = sync_state(state, new)
    assert (state, new) == (state_before, new_before)
    assert result.state is not state


# --- sync_diff --------------------------------------------------------------------------------


def test_sync_diff_join_of_a_new_key() -> None:
    result = sync_diff({}, diff(joins={"u1": entry("1", user={"name": "ann"})}))
    assert result.state == {"u1": entry("1", user={"name": "ann"})}
    assert result.joins == [JoinCall("u1", None, entry("1", user={"name": "ann"}))]


def test_sync_diff_join_puts_old_metas_first_and_takes_the_joined_extras() -> None:
    state = {"u1": {"metas": [meta("1", at=1), meta("2", at=2)], "user": "old"}}
    result = sync_diff(state, diff(joins={"u1": {"metas": [meta("2", at=9)], "user": "new"}}))
    assert result.state == {"u1": {"metas": [meta("1", at=1), meta("2", at=9)], "user": "new"}}
    assert result.joins == [
        JoinCall("u1", state["u1"], {"metas": [meta("2", at=9)], "user": "new"})
    ]


def test_sync_diff_leave_removes_listed_refs_only() -> None:
    state = {"u1": entry("1", "2", user="ann")}
    result = sync_diff(state, diff(leaves={"u1": entry("1")}))
    assert result.state == {"u1": entry("2", user="ann")}
    assert result.leaves == [LeaveCall("u1", entry("2", user="ann"), entry("1"))]


def test_sync_diff_key_with_no_metas_left_is_deleted() -> None:
    result = sync_diff({"u1": entry("1"), "u2": entry("2")}, diff(leaves={"u1": entry("1")}))
    assert result.state == {"u2": entry("2")}
    assert result.leaves == [LeaveCall("u1", {"metas": []}, entry("1"))]


def test_sync_diff_skips_leaves_of_unknown_keys() -> None:
    result = sync_diff({"u1": entry("1")}, diff(leaves={"ghost": entry("9")}))
    assert result.state == {"u1": entry("1")}
    assert result.leaves == []


def test_sync_diff_leave_of_an_unknown_ref_still_reports_the_leave() -> None:
    result = sync_diff({"u1": entry("1")}, diff(leaves={"u1": entry("9")}))
    assert result.state == {"u1": entry("1")}
    assert result.leaves == [LeaveCall("u1", entry("1"), entry("9"))]


def test_update_with_phx_ref_prev_is_a_join_and_a_leave() -> None:
    state = {"u1": {"metas": [meta("old", status="away")]}}
    update = diff(
        joins={"u1": {"metas": [meta("new", phx_ref_prev="old", status="online")]}},
        leaves={"u1": {"metas": [meta("old", status="away")]}},
    )
    result = sync_diff(state, update)
    assert result.state == {"u1": {"metas": [meta("new", phx_ref_prev="old", status="online")]}}
    [join] = result.joins
    [leave] = result.leaves
    assert join.current == state["u1"]
    assert join.joined == update["joins"]["u1"]
    assert leave.left == update["leaves"]["u1"]
    assert leave.current == result.state["u1"]


def test_sync_diff_joins_come_before_leaves_for_the_same_key() -> None:
    # A join and leave of the same ref in one diff: the join adds it, the leave removes it.
    result = sync_diff({}, diff(joins={"u1": entry("1")}, leaves={"u1": entry("1")}))
    assert result.state == {}
    assert [c.key for c in result.joins] == ["u1"]
    assert [c.key for c in result.leaves] == ["u1"]


def test_sync_diff_does_not_mutate_its_inputs() -> None:
    state = {"u1": entry("1", "2")}
    payload = diff(joins={"u1": entry("3")}, leaves={"u1": entry("1")})
    state_before, payload_before = copy.deepcopy(state), copy.deepcopy(payload)
    sync_diff(state, payload)
    assert (state, payload) == (state_before, payload_before)


def test_keys_follow_javascript_property_order() -> None:
    # Integer-like keys first, ascending; then the rest in insertion order.
    new = {"b": entry("1"), "10": entry("2"), "a": entry("3"), "2": entry("4"), "01": entry("5")}
    result = sync_state({}, new)
    assert [c.key for c in result.joins] == ["2", "10", "b", "a", "01"]
    assert [p["metas"][0]["phx_ref"] for p in list_presences(result.state)] == [
        "4",
        "2",
        "1",
        "3",
        "5",
    ]


# --- list_presences and the Elm view ----------------------------------------------------------


def test_list_presences_default_and_chooser() -> None:
    state = {"u1": entry("1", "2"), "u2": entry("3")}
    assert list_presences(state) == [state["u1"], state["u2"]]
    assert list_presences(state, lambda key, p: (key, len(p["metas"]))) == [("u1", 2), ("u2", 1)]


def test_to_presence_keeps_user_and_the_whole_entry() -> None:
    raw = {"metas": [meta("1")], "user": {"name": "ann"}, "team": "red"}
    assert to_presence("u1", raw) == Presence("u1", [meta("1")], {"name": "ann"}, raw)
    assert to_presence("u2", entry("2")).user is None


# --- malformed payloads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([1, 2], "must be an object of presences"),
        ({"u1": 5}, r"presence state\['u1'\] must be an object"),
        ({"u1": {}}, r"\['u1'\]\.metas must be a list"),
        ({"u1": {"metas": "ab"}}, r"\['u1'\]\.metas must be a list"),
        ({"u1": {"metas": [{"x": 1}]}}, r"\['u1'\]\.metas\[0\] must be an object with a string"),
        ({"u1": {"metas": [{"phx_ref": 1}]}}, "string phx_ref"),
        ({"u1": {"metas": [7]}}, "string phx_ref"),
    ],
)
def test_malformed_state_raises_remote_protocol_error(payload: Any, words: str) -> None:
    with pytest.raises(RemoteProtocolError, match=words):
        sync_state({}, payload)
    tracker = PresenceTracker()
    with pytest.raises(RemoteProtocolError, match=words):
        handle_state(tracker, payload, "1")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (None, "presence diff must be an object"),
        ({"joins": {}}, "no leaves"),
        ({}, "no joins and no leaves"),
        ({"joins": [], "leaves": {}}, "joins must be an object"),
        ({"joins": {}, "leaves": {"u1": {"metas": [{}]}}}, r"leaves\['u1'\]\.metas\[0\]"),
    ],
)
def test_malformed_diff_raises_remote_protocol_error(payload: Any, words: str) -> None:
    with pytest.raises(RemoteProtocolError, match=words):
        sync_diff({}, payload)
    # Raised even when the diff would only be buffered.
    with pytest.raises(RemoteProtocolError, match=words):
        handle_diff(PresenceTracker(), payload, None)


# --- the tracker ------------------------------------------------------------------------------


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_state_joins_then_one_sync_and_records_the_join_ref() -> None:
    tracker, events = handle_state(PresenceTracker(), {"u1": entry("1"), "u2": entry("2")}, "7")
    assert kinds(events) == ["PresenceJoined", "PresenceJoined", "PresenceSynced"]
    assert events[0] == PresenceJoined("u1", None, to_presence("u1", entry("1")))
    assert events[-1] == PresenceSynced(tracker.presences())
    assert tracker.join_ref == "7"
    assert [p.id for p in tracker.presences()] == ["u1", "u2"]


def test_diffs_before_the_first_state_wait_and_apply_in_order_after_it() -> None:
    tracker = PresenceTracker()
    tracker, events = handle_diff(tracker, diff(joins={"u2": entry("2")}), "1")
    assert events == []
    tracker, events = handle_diff(tracker, diff(leaves={"u1": entry("1")}), "1")
    assert events == []
    assert len(tracker.pending) == 2
    assert tracker.state == {}

    tracker, events = handle_state(tracker, {"u1": entry("1")}, "1")
    assert kinds(events) == ["PresenceJoined", "PresenceJoined", "PresenceLeft", "PresenceSynced"]
    assert [e.key for e in events[:3]] == ["u1", "u2", "u1"]  # type: ignore[attr-defined]
    assert tracker.state == {"u2": entry("2")}
    assert tracker.pending == ()


def test_diff_after_the_state_of_the_current_join_applies_at_once() -> None:
    tracker, _ = handle_state(PresenceTracker(), {"u1": entry("1")}, "1")
    tracker, events = handle_diff(tracker, diff(joins={"u1": entry("2")}), "1")
    assert kinds(events) == ["PresenceJoined", "PresenceSynced"]
    assert refs(tracker.state, "u1") == ["1", "2"]


def test_diffs_after_a_rejoin_wait_for_the_new_state() -> None:
    tracker, _ = handle_state(PresenceTracker(), {"u1": entry("1")}, "1")
    # The channel rejoined: join_ref "5"; the old state is stale until the new one arrives.
    tracker, events = handle_diff(tracker, diff(joins={"u3": entry("3")}), "5")
    assert events == []
    assert tracker.state == {"u1": entry("1")}
    tracker, events = handle_state(tracker, {"u2": entry("2")}, "5")
    assert kinds(events) == ["PresenceJoined", "PresenceLeft", "PresenceJoined", "PresenceSynced"]
    assert tracker.state == {"u2": entry("2"), "u3": entry("3")}
    assert tracker.join_ref == "5"


def test_a_state_with_no_join_ref_leaves_diffs_pending() -> None:
    tracker, _ = handle_state(PresenceTracker(), {"u1": entry("1")}, None)
    tracker, events = handle_diff(tracker, diff(joins={"u2": entry("2")}), None)
    assert events == []
    assert len(tracker.pending) == 1


def test_left_event_current_is_none_when_the_key_is_gone() -> None:
    tracker, _ = handle_state(PresenceTracker(), {"u1": entry("1", "2")}, "1")
    tracker, events = handle_diff(tracker, diff(leaves={"u1": entry("1")}), "1")
    assert events[0] == PresenceLeft(
        "u1", to_presence("u1", entry("2")), to_presence("u1", entry("1"))
    )
    tracker, events = handle_diff(tracker, diff(leaves={"u1": entry("2")}), "1")
    assert events[0] == PresenceLeft("u1", None, to_presence("u1", entry("2")))
    assert tracker.presences() == []


def test_user_field_is_kept_in_state_events_and_history() -> None:
    user = {"id": 1, "name": "ann"}
    tracker, events = handle_state(PresenceTracker(), {"1": entry("a", user=user)}, "1")
    assert tracker.state["1"]["user"] == user
    assert isinstance(events[0], PresenceJoined)
    assert events[0].joined.user == user
    assert tracker.presences()[0].user == user
    assert tracker.last_join is not None
    assert tracker.last_join.user == user


def test_history_records_joins_leaves_diffs_and_lasts() -> None:
    tracker, _ = handle_state(PresenceTracker(), {"u1": entry("1")}, "1")
    payload = diff(joins={"u2": entry("2")}, leaves={"u1": entry("1")})
    tracker, _ = handle_diff(tracker, payload, "1")
    assert [p.id for p in tracker.joins] == ["u1", "u2"]
    assert [p.id for p in tracker.leaves] == ["u1"]
    assert tracker.last_join == to_presence("u2", entry("2"))
    assert tracker.last_leave == to_presence("u1", entry("1"))
    assert tracker.diffs == (
        PresenceDiff([to_presence("u2", entry("2"))], [to_presence("u1", entry("1"))]),
    )


def test_history_is_bounded_keeping_the_newest() -> None:
    tracker, _ = handle_state(PresenceTracker(history_limit=3), {}, "1")
    for i in range(10):
        payload = diff(joins={f"u{i}": entry(str(i))}, leaves={f"u{i - 1}": entry(str(i - 1))})
        tracker, _ = handle_diff(tracker, payload, "1")
    assert [p.id for p in tracker.joins] == ["u7", "u8", "u9"]
    assert [p.id for p in tracker.leaves] == ["u6", "u7", "u8"]
    assert len(tracker.diffs) == 3
    assert tracker.last_join is not None
    assert tracker.last_join.id == "u9"
    assert [p.id for p in tracker.presences()] == ["u9"]


def test_history_limit_zero_keeps_no_history_but_the_lasts() -> None:
    tracker, _ = handle_state(PresenceTracker(history_limit=0), {"u1": entry("1")}, "1")
    assert (tracker.joins, tracker.diffs) == ((), ())
    assert tracker.last_join == to_presence("u1", entry("1"))


def test_the_tracker_is_immutable_and_old_versions_stay_valid() -> None:
    first, _ = handle_state(PresenceTracker(), {"u1": entry("1")}, "1")
    second, _ = handle_diff(first, diff(joins={"u2": entry("2")}), "1")
    assert first.state == {"u1": entry("1")}
    assert set(second.state) == {"u1", "u2"}
    with pytest.raises(AttributeError):
        first.join_ref = "2"  # type: ignore[misc]


def test_handle_event_routes_default_and_custom_event_names() -> None:
    tracker = PresenceTracker()
    assert (tracker.state_event, tracker.diff_event) == (DEFAULT_STATE_EVENT, DEFAULT_DIFF_EVENT)
    custom = PresenceTracker(state_event="all", diff_event="changes")
    same, events = handle_event(custom, "presence_state", {"u1": entry("1")}, "1")
    assert (same, events) == (custom, [])
    custom, events = handle_event(custom, "all", {"u1": entry("1")}, "1")
    assert kinds(events) == ["PresenceJoined", "PresenceSynced"]
    custom, events = handle_event(custom, "changes", diff(joins={"u2": entry("2")}), "1")
    assert kinds(events) == ["PresenceJoined", "PresenceSynced"]


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"history_limit": -1}, InvalidArgumentError, "history_limit"),
        ({"history_limit": True}, InvalidTypeError, "history_limit"),
        ({"history_limit": 2.5}, InvalidTypeError, "history_limit"),
        ({"state_event": ""}, InvalidArgumentError, "state_event"),
        ({"diff_event": 3}, InvalidTypeError, "diff_event"),
    ],
)
def test_tracker_options_are_checked(
    options: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        PresenceTracker(**options)


# --- properties -------------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "1", "2", "10", "__proto__", "constructor"])
REFS = st.sampled_from([f"r{i}" for i in range(8)])


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    """A presence entry with 1-3 metas of distinct refs, maybe a user."""
    unique = draw(st.lists(REFS, min_size=1, max_size=3, unique=True))
    result: dict[str, Any] = {"metas": [meta(ref, n=draw(st.integers(0, 3))) for ref in unique]}
    if draw(st.booleans()):
        result["user"] = draw(st.integers(0, 3))
    return result


states = st.dictionaries(KEYS, entries(), max_size=5)
diffs = st.fixed_dictionaries({"joins": states, "leaves": states})


@settings(max_examples=150)
@given(states)
def test_syncing_a_state_with_itself_changes_nothing(state: dict[str, Any]) -> None:
    result = sync_state(state, state)
    assert (result.joins, result.leaves) == ([], [])
    assert result.state == state


@settings(max_examples=150)
@given(states)
def test_syncing_from_empty_joins_every_key_once(state: dict[str, Any]) -> None:
    result = sync_state({}, state)
    assert sorted(c.key for c in result.joins) == sorted(state)
    assert result.leaves == []
    assert result.state == state


@settings(max_examples=150)
@given(states, states)
def test_sync_state_ends_with_the_new_keys_and_refs(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    result = sync_state(old, new)
    assert set(result.state) == set(new)
    for key in new:
        assert sorted(refs(result.state, key)) == sorted(refs(new, key))


@settings(max_examples=150)
@given(states, st.lists(diffs, max_size=6))
def test_random_diffs_never_raise_nor_leave_an_empty_key(
    state: dict[str, Any], payloads: list[dict[str, Any]]
) -> None:
    tracker, _ = handle_state(PresenceTracker(history_limit=5), state, "1")
    for payload in payloads:
        tracker, events = handle_diff(tracker, payload, "1")
        assert isinstance(events[-1], PresenceSynced)
        assert all(entry["metas"] for entry in tracker.state.values())
        assert len(tracker.joins) <= 5


def test_diffs_held_without_a_state_are_bounded_oldest_dropped_first() -> None:
    tracker = PresenceTracker(pending_limit=3)
    for i in range(5):
        diff = {"joins": {f"u{i}": {"metas": [{"phx_ref": f"r{i}"}]}}, "leaves": {}}
        tracker, events = handle_diff(tracker, diff, "1")
        assert events == []
    assert tracker.dropped_pending == 2
    assert [next(iter(d["joins"])) for d in tracker.pending] == ["u2", "u3", "u4"]
    tracker, _ = handle_state(tracker, {}, "1")
    assert sorted(p.id for p in tracker.presences()) == ["u2", "u3", "u4"]
