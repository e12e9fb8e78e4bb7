"""Queries and channel management: socket state, queued and joined channels, batches.

Also: a join config with an events filter, AddEvents / DropEvents, JoinAll,
LeaveAll, a refused join failing its queued pushes, Disconnect and reset.
"""

from phoenix_actors import (
    AddConnectOptions,
    AddEvents,
    Batch,
    ChannelEvent,
    Client,
    Connect,
    ConnectOptions,
    Disconnect,
    DropEvents,
    DropQueuedPush,
    GetAllQueuedPushes,
    GetChannelJoined,
    GetChannelQueued,
    GetConnectionState,
    GetDisconnectReason,
    GetEndpointURL,
    GetIsConnected,
    GetJoinedChannels,
    GetProtocol,
    GetPushQueued,
    GetQueuedChannels,
    GetQueuedPushes,
    GetSocketState,
    GetSocketStateString,
    GetTopicParts,
    Join,
    JoinAll,
    JoinConfig,
    JoinError,
    JoinOk,
    Leave,
    LeaveAll,
    LeaveConfig,
    Match,
    Push,
    PushError,
    PushOk,
    SetConnectOptions,
    SetConnectParams,
    SetJoinConfig,
    SetLeaveConfig,
    SocketOpened,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder

# rejoin a refused channel after 0.2 s instead of phoenix.js's 1, 2, 5, 10 s
OPTIONS = ConnectOptions(rejoin_after=[0.2])

with LoopbackServer() as server, Client(server.url, options=OPTIONS) as client:
    recorder = EventRecorder()
    client.subscribe(recorder)

    def show_url() -> str:
        """The endpoint URL with the free port replaced, so the output is stable."""
        return str(client.ask(GetEndpointURL())).replace(str(server.port), "PORT")

    # --- configs and filters can be set before anything is joined
    client.ask(SetJoinConfig(JoinConfig(topic="room:filtered", events=["seq"])))
    client.ask(AddEvents("room:filtered", ["seq"]))

    # --- the socket, before and after connecting
    client.ask(SetConnectParams({"user_id": "quentin"}))
    client.ask(SetConnectOptions(OPTIONS))
    client.ask(AddConnectOptions(ConnectOptions(timeout=5.0)))  # overrides only the timeout
    print("state:", client.ask(GetSocketState()), "/", client.ask(GetConnectionState()))
    print("connected:", client.ask(GetIsConnected()), "protocol:", client.ask(GetProtocol()))
    print("url:", show_url())
    client.ask(Connect())
    recorder.wait_for(SocketOpened)
    print("state:", client.ask(GetSocketStateString()), "/", client.ask(GetConnectionState()))
    print("topic parts:", client.ask(GetTopicParts("room:lobby:sub")))

    # --- a refused join keeps the channel queued; its pushes wait
    refused = client.ask(Join("room:private"))
    assert isinstance(refused, JoinError)
    print("join refused:", refused.response, "rejoin in", refused.rejoin_in)
    client.tell(Push("room:private", "ping", {"n": 1}, ref="first"))
    print("queued channels:", client.ask(GetQueuedChannels()))
    print("private queued:", client.ask(GetChannelQueued("room:private")))
    print("queued pushes:", [p.ref for p in client.ask(GetQueuedPushes("room:private"))])
    print("all queued:", {t: len(ps) for t, ps in client.ask(GetAllQueuedPushes()).items()})
    print("push queued:", client.ask(GetPushQueued(Match(topic="room:private", event="ping"))))
    print("dropped from the queue:", client.ask(DropQueuedPush(Match(ref="first"))))
    # the next rejoin is refused too: pushes still queued then fail with "join_error"
    client.tell(Push("room:private", "ping", {"n": 2}, ref="second"))
    failed = recorder.wait_for(PushError, lambda e: e.push.ref == "second")
    print("queued push failed:", failed.status, failed.response)

    # --- a join config (payload, events filter) is used by the next join
    client.ask(SetJoinConfig(JoinConfig(topic="room:private", payload={"password": "secret"})))
    print("join with config:", type(client.ask(Join("room:private"))).__name__)
    client.ask(Join("room:filtered"))

    def delivered(push: Push) -> list[str]:
        """Push, then list the ChannelEvents the push caused (delivered before its PushOk)."""
        recorder.clear()
        client.ask(push)
        recorder.wait_for(PushOk, lambda e: e.push == push)  # events reach subscribers in order
        return [e.event for e in recorder.of_type(ChannelEvent)]

    seq = Push("room:filtered", "push_many", {"n": 2})
    back = Push("room:filtered", "push_back", {"event": "pushed"})
    print("only seq:", delivered(seq), delivered(back))
    client.ask(AddEvents("room:filtered", ["pushed"]))
    print("add pushed:", delivered(back))
    client.ask(DropEvents("room:filtered", ["seq"]))
    print("drop seq:", delivered(seq))

    # --- batches, JoinAll, LeaveAll
    answers = client.ask(Batch([Join("room:a"), Join("room:b")]))
    print("batch:", [type(a).__name__ for a in answers])
    answers = client.ask(Batch.with_params([(Join, ["room:c"]), (Leave, ["room:a", "room:b"])]))
    print("batch with params:", [type(a).__name__ for a in answers])
    client.ask(JoinAll(["room:x", "room:y"]))
    for topic in ("room:x", "room:y"):

        def is_topic(event: JoinOk, topic: str = topic) -> bool:
            return event.topic == topic

        recorder.wait_for(JoinOk, is_topic)
    print("joined:", sorted(client.ask(GetJoinedChannels())))
    print("room:x joined:", client.ask(GetChannelJoined("room:x")))
    client.ask(SetLeaveConfig(LeaveConfig(topic="room:x", timeout=2.0)))
    client.ask(LeaveAll())
    print("after LeaveAll:", client.ask(GetJoinedChannels()))

    # --- disconnect (keeps the configs), then disconnect and reset everything
    client.ask(Disconnect(reason="bye"))
    print("state:", client.ask(GetSocketState()), "reason:", client.ask(GetDisconnectReason()))
    client.ask(Disconnect(reset=True))
    print("after reset:", show_url())
