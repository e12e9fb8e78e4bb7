"""The lifecycle events a subscriber sees, each caused on purpose against the loopback server."""

from typing import Any

from phoenix_actors import (
    ChannelClosed,
    ChannelErrored,
    Client,
    ConnectOptions,
    EventRecorder,
    InternalError,
    Join,
    JoinOk,
    JoinTimeout,
    PresenceDiffReceived,
    Push,
    SocketClosed,
    SocketState,
    SocketStateChanged,
)
from phoenix_actors.server import Channel, ChannelSocket, LoopbackServer, Ok, Reply
from phoenix_actors.server.demo import demo_connect, demo_fetch, demo_routes, demo_socket_id


class BrokenPresence(Channel):
    """A channel whose presence_diff is malformed: the client reports an InternalError."""

    async def join(self, topic: str, payload: Any, socket: ChannelSocket) -> Ok:
        """Accept everyone."""
        del topic, payload, socket
        return Ok({})

    async def handle_in(self, event: str, payload: Any, socket: ChannelSocket) -> Reply:
        """Push a diff whose joins is not a map, then reply ok."""
        del event, payload
        socket.push("presence_diff", {"joins": "nobody", "leaves": {}})
        return Reply("ok", {})


routes = {**demo_routes(), "broken:*": BrokenPresence}
options = ConnectOptions(rejoin_after=[0.05], reconnect_after=[0.05], timeout=1.0)

demo_hooks: dict[str, Any] = {
    "connect": demo_connect,
    "socket_id": demo_socket_id,
    "presence_fetch": demo_fetch,
}

with LoopbackServer(routes, **demo_hooks) as server:
    events = EventRecorder()
    with Client(server.url, params={"user_id": "watcher"}, options=options) as client:
        client.subscribe(events)
        client.ask(Join("room:events"))
        state = events.wait_for(SocketStateChanged, lambda e: e.state is SocketState.CONNECTED)
        print("socket state:", state.state)

        # a second user joins: the diff arrives as PresenceDiffReceived
        with Client(server.url, params={"user_id": "visitor"}) as other:
            other.ask(Join("room:events"))
            diff = events.wait_for(
                PresenceDiffReceived, lambda e: any(p.id == "visitor" for p in e.diff.joins)
            )
            print("presence diff joins:", [p.id for p in diff.diff.joins])

        # the server drops the reply to the next join: JoinTimeout, then a rejoin
        server.faults.drop_replies(1)
        client.tell(Join("room:slowjoin", timeout=0.2))
        timeout = events.wait_for(JoinTimeout)
        print("join timed out on", timeout.topic, "- rejoin in", timeout.rejoin_in, "s")
        events.wait_for(JoinOk, lambda e: e.topic == "room:slowjoin")

        # a handler crash: ChannelErrored, then an automatic rejoin
        client.tell(Push("room:events", "crash", {}))
        errored = events.wait_for(ChannelErrored)
        print("channel errored:", errored.payload)
        rejoined = events.wait_for(JoinOk, lambda e: e.topic == "room:events" and e.rejoin)
        print("rejoined:", rejoined.topic)

        # the server stops the channel: ChannelClosed, no rejoin
        client.ask(Push("room:events", "stop", {}))
        print("channel closed:", events.wait_for(ChannelClosed).topic)

        # the server disconnects this user: SocketClosed (1001), then a reconnect
        client.tell(Push("room:slowjoin", "disconnect_me", {}))
        closed = events.wait_for(SocketClosed)
        print("socket closed:", closed.code, "reconnecting:", closed.will_reconnect)

        # a malformed presence diff from the server becomes an InternalError event
        client.ask(Join("broken:1"))
        client.ask(Push("broken:1", "go", {}))
        print("internal error on", events.wait_for(InternalError).topic)
