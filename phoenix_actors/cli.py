"""The ``phoenix-actors`` command line.

Subcommands:

* ``serve [--host 127.0.0.1] [--port 4000] [--admin]``: serve the demo
  channels until Ctrl-C (SIGINT or SIGTERM: clean exit, status 0); prints
  the endpoint URL first.
* ``demo``: the bundled server on a free loopback port and three bot
  clients joining, pushing and showing presence, printed as a timeline.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="phoenix-actors", description="Phoenix Channels client and loopback server."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the demo channels (Phoenix protocol)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=4000, help="port (default 4000; 0: any free)")
    serve.add_argument(
        "--admin", action="store_true", help="also serve /health and the /admin HTTP routes"
    )

    commands.add_parser(
        "demo", help="start the server on loopback and run three bots through it (~5 s)"
    )
    return parser


async def _serve(host: str, port: int, *, admin: bool) -> int:
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
    print(f"Serving Phoenix channels at {server.url}", flush=True)
    if admin:
        print(f"Admin routes at {server.http_url}/health and {server.http_url}/admin/", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
    print("Stopped.", flush=True)
    return 0


def _demo() -> int:
    from phoenix_actors.demo import run  # noqa: PLC0415 - needs the [server] extra

    return run()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return asyncio.run(_serve(args.host, args.port, admin=args.admin))
    if args.command == "demo":
        return _demo()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
