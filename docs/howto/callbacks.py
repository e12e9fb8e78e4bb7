"""Callbacks and threads: what runs where, what a callback may do, backlog policies.

Run by the test suite against the bundled loopback server; its output is
stored in ``callbacks.out``.
"""

from __future__ import annotations

import threading

from phoenix_actors import (
    ChannelEvent,
    Client,
    ClientClosedError,
    Event,
    EventsDropped,
    GetJoinedChannels,
    Join,
    JoinOk,
    Push,
    PushOk,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

WAIT = 5.0

with LoopbackServer() as server, Client(server.url) as client:
    done = EventRecorder()
    client.subscribe(done)

    # --- a callback runs on the client's event thread, never on an actor thread
    def on_join(event: Event) -> None:
        if isinstance(event, JoinOk):
            # so it may ask (and wait): the actors are free to answer
            joined = client.ask(GetJoinedChannels(), timeout=WAIT)
            print("thread:", threading.current_thread().name.removeprefix(client.name + "-"))
            print("joined, as the callback sees it:", joined)

    client.subscribe(on_join)
    client.ask(Join("room:lobby"))
    done.wait_for(JoinOk, timeout=WAIT)

    # --- it may tell: answer every "pushed" event with a push of our own
    def echo(event: Event) -> None:
        if isinstance(event, ChannelEvent) and event.event == "pushed":
            client.tell(Push("room:lobby", "ping", {"echo": event.payload}))

    client.subscribe(echo)
    client.ask(Push("room:lobby", "push_back", {"event": "pushed", "payload": {"n": 7}}))
    echoed = done.wait_for(PushOk, lambda e: e.push.event == "ping", timeout=WAIT)
    print("echoed:", echoed.response)

    # --- a slow subscriber has a bounded backlog; overflows are reported to it
    release = threading.Event()
    drained = threading.Event()
    slow_seen: list[Event] = []

    def slow(event: Event) -> None:
        assert release.wait(WAIT)  # stuck until released: events pile up in its backlog
        slow_seen.append(event)
        if isinstance(event, PushOk) and event.response == {"marker": True}:
            drained.set()

    client.subscribe(slow, backlog=10, overflow="drop_oldest")
    client.ask(Push("room:lobby", "push_many", {"n": 200}))  # 200 events, then its reply
    client.ask(Push("room:lobby", "ping", {"marker": True}))
    release.set()
    assert drained.wait(WAIT)  # events arrive in order: the marker's PushOk comes last
    dropped = [e for e in slow_seen if isinstance(e, EventsDropped)]
    got, lost = len(slow_seen) - len(dropped), sum(e.count for e in dropped)
    print("slow subscriber: received + dropped =", got + lost, "(200 events, 2 replies)")
    print("dropped some:", lost > 0, "policy:", dropped[0].policy, "backlog kept:", got <= 10 + 2)

    # --- and it may stop the client: that callback is the last one to run
    stopped = threading.Event()

    def stop_on_shout(event: Event) -> None:
        if isinstance(event, ChannelEvent) and event.event == "shout":
            client.stop()
            stopped.set()

    client.subscribe(stop_on_shout)
    client.tell(Push("room:lobby", "shout", {"body": "bye"}))
    assert stopped.wait(WAIT)
    try:
        client.ask(GetJoinedChannels())
    except ClientClosedError:
        print("stopped from a callback")
