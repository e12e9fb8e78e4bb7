"""The demo (``phoenix-actors demo``): the bundled server and three bots, as a timeline.

It starts the loopback server on a free port, then three clients (alice,
bob, carol) join ``room:lobby`` and show: presence with the ``user`` field,
pushes with replies, a broadcast, a push that times out and is retried with
a visible countdown, a bot leaving (a presence leave), and a forced
disconnect followed by the automatic reconnect and rejoin. Exits by itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from phoenix_actors.client import Client
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.messages import (
    ChannelEvent,
    ConnectOptions,
    Event,
    Every,
    GetPresenceState,
    GetPushCountdown,
    Join,
    JoinOk,
    Leave,
    Match,
    PresenceJoined,
    PresenceLeft,
    Push,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketOpened,
)
from phoenix_actors.testing.recorder import EventRecorder

__all__ = ["run"]

TOPIC = "room:lobby"
WAIT = 10.0


class Timeline:
    """Prints one line per noteworthy event, with the seconds since the start."""

    def __init__(self, out: TextIO) -> None:
        """Start the timeline now."""
        self.out = out
        self.clock = MonotonicClock()
        self.start = self.clock.now()
        self.lock = threading.Lock()
        self.closed = False
        """Set when the story is over: events of the bots shutting down are not shown."""

    def say(self, who: str, text: str) -> None:
        """Print ``text`` for ``who``."""
        with self.lock:
            self.out.write(f"{self.clock.now() - self.start:6.2f}s  {who:<6} {text}\n")
            self.out.flush()

    def watcher(self, who: str) -> Callable[[Event], None]:
        """A subscriber printing ``who``'s events."""

        def show(event: Event) -> None:
            text = _describe(event)
            if text and not self.closed:
                self.say(who, text)

        return show


def _describe(event: Event) -> str | None:
    match event:
        case SocketOpened():
            return "socket open"
        case SocketClosed(code=code, reason=reason, will_reconnect=again):
            return f"socket closed ({code} {reason!r}){', reconnecting' if again else ''}"
        case JoinOk(topic=topic, rejoin=rejoin, join_ref=join_ref):
            return f"{'rejoined' if rejoin else 'joined'} {topic} (join_ref {join_ref})"
        case PresenceJoined(presence=p, current=None):
            return f"presence: {p.id} joined as {p.user}"
        case PresenceLeft(presence=p, current=None):
            return f"presence: {p.id} left"
        case ChannelEvent(event=name, payload=payload):
            return f"got {name} {payload}"
        case PushTimeout(push=push, retry_in=retry_in):
            return f"push {push.event!r} timed out; retry in {retry_in} s"
        case PushOk(push=push, response=response) if push.event != "shout":
            return f"reply to {push.event!r}: {response}"
    return None


def _bot(name: str, url: str, timeline: Timeline) -> tuple[Client, EventRecorder]:
    options = ConnectOptions(timeout=5.0, rejoin_after=[0.2])
    client = Client(url, params={"user_id": name}, options=options)
    recorder = EventRecorder()
    client.subscribe(recorder)
    client.subscribe(timeline.watcher(name))
    return client, recorder


def run(out: TextIO | None = None) -> int:
    """Run the demo, printing its timeline to ``out``; return the exit status."""
    from phoenix_actors.server import LoopbackServer  # noqa: PLC0415 - needs the [server] extra

    timeline = Timeline(out or sys.stdout)
    with LoopbackServer() as server:
        timeline.say("server", f"listening at {server.url}")
        bots = {name: _bot(name, server.url, timeline) for name in ("alice", "bob", "carol")}
        try:
            _script(server, bots, timeline)
        finally:
            timeline.closed = True
            for client, _ in bots.values():
                client.stop()
    timeline.say("demo", "done")
    return 0


def _script(server: Any, bots: dict[str, tuple[Client, EventRecorder]], tl: Timeline) -> None:
    alice, bob, carol = (bots[n][0] for n in ("alice", "bob", "carol"))
    for client, _ in bots.values():
        client.ask(Join(TOPIC, payload={"hello": True}), timeout=WAIT)

    names = [f"{p.id} ({p.user['name']})" for p in alice.ask(GetPresenceState(TOPIC))]
    tl.say("alice", f"presence list: {', '.join(sorted(names))}")

    alice.ask(Push(TOPIC, "ping", {"n": 1}), timeout=WAIT)
    bob.tell(Push(TOPIC, "shout", {"body": "hello everyone"}))
    bots["carol"][1].wait_for(ChannelEvent, lambda e: e.event == "shout", timeout=WAIT)

    # the server drops carol's next frame: the push times out, then is retried
    server.faults.drop_next_frames(1)
    carol.tell(Push(TOPIC, "ping", {"n": 2}, timeout=1.0, retry=Every(1.0), ref="retry-me"))
    bots["carol"][1].wait_for(PushTimeout, timeout=WAIT)
    countdown = carol.ask(GetPushCountdown(Match(ref="retry-me")))
    tl.say("carol", f"countdown: retrying in {countdown} s")
    bots["carol"][1].wait_for(PushOk, lambda e: e.push.ref == "retry-me", timeout=WAIT)

    carol.ask(Leave(TOPIC), timeout=WAIT)
    bots["alice"][1].wait_for(PresenceLeft, lambda e: e.presence.id == "carol", timeout=WAIT)

    tl.say("bob", "asks the server to disconnect him")
    bob.tell(Push(TOPIC, "disconnect_me", {}))
    bots["bob"][1].wait_for(JoinOk, lambda e: e.rejoin, timeout=WAIT)
    bob.ask(Push(TOPIC, "ping", {"back": True}), timeout=WAIT)
