"""``phoenix-actors listen`` and ``push``: the command line as a client of any Phoenix server.

Both print events as JSON lines (ndjson): ``msgspec.json.encode(event)``, a
tagged object whose ``"type"`` is the event's class name, e.g.
``{"type":"ChannelEvent","topic":"room:lobby","event":"news","payload":{...}}``.
Bytes (binary payloads) are base64 strings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import msgspec

from phoenix_actors.client import Client
from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, PhoenixError
from phoenix_actors.messages import (
    ClientFailed,
    ConnectOptions,
    Event,
    EventsDropped,
    InternalError,
    Join,
    JoinOk,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    SocketClosed,
    SocketError,
    SocketOpened,
)

__all__ = ["add_client_commands", "run_client_command"]

_encoder = msgspec.json.Encoder()

LISTEN_HELP = """\
Prints one JSON line per event: the socket's SocketOpened, SocketClosed and
SocketError, then every event of TOPIC (JoinOk, JoinError, ChannelEvent,
presence events, ChannelErrored, ...), e.g.
  {"type":"ChannelEvent","topic":"room:lobby","event":"news","payload":{"x":1}}
A refused join prints its JoinError and keeps listening: the client rejoins
on its schedule (1, 2, 5, then every 10 s), as it reconnects a lost socket.
Ctrl-C ends it (exit status 0)."""

PUSH_HELP = """\
Joins TOPIC, pushes EVENT with the JSON payload (default {}) and prints the
outcome as one JSON line: PushOk, PushError or PushTimeout, e.g.
  {"type":"PushOk","push":{"type":"Push","topic":...},"response":{"n":1}}
or the JoinError / JoinTimeout when the join fails.
Exit status: 0 on an ok reply; 1 on an error reply, a timeout or a failed join."""


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from exc


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "url", metavar="URL", help="the socket endpoint: ws(s):// or http(s)://HOST/socket"
    )
    common.add_argument("topic", metavar="TOPIC", help="the channel topic, e.g. room:lobby")
    common.add_argument(
        "--param",
        metavar="KEY=VALUE",
        type=_param,
        action="append",
        default=[],
        help="a connect param (repeatable), sent in the query string",
    )
    common.add_argument("--token", help="auth token (sent in Sec-WebSocket-Protocol, never logged)")
    common.add_argument(
        "--vsn", choices=("1.0.0", "2.0.0"), help="serializer version (default 2.0.0)"
    )
    common.add_argument(
        "--longpoll", action="store_true", help="use the long-poll transport, not a websocket"
    )
    return common


def add_client_commands(commands: Any) -> None:
    """Add ``listen`` and ``push`` to ``commands`` (the subparsers of the main parser)."""
    common = _connection_options()
    raw = argparse.RawDescriptionHelpFormatter
    listen: argparse.ArgumentParser = commands.add_parser(
        "listen",
        parents=[common],
        help="join TOPIC on a server and print its events as JSON lines until Ctrl-C",
        description="Join TOPIC on URL and print its events as JSON lines until Ctrl-C.",
        epilog=LISTEN_HELP,
        formatter_class=raw,
    )
    listen.add_argument(
        "--payload", type=_json, default={}, metavar="JSON", help="join payload (default {})"
    )
    push: argparse.ArgumentParser = commands.add_parser(
        "push",
        parents=[common],
        help="join TOPIC, push EVENT and print the reply as JSON",
        description="Join TOPIC on URL, push EVENT, print the outcome as one JSON line.",
        epilog=PUSH_HELP,
        formatter_class=raw,
    )
    push.add_argument("event", metavar="EVENT", help="the event to push, e.g. ping")
    push.add_argument(
        "payload", metavar="JSON", type=_json, nargs="?", default={}, help="payload (default {})"
    )
    push.add_argument(
        "--join-payload", type=_json, default={}, metavar="JSON", help="join payload (default {})"
    )
    push.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="seconds to wait for the reply (default 10; the join always waits 10)",
    )


def _client(args: argparse.Namespace) -> Client:
    options: dict[str, Any] = {}
    if args.token is not None:
        options["auth_token"] = args.token
    if args.vsn is not None:
        options["vsn"] = args.vsn
    if args.longpoll:
        options["transport"] = "longpoll"
    return Client(args.url, params=dict(args.param), options=ConnectOptions(**options))


def _emit(event: Event) -> None:
    sys.stdout.write(_encoder.encode(event).decode() + "\n")
    sys.stdout.flush()


def _concerns(event: Event, topic: str) -> bool:
    """True for the socket's lifecycle events, trouble, and every event of ``topic``."""
    match event:
        case SocketOpened() | SocketClosed() | SocketError() | InternalError():
            return True
        case EventsDropped() | ClientFailed():
            return True
        case PushOk(push=push) | PushError(push=push) | PushTimeout(push=push):
            return push.topic == topic
    return getattr(event, "topic", None) == topic


def _listen(args: argparse.Namespace) -> int:
    with _client(args) as client:
        events = client.events()  # subscribed from here: nothing before the join is missed
        client.tell(Join(args.topic, payload=args.payload))
        for event in events:
            if _concerns(event, args.topic):
                _emit(event)
            if isinstance(event, ClientFailed):
                return 1
    return 1  # the event stream ended: the client stopped


def _push(args: argparse.Namespace) -> int:
    with _client(args) as client:
        joined = client.ask(Join(args.topic, payload=args.join_payload))
        if not isinstance(joined, JoinOk):
            _emit(joined)
            return 1
        reply = client.ask(Push(args.topic, args.event, args.payload, timeout=args.timeout))
        _emit(reply)
        return 0 if isinstance(reply, PushOk) else 1


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"listen": _listen, "push": _push}


def run_client_command(args: argparse.Namespace) -> int:
    """Run ``listen`` or ``push``; return the exit status."""
    try:
        return _COMMANDS[args.command](args)
    except (InvalidArgumentError, InvalidTypeError) as exc:
        sys.stderr.write(f"phoenix-actors {args.command}: error: {exc}\n")
        return 2
    except PhoenixError as exc:
        sys.stderr.write(f"phoenix-actors {args.command}: {type(exc).__name__}: {exc}\n")
        return 1
    except BrokenPipeError:
        # the reader went away (``listen ... | head -1``): stop quietly, and keep
        # the interpreter's final flush of stdout from failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
