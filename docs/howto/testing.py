"""Testing without a server or real time: FakeClock and MemoryNetwork.

The test plays the server on an in-memory transport (``MemoryNetwork``) and
moves time by hand (``FakeClock``): a join is answered by hand, and a push
times out, and is retried, only when the test advances the clock. Then a
crash is injected into the socket actor, to see what supervision restores.
"""

from phoenix_actors import (
    Client,
    Every,
    InternalError,
    Join,
    JoinOk,
    Push,
    PushOk,
    PushTimeout,
    SocketClosed,
)
from phoenix_actors.testing import EventRecorder, FakeClock, MemoryNetwork, crash

clock = FakeClock()
network = MemoryNetwork(auto_accept=True)  # every connection opens at once

with Client("ws://phoenix.test/socket", clock=clock, transport=network) as client:
    recorder = EventRecorder()
    client.subscribe(recorder)

    client.tell(Join("room:lobby"))
    server = network.wait_for_transport()
    join = server.expect_join("room:lobby")
    print("client sent:", join.event, "on", join.topic, "payload", join.payload)
    server.reply(join, response={"hello": "world"})
    print("joined:", recorder.wait_for(JoinOk).response)

    client.tell(Push("room:lobby", "ping", {"n": 1}, timeout=5, retry=Every(10)))
    first = server.expect_push("room:lobby", "ping")
    print("pushed:", first.payload)

    clock.advance(5)  # the reply timeout passes: no real waiting
    timeout = recorder.wait_for(PushTimeout)
    print("timed out, attempt", timeout.attempt, "retry in", timeout.retry_in)

    clock.advance(10)  # the retry is due: the push goes out again, with a new ref
    again = server.expect_push("room:lobby", "ping")
    print("retried with a new ref:", again.ref != first.ref)
    server.reply(again, response={"pong": 1})
    print("reply:", recorder.wait_for(PushOk).response, "at t =", clock.now())

    # --- crash injection: the socket actor fails as a bug would; the supervisor
    # restarts it, the channel is told the connection is gone and rejoins
    crash(client, "socket")
    print("reported:", recorder.wait_for(InternalError).reason)
    print("closed:", recorder.wait_for(SocketClosed).reason)
    server = network.wait_for_transport()  # the restarted socket connects again
    rejoin = server.expect_join("room:lobby")
    print("rejoined with a fresh join_ref:", rejoin.join_ref != join.join_ref)
    server.reply(rejoin)
    print("rejoin ok:", recorder.wait_for(JoinOk).rejoin)
