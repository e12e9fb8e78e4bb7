"""Embedding in an actor system: a pykka actor subscribed to the client's events.

``client.subscribe(actor_ref)`` makes the event bus ``tell`` the actor every
event, so the actor handles them on its own thread, one at a time, and may
itself ``tell`` the client commands (here: answer every ``shout`` with a push).
"""

from typing import Any

import pykka

from phoenix_actors import ChannelEvent, Client, Event, Join, Push, PushOk
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

TOPIC = "room:actors"


class GetSeen:
    """Ask the greeter what it has seen."""


class Greeter(pykka.ThreadingActor):
    """Counts events by type and answers shouts."""

    def __init__(self, client: Client) -> None:
        """Keep the client to send commands with."""
        super().__init__()
        self.client = client
        self.seen: dict[str, int] = {}

    def on_receive(self, message: Any) -> Any:
        """Events arrive here by tell; GetSeen by ask."""
        if isinstance(message, GetSeen):
            return dict(sorted(self.seen.items()))
        if isinstance(message, Event):
            name = type(message).__name__
            self.seen[name] = self.seen.get(name, 0) + 1
            if isinstance(message, ChannelEvent) and message.event == "shout":
                # never ask from inside an actor: tell, and get the outcome as an event
                self.client.tell(Push(TOPIC, "ping", {"heard": message.payload["body"]}))
        return None


with LoopbackServer() as server, Client(server.url, params={"user_id": "actor"}) as client:
    greeter = Greeter.start(client)
    unsubscribe = client.subscribe(greeter)
    recorder = EventRecorder()
    client.subscribe(recorder)

    client.ask(Join(TOPIC))
    client.tell(Push(TOPIC, "shout", {"body": "hello"}))
    answer = recorder.wait_for(PushOk, lambda e: e.push.event == "ping")
    print("the greeter answered:", answer.response)

    # the PushOk was told to the greeter before our wait returned: its count is in
    seen: dict[str, int] = greeter.ask(GetSeen(), block=True)
    print("greeter saw:", {k: v for k, v in seen.items() if k in ("ChannelEvent", "PushOk")})
    unsubscribe()
    greeter.stop()
