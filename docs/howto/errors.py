"""The error tree in action: what raises at the call site, and what arrives as a value."""

from phoenix_actors import (
    AskTimeoutError,
    Backoff,
    Client,
    ClientClosedError,
    ClientFailed,
    Clock,
    Command,
    ConnectError,
    ConnectionLostError,
    ConnectOptions,
    ConnectParams,
    Drop,
    Event,
    FrameError,
    GetSocketState,
    InvalidArgumentError,
    InvalidTypeError,
    Join,
    Leave,
    LeaveOk,
    LocalProtocolError,
    MonotonicClock,
    PayloadTooLargeError,
    PhoenixError,
    PhoenixMsg,
    PresenceDiff,
    ProtocolError,
    Push,
    PushError,
    Query,
    RemoteProtocolError,
    RetryStrategy,
    Schedule,
    TransportError,
    __version__,
    topic_parts,
)
from phoenix_actors.protocol.frames import V2JSONSerializer
from phoenix_actors.server import LoopbackServer

print("phoenix_actors", __version__.count(".") == 2)

# --- bad input raises at the call site, before anything is queued, naming the field
for make in (
    lambda: Push(1, "ping"),  # type: ignore[arg-type]
    lambda: Join(""),
    lambda: Push("room:a", "ping", payload=object()),
    lambda: Push("room:a", "ping", timeout=-1),
    lambda: Backoff([], None),
    lambda: ConnectOptions(vsn="3.0.0"),  # type: ignore[arg-type]
    lambda: Push("room:" + "x" * 300, "ping", payload=b"\x00"),
):
    try:
        make()
    except (InvalidTypeError, InvalidArgumentError, LocalProtocolError) as exc:
        print(type(exc).__name__ + ":", str(exc).split(":")[0])

# --- protocol errors: bytes that are not a frame, and the abstract base
try:
    V2JSONSerializer().decode(b"not a frame")
except FrameError as exc:
    print("FrameError is a RemoteProtocolError:", isinstance(exc, RemoteProtocolError))
try:
    ProtocolError("abstract")
except TypeError:
    print("ProtocolError is abstract")

# --- the tree: catch PhoenixError for everything of ours
for kind in (ConnectError, ConnectionLostError, PayloadTooLargeError, AskTimeoutError):
    print(kind.__name__, "is a PhoenixError:", issubclass(kind, PhoenixError))
print("ConnectError is a TransportError:", issubclass(ConnectError, TransportError))

# --- the vocabulary's bases, and types used in annotations
strategy: RetryStrategy = Drop()  # the default: a timed-out push is not retried
schedule: Schedule = [0.5, 1.0, 2.0]  # reconnect_after / rejoin_after: the last step repeats
params: ConnectParams = {"user_id": "errors-demo"}
clock: Clock = MonotonicClock()
print(
    "Push is a Command:",
    issubclass(Push, Command),
    "| GetSocketState is a Query:",
    issubclass(GetSocketState, Query),
    "| all are PhoenixMsg:",
    issubclass(Event, PhoenixMsg),
)
print("topic parts:", topic_parts("room:lobby:1"), "| empty diff:", PresenceDiff([], []))

# --- outcomes are values; a stopped client raises ClientClosedError
with LoopbackServer() as server:
    options = ConnectOptions(reconnect_after=schedule, timeout=0.5)
    client = Client(server.url, params=params, options=options)
    client.ask(Join("room:errors"))
    refused = client.ask(Push("room:errors", "error_reply", {}, retry=strategy))
    assert isinstance(refused, PushError)
    print("a refused push is a value:", refused.status, refused.response)
    try:
        client.ask(Push("room:errors", "slow", {"ms": 2000}), timeout=0.1)
    except AskTimeoutError:
        print("the ask's own wait expired: AskTimeoutError (the push itself still runs)")
    print("leave:", isinstance(client.ask(Leave("room:errors")), LeaveOk))
    client.stop()
    try:
        client.ask(GetSocketState())
    except ClientClosedError:
        print("after stop: ClientClosedError")

# ClientFailed is an event, not an exception: the supervisor gave up restarting actors
print("ClientFailed is an Event:", issubclass(ClientFailed, Event), "| clock ok:", clock.now() > 0)
