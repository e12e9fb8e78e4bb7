"""Our presence core against npm phoenix's Presence, on hypothesis-generated sequences.

Each test draws a few batches; each batch runs in one node process
(``tests/js/presence_check.mjs``) and must match us step by step: the state,
the onJoin / onLeave calls in order with their arguments, ``Presence.list``
(whose order follows JavaScript's key order) and, for the stateful object,
the sync count and the number of pending diffs.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from phoenix_actors.protocol.presence import (
    DEFAULT_DIFF_EVENT,
    DEFAULT_STATE_EVENT,
    PresenceJoined,
    PresenceLeft,
    PresenceSynced,
    PresenceTracker,
    SyncResult,
    handle_event,
    list_presences,
    sync_diff,
    sync_state,
)
from tests.node import NODE, run_node_script

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Integer-like keys come first in JavaScript objects; "01" and 2**32 - 1 are not indices.
KEYS = ["a", "b", "1", "2", "10", "01", "user:7", "4294967295", "4294967294", "__proto__"]
REFS = [f"ref{i}" for i in range(6)]

# No shrinking: each shrink step is a node run; the assertion names the failing case.
BATCH = settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def metas(draw: st.DrawFn) -> dict[str, Any]:
    meta: dict[str, Any] = {"phx_ref": draw(st.sampled_from(REFS)), "n": draw(st.integers(0, 9))}
    if draw(st.booleans()):
        meta["phx_ref_prev"] = draw(st.sampled_from(REFS))
    return meta


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {"metas": draw(st.lists(metas(), min_size=0, max_size=3))}
    if draw(st.integers(0, 3)) == 0:
        entry["metas"] = entry["metas"] or [draw(metas())]
    if draw(st.booleans()):
        entry["user"] = draw(
            st.one_of(st.integers(0, 3), st.fixed_dictionaries({"name": st.text("xy", max_size=2)}))
        )
    if draw(st.integers(0, 4)) == 0:
        entry["extra"] = draw(st.integers(0, 3))
    return entry


presence_maps = st.dictionaries(st.sampled_from(KEYS), entries(), max_size=4)
diffs = st.fixed_dictionaries({"joins": presence_maps, "leaves": presence_maps})

static_ops = st.one_of(
    st.fixed_dictionaries({"op": st.just("state"), "payload": presence_maps}),
    st.fixed_dictionaries({"op": st.just("diff"), "payload": diffs}),
)
static_cases = st.fixed_dictionaries(
    {"kind": st.just("static"), "ops": st.lists(static_ops, min_size=1, max_size=8)}
)

EVENT_NAMES = [None, {"state": "sync_all", "diff": "sync_some"}]


@st.composite
def tracker_cases(draw: st.DrawFn) -> dict[str, Any]:
    events = draw(st.sampled_from(EVENT_NAMES))
    state_event, diff_event = (
        (DEFAULT_STATE_EVENT, DEFAULT_DIFF_EVENT)
        if events is None
        else (events["state"], events["diff"])
    )
    op = st.one_of(
        st.fixed_dictionaries(
            {"op": st.just("join_ref"), "ref": st.sampled_from([None, "", "1", "2", "3"])}
        ),
        st.fixed_dictionaries(
            {"op": st.just("event"), "event": st.just(state_event), "payload": presence_maps}
        ),
        st.fixed_dictionaries(
            {"op": st.just("event"), "event": st.just(diff_event), "payload": diffs}
        ),
        st.fixed_dictionaries(
            {"op": st.just("event"), "event": st.just("shout"), "payload": st.just({})}
        ),
    )
    return {"kind": "tracker", "events": events, "ops": draw(st.lists(op, min_size=1, max_size=10))}


def _calls(result: SyncResult) -> list[list[Any]]:
    joins = [["join", key, current, joined] for key, current, joined in result.joins]
    leaves = [["leave", key, current, left] for key, current, left in result.leaves]
    return joins + leaves


def _lists(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": list_presences(state),
        "chosen": list_presences(state, lambda key, presence: [key, len(presence["metas"])]),
    }


def _ours_static(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    state: dict[str, Any] = {}
    steps = []
    for step in ops:
        sync = sync_state if step["op"] == "state" else sync_diff
        result = sync(state, step["payload"])
        state = result.state
        steps.append({"state": state, "calls": _calls(result), **_lists(state)})
    return steps


def _ours_tracker(events: dict[str, str] | None, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tracker = (
        PresenceTracker()
        if events is None
        else PresenceTracker(state_event=events["state"], diff_event=events["diff"])
    )
    ref: str | None = None
    syncs = 0
    steps = []
    for step in ops:
        calls: list[list[Any]] = []
        if step["op"] == "join_ref":
            ref = step["ref"]
        else:
            tracker, happened = handle_event(tracker, step["event"], step["payload"], ref)
            for event in happened:
                match event:
                    case PresenceJoined(key=key, current=current, joined=joined):
                        before = None if current is None else current.presence
                        calls.append(["join", key, before, joined.presence])
                    case PresenceLeft(key=key, current=current, left=left):
                        after = None if current is None else current.presence
                        calls.append(["leave", key, after, left.presence])
                    case PresenceSynced():
                        syncs += 1
        steps.append(
            {
                "state": tracker.state,
                "calls": calls,
                "syncs": syncs,
                "pending": len(tracker.pending),
                **_lists(tracker.state),
            }
        )
    return steps


def _theirs_tracker(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """phoenix.js passes a key with no metas left to onLeave; our event says None."""
    for step in steps:
        for call in step["calls"]:
            if call[0] == "leave" and call[2]["metas"] == []:
                call[2] = None
    return steps


def _compare(cases: list[dict[str, Any]]) -> None:
    theirs = run_node_script("presence_check.mjs", {"cases": cases})["results"]
    assert len(theirs) == len(cases)
    for case, their_steps in zip(cases, theirs, strict=True):
        if case["kind"] == "static":
            ours = _ours_static(case["ops"])
        else:
            ours = _ours_tracker(case["events"], case["ops"])
            _theirs_tracker(their_steps)
        for i, (our_step, their_step) in enumerate(zip(ours, their_steps, strict=True)):
            assert our_step == their_step, (case, i)


@BATCH
@given(st.lists(static_cases, min_size=20, max_size=20))
def test_sync_state_and_sync_diff_match_phoenix_js(cases: list[dict[str, Any]]) -> None:
    _compare(cases)


@BATCH
@given(st.lists(tracker_cases(), min_size=20, max_size=20))
def test_presence_object_buffering_matches_phoenix_js(cases: list[dict[str, Any]]) -> None:
    _compare(cases)


def test_update_with_phx_ref_prev_matches_phoenix_js() -> None:
    """An update is a join of the new meta and a leave of the old one."""
    state = {"u1": {"metas": [{"phx_ref": "old", "status": "away"}], "user": {"id": 1}}}
    update = {
        "joins": {
            "u1": {
                "metas": [{"phx_ref": "new", "phx_ref_prev": "old", "status": "online"}],
                "user": {"id": 1},
            }
        },
        "leaves": {"u1": {"metas": [{"phx_ref": "old", "status": "away"}], "user": {"id": 1}}},
    }
    cases = [
        {
            "kind": "static",
            "ops": [{"op": "state", "payload": state}, {"op": "diff", "payload": update}],
        }
    ]
    _compare(cases)
