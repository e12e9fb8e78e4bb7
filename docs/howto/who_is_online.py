"""Who is online: build the list from PresenceSynced (on_sync), not from joins and leaves.

A user with two connections is one presence key with two metas: closing one
connection is a PresenceLeft for that meta while the user stays online.
``ch.presence.on_sync`` (the ``PresenceSynced`` event) hands over the whole
list after each change, so the view is always right. Run by the test suite;
output in ``who_is_online.out``.
"""

from __future__ import annotations

import threading

from phoenix_actors import Client, Event, Presence, PresenceLeft, PresenceSynced
from phoenix_actors.server import LoopbackServer

TOPIC = "room:online"
WAIT = 5.0


class Online:
    """The names online, from each sync's whole list; wakes waiters on change."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.cond = threading.Condition()

    def __call__(self, presences: list[Presence]) -> None:
        with self.cond:
            self.names = sorted(p.id for p in presences)
            self.cond.notify_all()

    def wait_for(self, names: list[str]) -> list[str]:
        with self.cond:
            assert self.cond.wait_for(lambda: self.names == names, WAIT), self.names
            return self.names


with LoopbackServer() as server:
    url = server.url
    with Client(url, params={"user_id": "watcher"}) as watcher:
        online = Online()
        room = watcher.channel(TOPIC)
        room.presence.on_sync(online)  # the whole list, once per state or diff
        left_events: list[PresenceLeft] = []

        def per_key(event: Event) -> None:
            if isinstance(event, PresenceLeft):
                left_events.append(event)
            elif isinstance(event, PresenceSynced) and event.topic != TOPIC:
                raise AssertionError("syncs are per topic")

        watcher.subscribe(per_key)
        room.join()
        print("online:", online.wait_for(["watcher"]))

        phone = Client(url, params={"user_id": "dana"})
        laptop = Client(url, params={"user_id": "dana"})  # the same user, twice
        phone.channel(TOPIC).join()
        laptop.channel(TOPIC).join()

        def metas(name: str) -> int:
            return sum(len(p.metas) for p in room.presence.list() if p.id == name)

        with online.cond:  # each sync wakes it: wait until both connections show
            assert online.cond.wait_for(lambda: metas("dana") == 2, WAIT)
        print("online:", online.wait_for(["dana", "watcher"]), "- dana's metas:", metas("dana"))

        phone.stop()  # one of dana's connections goes
        with online.cond:
            assert online.cond.wait_for(lambda: bool(left_events), WAIT)
        left = left_events[0]
        print("PresenceLeft for", left.presence.id, "- still there:", left.current is not None)
        print("online:", online.wait_for(["dana", "watcher"]))

        laptop.stop()  # the last one: dana is offline
        print("online:", online.wait_for(["watcher"]))
