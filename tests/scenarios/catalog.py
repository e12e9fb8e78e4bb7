"""The scenarios both clients play (see :mod:`tests.scenarios.model` for the vocabulary).

Every scenario starts with ``Connect`` and waits for ``("open",)``; every
wait is for an event, with a deadline. Schedules are short (50 ms rejoin
and reconnect, 2 s default timeout) so the whole catalogue runs in seconds.
"""

from __future__ import annotations

from typing import Final

from tests.scenarios.model import (
    ANY,
    Allow,
    Connect,
    Disconnect,
    Fault,
    Join,
    Leave,
    Pattern,
    Push,
    Scenario,
    Server,
    Step,
    Wait,
)

A: Final = "room:a"
B: Final = "room:b"
OPEN: Final = ("open",)
JOINED_A: Final = ("join", A, "ok")
JOINED_B: Final = ("join", B, "ok")
TRANSPORT_CLOSED: Final = {"source": "transport", "reason": "connection_closed"}
HEARTBEAT_TIMEOUT: Final = {"source": "transport", "reason": "heartbeat_timeout"}
TRANSPORT_ERROR: Final = {"source": "transport", "reason": "connection_error"}
PLUS_TOKEN: Final = "s3cr3t??>>~~"
"""Standard base64 ``czNjcjN0Pz8+Pn5+``: a ``+`` (urlsafe base64 would have ``-``)."""
SLASH_PLUS_TOKEN: Final = "s3cr3t???>>>~~~"
"""Standard base64 ``czNjcjN0Pz8/Pj4+fn5+``: a ``/`` and a ``+``. phoenix.js cannot offer it
as a subprotocol (``/`` is not a token character; see ``test_auth_token_subprotocol.py``),
so only long-poll, which sends the token in a header, carries it in a scenario."""
PROTOCOL_ERROR_CODE: Final = "A protocol error is reported with the close code the client sent"
CHANNEL_LIMIT: Final = 100
"""Phoenix 1.8.9+: channels one socket may join."""


def opened_and_joined(topic: str = A, payload: dict[str, object] | None = None) -> tuple[Step, ...]:
    """Connect, wait for the socket, join ``topic``, wait for the ok."""
    return (
        Connect(),
        Wait(OPEN),
        Join(topic, payload or {}),
        Wait(("join", topic, "ok")),
    )


def recovered(opens: int = 2, joins: int = 2) -> tuple[Step, ...]:
    """Wait for the reopen and the rejoin, then ask who we are (the join_ref must be current)."""
    return (
        Wait(OPEN, opens),
        Wait(JOINED_A, joins),
        Push(A, "whoami"),
        Wait(("push", A, "whoami")),
    )


WHOAMI_CURRENT: Final = ("push", A, "whoami", "ok")
ONE_CLOSE_TWO_JOINS: Final = ((("close",), 1), (JOINED_A, 2))
"""The counts of a connection lost once: one close, the join and one rejoin."""


def reconnected(reason: object, *close: int) -> tuple[Pattern, ...]:
    """What a lost connection shows, in order: the channel errored with ``reason``, the
    close (with its code, if given), the reopen, a fresh rejoin, a whoami on the current join_ref.
    """
    return (
        ("channel_error", A, reason),
        ("close", *close),
        OPEN,
        ("join", A, "ok", ANY, "fresh"),
        WHOAMI_CURRENT,
    )


def server_close_reconnects(code: int, reason: str) -> Scenario:
    """The server closes the socket with ``code``: the client reconnects and rejoins (1.8)."""
    return Scenario(
        name=f"server_close_{code}_reconnects_and_rejoins",
        steps=(
            *opened_and_joined(),
            Fault("close_all", (code, reason)),
            Wait(("close",)),
            *recovered(),
        ),
        expect=reconnected(TRANSPORT_CLOSED, code),
        counts=ONE_CLOSE_TWO_JOINS,
    )


def token_whoami(user: str, token: str, transport: str) -> tuple[Pattern, ...]:
    """What a join and a whoami show when the token reached the server (demo: user|token)."""
    user_id = f"{user}|{token}"
    return (
        ("join", A, "ok", {"joined": "a", "user_id": user_id}, "fresh"),
        (
            "push",
            A,
            "whoami",
            "ok",
            {
                "user_id": user_id,
                "socket_id": f"user_socket:{user_id}",
                "topic": A,
                "join_ref": "current",
                "params": {"user_id": user, "vsn": "2.0.0"},
                "transport": transport,
                "serializer": "Phoenix.Socket.V2.JSONSerializer",
            },
        ),
    )


SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario(
        name="heartbeats_answered",
        heartbeat=0.05,
        steps=(
            *opened_and_joined(),
            Push(A, "slow", {"ms": 400}),
            Wait(("push", A, "slow")),
        ),
        expect=(OPEN, JOINED_A, ("push", A, "slow", "ok", {"ms": 400})),
        forbid=(("close",), ("channel_error",), ("socket_error",)),
    ),
    Scenario(
        name="heartbeats_dropped_close_and_reconnect",
        heartbeat=0.1,
        reconnect=(0.2,),
        steps=(
            *opened_and_joined(),
            Fault("stop_heartbeats"),
            Wait(("close",)),
            Fault("reset"),
            *recovered(),
        ),
        expect=reconnected(HEARTBEAT_TIMEOUT, 1000),
        counts=ONE_CLOSE_TWO_JOINS,
    ),
    Scenario(
        name="abort_then_reconnect_and_rejoin",
        steps=(*opened_and_joined(), Fault("abort_all"), Wait(("close",)), *recovered()),
        allow=(Allow("A lost connection also reports a SocketError", "py", (("socket_error",),)),),
        expect=reconnected(TRANSPORT_CLOSED, 1006),
        counts=ONE_CLOSE_TWO_JOINS,
    ),
    Scenario(
        name="server_restart_then_rejoin_with_fresh_join_ref",
        reconnect=(0.3,),
        steps=(*opened_and_joined(), Server("restart"), Wait(("close",)), *recovered()),
        expect=reconnected(TRANSPORT_CLOSED, 1012),
        counts=ONE_CLOSE_TWO_JOINS,
    ),
    Scenario(
        name="forced_disconnect_1001_then_rejoin",
        steps=(*opened_and_joined(), Server("disconnect"), Wait(("close",)), *recovered()),
        expect=reconnected(TRANSPORT_CLOSED, 1001),
        counts=ONE_CLOSE_TWO_JOINS,
    ),
    Scenario(
        name="channel_crash_errors_then_rejoins",
        steps=(
            *opened_and_joined(),
            Push(A, "crash", timeout=0.5),
            Wait(("channel_error", A)),
            Wait(JOINED_A, 2),
            Wait(("push", A, "crash")),
            Push(A, "ping", {"after": "crash"}),
            Wait(("push", A, "ping")),
        ),
        expect=(
            JOINED_A,
            ("channel_error", A, {"reason": "channel_crash"}),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "crash", "timeout", None),
            ("push", A, "ping", "ok", {"after": "crash"}),
        ),
        forbid=(("close",),),
        counts=((("channel_error",), 1),),
    ),
    Scenario(
        name="stop_closes_the_channel_without_rejoin",
        steps=(
            *opened_and_joined(),
            Join(B),
            Wait(JOINED_B),
            Push(A, "stop"),
            Wait(("channel_close", A)),
            Wait(("push", A, "stop")),
            # longer than several rejoin periods: a rejoin of A would show up before this
            Push(B, "slow", {"ms": 300}),
            Wait(("push", B, "slow")),
        ),
        expect=(
            ("push", A, "stop", "ok", {"stopping": True}),
            ("channel_close", A, {}),
            ("push", B, "slow", "ok", {"ms": 300}),
        ),
        forbid=(("channel_error",), ("close",)),
        counts=((JOINED_A, 1),),
    ),
    Scenario(
        name="refused_join_retries_on_the_rejoin_schedule",
        rejoin=(0.05, 0.1),
        steps=(
            Connect(),
            Wait(OPEN),
            Join(A, {"reject": True}),
            Wait(("join", A, "error"), 3),
        ),
        expect=(("join", A, "error", {"reason": "rejected"}, None),),
        counts=((("join", A, "error"), 3), (JOINED_A, 0)),
    ),
    Scenario(
        name="join_timeout_then_rejoin_ignoring_the_stale_reply",
        steps=(
            Connect(),
            Wait(OPEN),
            Fault("delay_replies", (0.4,)),
            Join(A, timeout=0.2),
            Wait(("join", A, "timeout")),
            Fault("reset"),
            Wait(JOINED_A),
            # answered after the stale join reply (0.4 s) and leave reply went out; the
            # explicit timeout: phoenix.js's default here would be the join's 0.2 s
            Push(A, "slow", {"ms": 600}, timeout=2.0),
            Wait(("push", A, "slow")),
        ),
        expect=(
            ("join", A, "timeout", None, None),
            ("join", A, "ok", {"joined": "a", "user_id": "alice"}, "fresh"),
            ("push", A, "slow", "ok", {"ms": 600}),
        ),
        forbid=(("channel_close",), ("channel_error",), ("leave",)),
        counts=((JOINED_A, 1), (("join", A, "timeout"), 1)),
    ),
    Scenario(
        name="push_ok_error_timeout",
        steps=(
            *opened_and_joined(),
            Push(A, "ping", {"n": 1}),
            Wait(("push", A, "ping")),
            Push(A, "error_reply"),
            Wait(("push", A, "error_reply")),
            Push(A, "nope"),
            Wait(("push", A, "nope")),
            Push(A, "noreply", timeout=0.2),
            Wait(("push", A, "noreply")),
            Fault("drop_replies", (1,)),
            Push(A, "ping", {"n": 2}, timeout=0.2),
            Wait(("push", A, "ping"), 2),
            Push(A, "ping", {"n": 3}),
            Wait(("push", A, "ping"), 3),
        ),
        expect=(
            ("push", A, "ping", "ok", {"n": 1}),
            ("push", A, "error_reply", "error", {"reason": "asked"}),
            ("push", A, "nope", "error", {"reason": "unknown event", "event": "nope"}),
            ("push", A, "noreply", "timeout", None),
            ("push", A, "ping", "timeout", None),
            ("push", A, "ping", "ok", {"n": 3}),
        ),
    ),
    Scenario(
        name="push_before_the_join_reply_is_sent_after_it",
        steps=(
            Connect(),
            Wait(OPEN),
            Join(A),
            Push(A, "ping", {"early": True}),
            Wait(("push", A, "ping")),
        ),
        expect=(JOINED_A, ("push", A, "ping", "ok", {"early": True})),
    ),
    Scenario(
        name="stale_reply_after_crash_and_rejoin_is_ignored",
        steps=(
            *opened_and_joined(),
            Fault("delay_replies", (0.3,)),
            Push(A, "ping", {"old": True}, timeout=1.0),
            Push(A, "crash", timeout=0.6),
            Wait(("channel_error", A)),
            Fault("reset"),
            Wait(JOINED_A, 2),
            Wait(("push", A, "crash")),
            Wait(("push", A, "ping")),
        ),
        expect=(
            ("channel_error", A, {"reason": "channel_crash"}),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "crash", "timeout", None),
            ("push", A, "ping", "timeout", None),
        ),
        forbid=(("push", A, "ping", "ok"),),
    ),
    Scenario(
        name="binary_push_and_reply",
        steps=(
            *opened_and_joined(),
            Push(A, "binary", b"\x00\x01\xfe\xff"),
            Wait(("push", A, "binary")),
            Push(A, "ping", b"raw bytes"),
            Wait(("push", A, "ping")),
            Push(A, "binary", {"not": "bytes"}),
            Wait(("push", A, "binary"), 2),
        ),
        expect=(
            ("push", A, "binary", "ok", b"\x00\x01\xfe\xff"),
            ("push", A, "ping", "ok", b"raw bytes"),
            ("push", A, "binary", "error", {"reason": "expected binary payload"}),
        ),
    ),
    Scenario(
        name="v1_serializer_join_push_and_events",
        vsn="1.0.0",
        listen=("pushed",),
        steps=(
            *opened_and_joined(),
            Push(A, "push_back", {"event": "pushed", "x": 1}),
            Wait(("event", A, "pushed")),
            Wait(("push", A, "push_back")),
            Push(A, "whoami"),
            Wait(("push", A, "whoami")),
        ),
        expect=(
            JOINED_A,
            ("event", A, "pushed", {"event": "pushed", "x": 1}),
            ("push", A, "push_back", "ok", {}),
            ("push", A, "whoami", "ok"),
        ),
    ),
    Scenario(
        name="params_and_auth_token_reach_whoami",
        user_id="bob",
        params={"color": "red"},
        auth_token="s3cret-token",
        token_in_user_id=True,
        steps=(*opened_and_joined(), Push(A, "whoami"), Wait(("push", A, "whoami"))),
        expect=(
            ("join", A, "ok", {"joined": "a", "user_id": "bob|s3cret-token"}, "fresh"),
            (
                "push",
                A,
                "whoami",
                "ok",
                {
                    "user_id": "bob|s3cret-token",
                    "socket_id": "user_socket:bob|s3cret-token",
                    "topic": A,
                    "join_ref": "current",
                    "params": {"user_id": "bob", "color": "red", "vsn": "2.0.0"},
                    "transport": "websocket",
                    "serializer": "Phoenix.Socket.V2.JSONSerializer",
                },
            ),
        ),
    ),
    Scenario(
        name="leave_then_disconnect",
        listen=("pushed",),
        steps=(
            *opened_and_joined(),
            Push(A, "push_back", {"n": 1}),
            Wait(("event", A, "pushed")),
            Wait(("push", A, "push_back")),
            Leave(A),
            Wait(("leave", A)),
            Disconnect(),
            Wait(("close",)),
        ),
        expect=(
            JOINED_A,
            ("event", A, "pushed", {"n": 1}),
            ("leave", A),
            ("close", 1000),
        ),
        forbid=(("channel_error",), ("channel_close",)),
        counts=((OPEN, 1),),
    ),
    Scenario(
        name="refused_join_fails_its_queued_push",
        rejoin=(5.0,),
        steps=(
            Connect(),
            Wait(OPEN),
            Join(A, {"reject": True}),
            Push(A, "ping", {"queued": True}, timeout=0.3),
            Wait(("join", A, "error")),
            Wait(("push", A, "ping")),
        ),
        expect=(("join", A, "error", {"reason": "rejected"}, None), ("push", A, "ping")),
        allow=(
            Allow(
                "Queued pushes of a refused join",
                "js",
                (("push", A, "ping", "timeout", None),),
            ),
            Allow(
                "Queued pushes of a refused join",
                "py",
                (("push", A, "ping", "join_error", {"reason": "rejected"}),),
            ),
        ),
    ),
    Scenario(
        name="push_while_disconnected_is_sent_after_the_rejoin",
        reconnect=(0.2,),
        steps=(
            *opened_and_joined(),
            Fault("abort_all"),
            Wait(("channel_error", A)),
            Push(A, "ping", {"while": "down"}),
            Wait(("push", A, "ping")),
        ),
        expect=(
            ("channel_error", A, TRANSPORT_CLOSED),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "ping", "ok", {"while": "down"}),
        ),
        allow=(Allow("A lost connection also reports a SocketError", "py", (("socket_error",),)),),
    ),
    Scenario(
        name="join_timeout_is_the_channel_default_push_timeout",
        steps=(
            Connect(),
            Wait(OPEN),
            Join(A, timeout=0.3),
            Wait(JOINED_A),
            Push(A, "slow", {"ms": 600}),
            Wait(("push", A, "slow")),
        ),
        expect=(JOINED_A, ("push", A, "slow", "timeout", None)),
    ),
    Scenario(
        name="leave_whose_reply_is_lost_is_still_a_leave",
        timeout=0.3,
        steps=(
            *opened_and_joined(),
            Fault("drop_replies", (1,)),
            Leave(A),
            Wait(("leave", A), timeout=2.0),  # leave timeout 0.3 s: 2 s is plenty
            Join(B),
            Wait(JOINED_B),
        ),
        expect=(JOINED_A, ("leave", A), JOINED_B),
        forbid=(("channel_error",), ("channel_close",), ("close",)),
    ),
    Scenario(
        name="in_flight_push_when_the_connection_drops_times_out",
        steps=(
            *opened_and_joined(),
            Push(A, "async_reply", {"ms": 400}, timeout=1.0),
            # the ping's reply proves the server got the push before it (one socket,
            # in order): the push is in flight, not still on its way out, when it drops
            Push(A, "ping", {"n": 1}),
            Wait(("push", A, "ping")),
            Fault("abort_all"),
            Wait(JOINED_A, 2),
            Wait(("push", A, "async_reply")),
        ),
        expect=(
            ("channel_error", A, TRANSPORT_CLOSED),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "async_reply", "timeout", None),
        ),
        allow=(Allow("A lost connection also reports a SocketError", "py", (("socket_error",),)),),
    ),
    Scenario(
        name="server_close_ends_the_in_flight_push",
        steps=(
            *opened_and_joined(),
            Push(A, "async_reply", {"ms": 400}, timeout=0.8),
            Push(A, "stop"),
            Wait(("channel_close", A)),
            Wait(("push", A, "async_reply")),
        ),
        expect=(("push", A, "stop", "ok", {"stopping": True}), ("channel_close", A, {})),
        allow=(
            Allow(
                "In-flight pushes of a closed channel",
                "js",
                (("push", A, "async_reply", "timeout", None),),
            ),
            Allow(
                "In-flight pushes of a closed channel",
                "py",
                (("push", A, "async_reply", "closed", {}),),
            ),
        ),
    ),
    # --- Phoenix 1.8 parity ---------------------------------------------------------------
    server_close_reconnects(1000, "bye"),
    server_close_reconnects(1001, "going away"),
    Scenario(
        name="join_during_a_failed_handshake_is_sent_once_after_the_reconnect",
        steps=(
            Fault("fail_handshakes", (1, 500, 0.3)),
            Connect(),
            Join(A),
            Push(A, "ping", {"queued": True}),
            Wait(("close",)),
            Wait(OPEN),
            Wait(JOINED_A),
            Wait(("push", A, "ping")),
            Push(A, "whoami"),
            Wait(("push", A, "whoami")),
        ),
        expect=(
            ("close", 1006),
            OPEN,
            ("channel_error", A, TRANSPORT_ERROR),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "ping", "ok", {"queued": True}),
            WHOAMI_CURRENT,
        ),
        counts=((OPEN, 1), (JOINED_A, 1), (("channel_error",), 1)),
        server_joins=((A, 1),),
    ),
    Scenario(
        name="push_while_errored_after_a_crash_is_sent_after_the_rejoin",
        rejoin=(0.5,),  # the push is made, and the crash push times out, well before it
        steps=(
            *opened_and_joined(),
            Push(A, "crash", timeout=0.2),
            Wait(("channel_error", A)),
            Push(A, "ping", {"while": "errored"}),
            Wait(JOINED_A, 2),
            Wait(("push", A, "ping")),
            Push(A, "whoami"),
            Wait(("push", A, "whoami")),
        ),
        expect=(
            ("channel_error", A, {"reason": "channel_crash"}),
            ("push", A, "crash", "timeout", None),
            ("join", A, "ok", ANY, "fresh"),
            ("push", A, "ping", "ok", {"while": "errored"}),
            WHOAMI_CURRENT,
        ),
        forbid=(("close",),),
        counts=((("channel_error",), 1), (JOINED_A, 2)),
        server_joins=((A, 2),),
    ),
    Scenario(
        name="protocol_error_from_the_server_errors_channels_then_rejoin",
        steps=(*opened_and_joined(), Fault("break_all"), Wait(("close",)), *recovered()),
        expect=reconnected(TRANSPORT_ERROR),
        counts=((("close",), 1), (JOINED_A, 2), (("channel_error",), 1)),
        allow=(
            Allow(PROTOCOL_ERROR_CODE, "js", (("close", 1006),)),
            Allow(PROTOCOL_ERROR_CODE, "py", (("close", 1002),)),
        ),
    ),
    Scenario(
        name="disconnect_errors_the_joined_channel",
        steps=(*opened_and_joined(), Disconnect(), Wait(("close",)), Wait(("channel_error", A))),
        expect=(("close", 1000), ("channel_error", A, TRANSPORT_CLOSED)),
        counts=((OPEN, 1), (("channel_error",), 1)),
    ),
    Scenario(
        name="the_101st_channel_is_refused",
        rejoin=(5.0,),
        steps=(
            Connect(),
            Wait(OPEN),
            *(Join(f"bench:{i}") for i in range(CHANNEL_LIMIT)),
            Wait(("join", ANY, "ok"), CHANNEL_LIMIT),
            Join(f"bench:{CHANNEL_LIMIT}"),
            Wait(("join", f"bench:{CHANNEL_LIMIT}")),
        ),
        expect=(
            ("join", "bench:0", "ok", {}, "fresh"),
            ("join", f"bench:{CHANNEL_LIMIT - 1}", "ok", {}, "fresh"),
            (
                "join",
                f"bench:{CHANNEL_LIMIT}",
                "error",
                {"reason": "too many channels joined"},
                None,
            ),
        ),
        counts=((("join", ANY, "ok"), CHANNEL_LIMIT), (("join", ANY, "error"), 1)),
        forbid=(("channel_error",), ("close",)),
        server_joins=((f"bench:{CHANNEL_LIMIT}", 0), ("bench:0", 1)),
    ),
    Scenario(
        name="auth_token_with_plus_reaches_whoami",
        user_id="carol",
        auth_token=PLUS_TOKEN,
        token_in_user_id=True,
        steps=(*opened_and_joined(), Push(A, "whoami"), Wait(("push", A, "whoami"))),
        expect=token_whoami("carol", PLUS_TOKEN, "websocket"),
    ),
    Scenario(
        name="longpoll_auth_token_header_reaches_whoami",
        transport="longpoll",
        user_id="dave",
        auth_token=SLASH_PLUS_TOKEN,
        token_in_user_id=True,
        steps=(*opened_and_joined(), Push(A, "whoami"), Wait(("push", A, "whoami"))),
        expect=token_whoami("dave", SLASH_PLUS_TOKEN, "longpoll"),
    ),
)
