"""Unit tests without sockets: presence, routing, handshake parsing, faults."""

from __future__ import annotations

import base64
import itertools
import re

import pytest

from phoenix_actors.errors import InvalidArgumentError
from phoenix_actors.protocol.frames import V1JSONSerializer, V2JSONSerializer
from phoenix_actors.server import Channel, Faults, PresenceTracker, Router
from phoenix_actors.server.demo import demo_fetch
from phoenix_actors.server.handshake import (
    HandshakeError,
    negotiate_serializer,
    parse_subprotocols,
)
from phoenix_actors.server.presence import apply_fetch, new_phx_ref


def counter_refs() -> PresenceTracker:
    counter = itertools.count(1)
    return PresenceTracker(make_ref=lambda: f"r{next(counter)}")


# -- presence ------------------------------------------------------------------------


def test_phx_ref_is_16_urlsafe_base64_chars_and_unique() -> None:
    refs = {new_phx_ref() for _ in range(200)}
    assert len(refs) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", r) for r in refs)


def test_track_returns_a_join_diff_and_lists_the_meta() -> None:
    tracker = counter_refs()
    diff = tracker.track("room:a", "owner1", "u1", {"online_at": 1})
    assert diff.payload() == {
        "joins": {"u1": {"metas": [{"online_at": 1, "phx_ref": "r1"}]}},
        "leaves": {},
    }
    assert tracker.list("room:a") == {"u1": {"metas": [{"online_at": 1, "phx_ref": "r1"}]}}
    assert tracker.list("room:b") == {}


def test_two_owners_same_key_list_both_metas_oldest_first() -> None:
    tracker = counter_refs()
    tracker.track("t", "o1", "u1", {"n": 1})
    tracker.track("t", "o2", "u1", {"n": 2})
    assert [m["n"] for m in tracker.list("t")["u1"]["metas"]] == [1, 2]


def test_track_twice_by_the_same_owner_is_an_error() -> None:
    tracker = counter_refs()
    tracker.track("t", "o1", "u1", {})
    with pytest.raises(InvalidArgumentError, match="already tracked"):
        tracker.track("t", "o1", "u1", {})


def test_update_is_a_join_with_phx_ref_prev_and_a_leave_of_the_old_meta() -> None:
    tracker = counter_refs()
    tracker.track("t", "o1", "u1", {"status": "away"})
    diff = tracker.update("t", "o1", "u1", lambda old: {**old, "status": "here"})
    assert diff.joins == {
        "u1": {"metas": [{"status": "here", "phx_ref": "r2", "phx_ref_prev": "r1"}]}
    }
    assert diff.leaves == {"u1": {"metas": [{"status": "away", "phx_ref": "r1"}]}}
    assert tracker.list("t")["u1"]["metas"] == [
        {"status": "here", "phx_ref": "r2", "phx_ref_prev": "r1"}
    ]
    # a second update builds on the bare meta, not on the old refs
    diff = tracker.update("t", "o1", "u1", {"status": "gone"})
    assert diff.joins["u1"]["metas"][0] == {"status": "gone", "phx_ref": "r3", "phx_ref_prev": "r2"}


def test_update_of_an_untracked_key_is_an_error() -> None:
    with pytest.raises(InvalidArgumentError, match="not tracked"):
        counter_refs().update("t", "o1", "u1", {})


def test_untrack_leaves_and_empty_topics_disappear() -> None:
    tracker = counter_refs()
    tracker.track("t", "o1", "u1", {})
    diff = tracker.untrack("t", "o1", "u1")
    assert diff.leaves == {"u1": {"metas": [{"phx_ref": "r1"}]}}
    assert tracker.list("t") == {}
    assert tracker.topics() == ()
    assert not tracker.untrack("t", "o1", "u1")  # nothing left: an empty diff


def test_untrack_owner_leaves_everywhere_one_diff_per_topic() -> None:
    tracker = counter_refs()
    tracker.track("a", "o1", "u1", {})
    tracker.track("a", "o1", "u2", {})
    tracker.track("b", "o1", "u1", {})
    tracker.track("b", "o2", "u3", {})
    diffs = {d.topic: d for d in tracker.untrack_owner("o1")}
    assert set(diffs) == {"a", "b"}
    assert set(diffs["a"].leaves) == {"u1", "u2"}
    assert set(diffs["b"].leaves) == {"u1"}
    assert not diffs["a"].joins
    assert tracker.list("b") == {"u3": {"metas": [{"phx_ref": "r4"}]}}
    assert tracker.untrack_owner("o1") == []


def test_fetch_hook_adds_user_beside_metas() -> None:
    presences = {"u1": {"metas": [{"phx_ref": "x"}]}}
    assert apply_fetch(demo_fetch, "t", presences) == {
        "u1": {"metas": [{"phx_ref": "x"}], "user": {"name": "user-u1"}}
    }
    assert apply_fetch(None, "t", presences) is presences
    assert apply_fetch(demo_fetch, "t", {}) == {}


# -- routing -----------------------------------------------------------------------------


class A(Channel):
    pass


class B(Channel):
    pass


def test_router_exact_and_prefix_patterns_first_match_wins() -> None:
    router = Router({"room:lobby": A, "room:*": B, "other": A})
    assert router.match("room:lobby") is A
    assert router.match("room:42") is B
    assert router.match("room:") is B
    assert router.match("other") is A
    assert router.match("other:x") is None
    assert router.match("roo") is None
    assert Router({"room:*": B, "room:lobby": A}).match("room:lobby") is B


def test_router_rejects_a_star_that_is_not_last() -> None:
    with pytest.raises(InvalidArgumentError):
        Router({"room:*:x": A})


# -- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vsn", "kind"),
    [
        (None, V1JSONSerializer),
        ("1.0.0", V1JSONSerializer),
        ("2.0.0", V2JSONSerializer),
        ("2.0.7", V2JSONSerializer),
    ],
)
def test_serializer_versions_accepted(vsn: str | None, kind: type) -> None:
    assert type(negotiate_serializer(vsn)) is kind


@pytest.mark.parametrize("vsn", ["2.1.0", "3.0.0", "2.0", "x", "", "1.0.0.0", "2.0.x"])
def test_serializer_versions_refused(vsn: str) -> None:
    with pytest.raises(HandshakeError):
        negotiate_serializer(vsn)


def test_subprotocols_token_is_standard_base64_without_padding() -> None:
    token = "tok+/?é"  # standard base64 of this has '+' or '/' and padding
    encoded = base64.b64encode(token.encode()).decode().rstrip("=")
    header = f"phoenix, base64url.bearer.phx.{encoded}"
    assert parse_subprotocols(header) == (token, "phoenix")
    assert parse_subprotocols("phoenix") == (None, "phoenix")
    assert parse_subprotocols(None) == (None, None)


@pytest.mark.parametrize(
    "header",
    [
        "base64url.bearer.phx.dG9r",
        "chat",
        "",
        "phoenix2, base64url.bearer.phx.dG9r",
        "phoenix, base64url.bearer.phx.!!!",
    ],
)
def test_subprotocols_without_an_acceptable_entry_are_refused(header: str) -> None:
    with pytest.raises(HandshakeError):
        parse_subprotocols(header)


# -- faults -----------------------------------------------------------------------------------


def test_faults_counters_and_reset() -> None:
    faults = Faults()
    assert not faults.take_reply_drop()
    assert not faults.take_frame_drop()
    faults.drop_replies(2)
    assert [faults.take_reply_drop() for _ in range(3)] == [True, True, False]
    faults.drop_replies()
    assert all(faults.take_reply_drop() for _ in range(5))
    faults.drop_next_frames(1)
    assert [faults.take_frame_drop() for _ in range(2)] == [True, False]
    faults.delay_replies(0.5)
    faults.stop_heartbeats()
    assert faults.reply_delay == 0.5
    assert faults.heartbeats_stopped
    faults.reset()
    assert (faults.reply_delay, faults.heartbeats_stopped, faults.take_reply_drop()) == (
        0.0,
        False,
        False,
    )


def test_faults_validate_and_need_a_server_for_actions() -> None:
    faults = Faults()
    with pytest.raises(InvalidArgumentError):
        faults.drop_next_frames(-1)
    with pytest.raises(InvalidArgumentError):
        faults.delay_replies(-1)
    with pytest.raises(RuntimeError):
        faults.close_all(1000)
