"""Retries: Every and Backoff against the demo ``noreply`` event, countdowns, dropping.

The demo room's ``noreply`` event never answers, so every push of it times
out. ``client.ask(Push(...))`` returns the *first* outcome; later attempts
arrive as events (here recorded with an ``EventRecorder``).
"""

from phoenix_actors import (
    Backoff,
    Client,
    DropPush,
    DropTimeoutPush,
    Every,
    GetPushCountdown,
    GetPushInFlight,
    GetPushTimedOut,
    GetPushWaiting,
    GetTimedOutPushes,
    Join,
    Match,
    Push,
    PushOk,
    PushTimeout,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

TOPIC = "room:retries"

with LoopbackServer() as server, Client(server.url, params={"user_id": "retrier"}) as client:
    recorder = EventRecorder()
    client.subscribe(recorder)
    client.ask(Join(TOPIC))

    # Every(s): retried every 0.1 s after each timeout, forever (until dropped)
    first = client.ask(Push(TOPIC, "noreply", {}, timeout=0.1, retry=Every(0.1), ref="every"))
    assert isinstance(first, PushTimeout)
    print("every: attempt", first.attempt, "timed out, retry_in", first.retry_in)
    second = recorder.wait_for(PushTimeout, lambda e: e.push.ref == "every" and e.attempt == 2)
    print("every: attempt", second.attempt, "timed out, retry_in", second.retry_in)
    print("every: dropped", client.ask(DropPush(Match(ref="every"))), "push")

    # Backoff(steps, max): 0.1 s after the first timeout, then every 30 s
    backoff = Push(TOPIC, "noreply", {}, timeout=0.1, retry=Backoff([0.1], max=30), ref="slow")
    first = client.ask(backoff)
    assert isinstance(first, PushTimeout)
    print("backoff: attempt", first.attempt, "retry_in", first.retry_in)
    second = recorder.wait_for(PushTimeout, lambda e: e.push.ref == "slow" and e.attempt == 2)
    print("backoff: attempt", second.attempt, "retry_in", second.retry_in)

    # it now waits 30 s to retry: the queries see it
    slow = Match(ref="slow")
    print("timed out:", client.ask(GetPushTimedOut(slow)))
    print("countdown:", client.ask(GetPushCountdown(slow)), "s")
    print("waiting topics:", sorted(client.ask(GetTimedOutPushes())))
    print("dropped:", client.ask(DropTimeoutPush(slow)))
    print("still waiting:", client.ask(GetPushWaiting(slow)))
    print("countdown now:", client.ask(GetPushCountdown(slow)))

    # Backoff without max: dropped once the steps are used up
    limited = Push(TOPIC, "noreply", {}, timeout=0.1, retry=Backoff([0.1]), ref="limited")
    client.tell(limited)
    last = recorder.wait_for(PushTimeout, lambda e: e.push.ref == "limited" and e.attempt == 2)
    print("limited: attempt", last.attempt, "retry_in", last.retry_in, "(dropped)")

    # a push that is answered later is "in flight" meanwhile
    client.tell(Push(TOPIC, "async_reply", {"ms": 300}, ref="later"))
    print("in flight:", client.ask(GetPushInFlight(Match(ref="later"))))
    ok = recorder.wait_for(PushOk, lambda e: e.push.ref == "later")
    print("later replied:", ok.response)
