"""Presence end to end: state, joins and leaves of other clients, diffs, meta updates."""

from __future__ import annotations

from phoenix_actors import (
    GetLastPresenceJoin,
    GetLastPresenceLeave,
    GetPresenceDiffs,
    GetPresenceJoins,
    GetPresenceLeaves,
    GetPresenceState,
    Join,
    JoinOk,
    Leave,
    LeaveOk,
    Presence,
    PresenceDiffReceived,
    PresenceJoined,
    PresenceLeft,
    PresenceStateReceived,
    Push,
    PushOk,
)
from phoenix_actors.server import LoopbackServer
from tests.integration.conftest import WAIT, MakeClient, Session, settle

ROOM = "room:presence"


def join_as(connect: MakeClient, user: str) -> Session:
    s = connect(params={"user_id": user})
    assert isinstance(s.client.ask(Join(ROOM), timeout=WAIT), JoinOk)
    s.events.wait_for(PresenceStateReceived, timeout=WAIT)
    return s


def ids(presences: list[Presence]) -> set[str]:
    return {p.id for p in presences}


def test_presence_state_lists_ourselves_with_the_fetched_user(connect: MakeClient) -> None:
    s = join_as(connect, "alice")
    state = s.client.ask(GetPresenceState(ROOM))
    assert ids(state) == {"alice"}
    (me,) = state
    assert me.user == {"name": "user-alice"}
    assert me.presence["user"] == {"name": "user-alice"}
    assert len(me.metas) == 1
    assert isinstance(me.metas[0]["online_at"], int)
    assert "phx_ref" in me.metas[0]


def test_another_client_joining_is_a_presence_join(connect: MakeClient) -> None:
    a = join_as(connect, "alice")
    join_as(connect, "bob")
    joined = a.events.wait_for(PresenceJoined, lambda e: e.presence.id == "bob", timeout=WAIT)
    assert joined.topic == ROOM
    assert joined.current is None
    assert joined.presence.user == {"name": "user-bob"}
    assert ids(a.client.ask(GetPresenceState(ROOM))) == {"alice", "bob"}
    last = a.client.ask(GetLastPresenceJoin(ROOM))
    assert isinstance(last, Presence)
    assert last.id == "bob"
    assert "bob" in ids(a.client.ask(GetPresenceJoins(ROOM)))
    diff = a.events.wait_for(
        PresenceDiffReceived, lambda e: "bob" in ids(e.diff.joins), timeout=WAIT
    )
    assert diff.diff.leaves == []


def test_another_client_leaving_is_a_presence_leave(connect: MakeClient) -> None:
    a = join_as(connect, "alice")
    b = join_as(connect, "bob")
    a.events.wait_for(PresenceJoined, lambda e: e.presence.id == "bob", timeout=WAIT)
    assert b.client.ask(Leave(ROOM), timeout=WAIT) == LeaveOk(topic=ROOM)
    left = a.events.wait_for(PresenceLeft, lambda e: e.presence.id == "bob", timeout=WAIT)
    assert left.topic == ROOM
    assert left.presence.user == {"name": "user-bob"}
    assert ids(a.client.ask(GetPresenceState(ROOM))) == {"alice"}
    last = a.client.ask(GetLastPresenceLeave(ROOM))
    assert isinstance(last, Presence)
    assert last.id == "bob"
    assert ids(a.client.ask(GetPresenceLeaves(ROOM))) == {"bob"}
    diffs = a.client.ask(GetPresenceDiffs(ROOM))
    assert ids(diffs[-1].leaves) == {"bob"}
    assert diffs[-1].joins == []


def test_no_presence_leave_before_anyone_leaves(connect: MakeClient) -> None:
    a = join_as(connect, "alice")
    assert a.client.ask(GetLastPresenceLeave(ROOM)) is None
    assert a.client.ask(GetPresenceLeaves(ROOM)) == []


def test_update_meta_is_a_leave_and_a_join_of_the_same_presence(
    connect: MakeClient, server: LoopbackServer
) -> None:
    a = join_as(connect, "alice")
    reply = a.client.ask(Push(ROOM, "update_meta", {"status": "away"}), timeout=WAIT)
    assert isinstance(reply, PushOk)
    assert reply.response == {"updated": True}
    diff = a.events.wait_for(PresenceDiffReceived, lambda e: bool(e.diff.leaves), timeout=WAIT)
    assert ids(diff.diff.joins) == ids(diff.diff.leaves) == {"alice"}
    assert diff.diff.joins[0].metas[0]["status"] == "away"
    a.events.wait_for(PresenceLeft, lambda e: e.presence.id == "alice", timeout=WAIT)
    (me,) = a.client.ask(GetPresenceState(ROOM))
    assert [m.get("status") for m in me.metas] == ["away"]
    assert server.presence_list(ROOM)["alice"]["metas"][0]["status"] == "away"


def test_presence_of_a_left_channel_is_forgotten(connect: MakeClient) -> None:
    a = join_as(connect, "alice")
    a.client.ask(Leave(ROOM), timeout=WAIT)
    # the supervisor forgets the topic after the leave is answered: wait for it
    settle(a.client)
    assert a.client.ask(GetPresenceState(ROOM)) == []
