"""Presence: two clients in one room; state, joins, leaves and the ``user`` field.

The demo server tracks every user who joins a ``room:*`` topic and its
``fetch/2`` hook adds ``{"user": {"name": "user-<id>"}}`` to each entry,
which shows up as :attr:`Presence.user`.
"""

from phoenix_actors import (
    Client,
    GetLastPresenceJoin,
    GetLastPresenceLeave,
    GetPresenceDiffs,
    GetPresenceJoins,
    GetPresenceLeaves,
    GetPresenceState,
    Join,
    Leave,
    PresenceJoined,
    PresenceLeft,
    PresenceStateReceived,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

TOPIC = "room:presence"

with (
    LoopbackServer() as server,
    Client(server.url, params={"user_id": "alice"}) as alice,
    Client(server.url, params={"user_id": "bob"}) as bob,
):
    seen = EventRecorder()
    alice.subscribe(seen)

    alice.ask(Join(TOPIC))
    seen.wait_for(PresenceStateReceived, lambda e: e.topic == TOPIC)

    bob.ask(Join(TOPIC))
    joined = seen.wait_for(PresenceJoined, lambda e: e.presence.id == "bob")
    print("alice saw", joined.presence.id, "join, user =", joined.presence.user)
    print("meta keys:", sorted(joined.presence.metas[0]))

    for presence in alice.ask(GetPresenceState(TOPIC)):
        print("present:", presence.id, presence.user)
    last = alice.ask(GetLastPresenceJoin(TOPIC))
    print("last join:", last and last.id)
    print("joined so far:", sorted({p.id for p in alice.ask(GetPresenceJoins(TOPIC))}))

    bob.ask(Leave(TOPIC))
    left = seen.wait_for(PresenceLeft, lambda e: e.presence.id == "bob")
    print("alice saw", left.presence.id, "leave; anything left of bob:", left.current)

    gone = alice.ask(GetLastPresenceLeave(TOPIC))
    print("last leave:", gone and gone.id, gone and gone.user)
    print("left so far:", [p.id for p in alice.ask(GetPresenceLeaves(TOPIC))])
    diffs = alice.ask(GetPresenceDiffs(TOPIC))
    print("last diff leaves:", [p.id for p in diffs[-1].leaves])
