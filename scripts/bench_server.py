"""Benchmark the bundled server against a bare aiohttp echo server, with phoenix.js as load.

Usage::

    .venv/bin/python scripts/bench_server.py [--connections 4] [--total 20000]
        [--window 100] [--rounds 2] [--json]

Two servers, each in its own subprocess:

- ``ours``: ``phoenix_actors.server.LoopbackServer`` with the demo channels; the load
  joins ``bench:<i>`` and pushes ``echo`` (the channel replies ok with the payload).
- ``echo``: a minimal aiohttp websocket handler on the same library that answers
  every V2 frame with a V2 ``phx_reply`` (msgspec), no channels, no heartbeat logic:
  the ceiling for any Phoenix server written on aiohttp.

The same node load generator (``tests/js/bench_server_client.mjs``, the official
phoenix.js client) runs against both: N sockets, ``window`` pushes in flight each,
``total`` pushes in all. Rounds alternate between the servers and the best rate of
each is kept. The target is ours >= 50% of echo. Server CPU time per reply (from
``/proc``) is printed too: when node saturates first, it is the fairer comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"
CLIENT = JS_DIR / "bench_server_client.mjs"
START_DEADLINE = 20.0


# -- server processes ---------------------------------------------------------------


def serve_ours() -> None:
    """Run the bundled server on a free port; print ``PORT n``; stop at stdin EOF."""
    from phoenix_actors.server import LoopbackServer  # noqa: PLC0415 (server mode only)

    with LoopbackServer(port=0) as server:
        print(f"PORT {server.port}", flush=True)
        sys.stdin.read()


def serve_echo() -> None:
    """Run the bare aiohttp V2 echo server on a free port; print ``PORT n``; stop at stdin EOF."""
    import asyncio  # noqa: PLC0415 (server mode only)

    import msgspec  # noqa: PLC0415
    from aiohttp import WSMsgType, web  # noqa: PLC0415

    encode = msgspec.json.Encoder().encode
    decode = msgspec.json.Decoder(list[Any]).decode

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        # No permessage-deflate (``ws`` offers it), as the bundled server: compressing
        # every small frame would make this "ceiling" slower than a real server.
        ws = web.WebSocketResponse(max_msg_size=10_000_000, compress=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            join_ref, ref, topic, _event, payload = decode(msg.data)[:5]
            reply = [join_ref, ref, topic, "phx_reply", {"status": "ok", "response": payload}]
            await ws.send_frame(encode(reply), WSMsgType.TEXT)
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/socket/websocket", websocket)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # noqa: SLF001 (aiohttp keeps the bound socket here)
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


class ServerProcess:
    """A server subprocess (this script in ``--serve`` mode); stops when stdin closes."""

    def __init__(self, kind: str) -> None:
        """Start the ``kind`` server and wait for its port."""
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_DEADLINE)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            msg = f"{kind} server did not start (said {line!r})"
            raise RuntimeError(msg)
        self.port = int(line.split()[1])
        self.url = f"ws://127.0.0.1:{self.port}/socket"

    def stop(self) -> None:
        """Close stdin (the server exits), kill it after a deadline."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far (Linux /proc), or NaN."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


# -- load ---------------------------------------------------------------------------------


def run_load(url: str, *, connections: int, total: int, window: int) -> dict[str, Any]:
    """Run the phoenix.js load generator against ``url``; return its result line."""
    node = shutil.which("node")
    if node is None:
        msg = "node is not installed"
        raise RuntimeError(msg)
    config = {
        "url": url,
        "connections": connections,
        "total": total,
        "window": window,
        "payload": {"body": "hello", "n": 1},
        "timeout": 20000,
    }
    proc = subprocess.run(
        [node, str(CLIENT)],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=JS_DIR,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or a server, with ``--serve``); print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=["ours", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--total", type=int, default=20000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line only")
    args = parser.parse_args(argv)
    if args.serve == "ours":
        serve_ours()
        return 0
    if args.serve == "echo":
        serve_echo()
        return 0

    servers = {kind: ServerProcess(kind) for kind in ("echo", "ours")}
    best: dict[str, dict[str, Any]] = {}
    try:
        warm = max(args.connections, min(args.total // 10, 2000))
        for server in servers.values():
            run_load(server.url, connections=args.connections, total=warm, window=args.window)
        for _ in range(args.rounds):
            for kind, server in servers.items():
                cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
                result = run_load(
                    server.url,
                    connections=args.connections,
                    total=args.total,
                    window=args.window,
                )
                result["server_cpu_s"] = server.cpu_seconds() - cpu0
                result["wall_s"] = time.perf_counter() - wall0
                if result["replies"] != args.total:
                    msg = f"{kind}: {result['replies']} replies for {args.total} pushes: {result}"
                    raise RuntimeError(msg)
                if kind not in best or result["rate"] > best[kind]["rate"]:
                    best[kind] = result
    finally:
        for server in servers.values():
            server.stop()

    ratio = best["ours"]["rate"] / best["echo"]["rate"]
    for result in best.values():
        result["server_cpu_us_per_reply"] = result["server_cpu_s"] / result["replies"] * 1e6
    ours_cpu = best["ours"]["server_cpu_us_per_reply"]
    # /proc counts in clock ticks (10 ms): a tiny run may show none at all.
    cpu_ratio = best["echo"]["server_cpu_us_per_reply"] / ours_cpu if ours_cpu else float("nan")
    summary = {
        "connections": args.connections,
        "total": args.total,
        "window": args.window,
        "ours": best["ours"],
        "echo": best["echo"],
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"phoenix.js load: {args.connections} sockets x window {args.window}, "
        f"{args.total} echo pushes, best of {args.rounds}"
    )
    for kind, label in (("echo", "bare aiohttp echo"), ("ours", "phoenix_actors server")):
        r = best[kind]
        print(
            f"  {label:<22} {r['rate']:>9.0f} replies/s  "
            f"({r['elapsed_ms'] / 1000:.2f} s; server CPU {r['server_cpu_s']:.2f} s, "
            f"{r['server_cpu_us_per_reply']:.1f} us/reply)"
        )
    verdict = "meets" if ratio >= 0.5 else "misses"
    print(f"  ratio ours/echo: {ratio:.0%} of the replies/s ({verdict} the 50% target)")
    print(
        f"  server CPU per reply, echo/ours: {cpu_ratio:.0%} "
        "(the load generator may be the bottleneck; this is the server's own cost)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
