"""Quick start: join a room, push, read presence, on the bundled loopback server."""

from phoenix_actors import Backoff, Client, GetPresenceState, Join, JoinOk, Push, PushOk
from phoenix_actors.server import LoopbackServer

with LoopbackServer() as server, Client(server.url, params={"user_id": "bot"}) as client:
    joined = client.ask(Join("room:lobby", payload={"name": "bot"}))
    assert isinstance(joined, JoinOk)
    print("joined:", joined.response)

    reply = client.ask(Push("room:lobby", "ping", {"n": 1}))
    assert isinstance(reply, PushOk)
    print("reply:", reply.response)

    # fire and forget: retried after 1, 5, 10 s, then every 30 s, if it times out
    client.tell(Push("room:lobby", "shout", {"body": "hi"}, retry=Backoff([1, 5, 10], max=30)))

    for presence in client.ask(GetPresenceState("room:lobby")):
        print("present:", presence.id, presence.user)
