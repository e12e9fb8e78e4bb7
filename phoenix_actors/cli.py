"""The ``phoenix-actors`` command line.

Subcommands:

* ``serve [--host 127.0.0.1] [--port 4000] [--admin]``: serve the demo
  channels until Ctrl-C (SIGINT or SIGTERM: clean exit, status 0); prints
  the endpoint URL first, and with ``--admin`` every admin HTTP route.
* ``demo``: the bundled server on a free loopback port and three bot
  clients joining, pushing and showing presence, printed as a timeline.
* ``listen URL TOPIC``: join TOPIC on a real server and print each event of
  it (and the socket's) as one JSON line, until Ctrl-C.
* ``push URL TOPIC EVENT [JSON]``: join, push, print the outcome as one JSON
  line; status 0 on an ok reply, 1 otherwise.

Exit status: 0 done (Ctrl-C is how ``serve`` and ``listen`` end, so it
exits 0 too); 1 failed (an error reply, a timeout, a refused join, a
server that cannot listen, a client that gave up); 2 bad usage; 130 Ctrl-C
interrupted ``demo`` or ``push`` before they finished (or any command
while it was still starting). Ctrl-C never prints a traceback; a second
Ctrl-C during the shutdown ends the process at once. This module imports
nothing heavy: the client and the server load inside :func:`main`, under
its Ctrl-C handler.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from phoenix_actors import __version__

if TYPE_CHECKING:
    from phoenix_actors.server.app import PhoenixServer

__all__ = ["main"]

INTERRUPTED = 130
"""Exit status of a command Ctrl-C stopped before it finished (128 + SIGINT)."""
ENDS_ON_CTRL_C = frozenset({"serve", "listen"})
"""Commands whose normal end is Ctrl-C: they exit 0 on it."""


def _demo_events_help() -> str:
    """The demo channels' events, from their handler tables (so the help cannot drift)."""
    from phoenix_actors.server.demo import demo_events  # noqa: PLC0415 - only for serve --help

    lines = ['demo channels (any other event: reply error {"reason": "unknown event"}):']
    for pattern, events in demo_events().items():
        lines.append(f"  {pattern}")
        width = max(map(len, events))
        lines.extend(
            f"    {name:<{width}}  {text.replace('``', '')}" for name, text in events.items()
        )
    return "\n".join(lines)


def _build_parser() -> argparse.ArgumentParser:
    from phoenix_actors._cli_client import add_client_commands  # noqa: PLC0415 - see main

    parser = argparse.ArgumentParser(
        prog="phoenix-actors", description="Phoenix Channels client and loopback server."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the demo channels (Phoenix protocol)",
        description="Serve the demo channels on ws://HOST:PORT/socket until Ctrl-C.",
        epilog=_demo_events_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=4000, help="port (default 4000; 0: any free)")
    serve.add_argument(
        "--admin",
        action="store_true",
        help="also serve the admin HTTP routes (GET /health, POST /admin/...; printed at start)",
    )

    commands.add_parser(
        "demo", help="start the server on loopback and run three bots through it (~5 s)"
    )
    add_client_commands(commands)
    return parser


def _banner(server: PhoenixServer) -> list[str]:
    """The endpoint, then (with ``--admin``) exactly the routes the server registered."""
    from phoenix_actors.server.admin import ADMIN_ROUTES  # noqa: PLC0415 - needs the extra

    lines = [f"Serving Phoenix channels at {server.url}"]
    if server.admin:
        lines.append("Admin HTTP routes (no authentication):")
        width = max(len(f"{server.http_url}{r.path}") for r in ADMIN_ROUTES)
        lines.extend(
            f"  {r.method:<4} {server.http_url + r.path:<{width}}  {r.summary}"
            for r in ADMIN_ROUTES
        )
    lines.append("Press Ctrl-C to stop.")
    return lines


async def _serve(host: str, port: int, *, admin: bool) -> int:
    import asyncio  # noqa: PLC0415 - see main

    from phoenix_actors.server.app import PhoenixServer  # noqa: PLC0415 - needs the extra

    server = PhoenixServer(host=host, port=port, admin=admin)
    try:
        await server.start()
    except OSError as exc:
        print(f"phoenix-actors serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("\n".join(_banner(server)), flush=True)
        await stop.wait()
    finally:
        # the handlers stay while the server stops (bounded by its STOP_WAIT): a
        # second Ctrl-C then is a no-op rather than a KeyboardInterrupt in the loop
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("Stopped.", flush=True)
    return 0


def _demo() -> int:
    from phoenix_actors.demo import run  # noqa: PLC0415 - needs the [server] extra

    return run()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends the process at once
    raise KeyboardInterrupt


@contextmanager
def _ctrl_c() -> Iterator[None]:
    """Turn the first Ctrl-C into a KeyboardInterrupt and any later one into SIGINT's default."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    command: str | None = None  # None: Ctrl-C came while starting
    try:
        with _ctrl_c():
            # loaded here, under the handler: a Ctrl-C while the client and the
            # server load (a few hundred ms) ends quietly, as any later one does
            import asyncio  # noqa: PLC0415

            from phoenix_actors._cli_client import run_client_command  # noqa: PLC0415

            args = _build_parser().parse_args(argv)
            command = args.command
            if command == "serve":
                return asyncio.run(_serve(args.host, args.port, admin=args.admin))
            if command == "demo":
                return _demo()
            return run_client_command(args)
    except KeyboardInterrupt:
        return 0 if command in ENDS_ON_CTRL_C else INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
