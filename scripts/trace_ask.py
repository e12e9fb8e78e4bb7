"""Where the time of one sequential ask goes: the thread hops, the work, the server.

Usage::

    .venv/bin/python scripts/trace_ask.py [--count 2000]

Starts the bundled server in its own process, joins ``bench:1`` and asks
``echo`` pushes one by one, timestamping each stage on the thread it runs on
(the hooks wrap the channel actor's handler, the reader's frame callback and
the reply slot). Prints the median of each stage, then, measured in the same
run, what one thread hop costs on this machine: a ping-pong between two
Python threads over a queue (half its round trip), the floor of each of the
three hops a sequential ask makes (caller -> channel, reader -> channel,
channel -> caller).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_roundtrip import TOPIC, ServerProcess

from phoenix_actors import Client, Join, Push
from phoenix_actors.actors import channel as channel_module
from phoenix_actors.actors import socket as socket_module
from phoenix_actors.actors.reply import Reply

STAGES = (
    ("caller -> channel (hop)", "start", "call"),
    ("channel: push, encode, write", "call", "call_done"),
    ("server round trip, reader wakes", "call_done", "read"),
    ("reader -> channel (decode + hop)", "read", "frames"),
    ("channel: reply, event, answer", "frames", "set"),
    ("channel -> caller (hop)", "set", "end"),
    ("whole ask", "start", "end"),
)


def _hooks(marks: dict[str, float]) -> Callable[[], None]:
    """Wrap the three places a sequential ask passes; return the undo."""
    now = time.perf_counter
    receive = channel_module.ChannelActor.on_receive
    on_message = socket_module._Sink.on_message  # noqa: SLF001
    complete = Reply._complete  # noqa: SLF001

    def timed_receive(self: Any, message: Any) -> Any:
        kind = type(message).__name__
        if kind == "Call":
            marks["call"] = now()
        elif kind == "Frames":
            marks.setdefault("frames", now())
        result = receive(self, message)
        if kind == "Call":
            marks["call_done"] = now()
        return result

    def timed_message(self: Any, *args: Any) -> None:
        marks.setdefault("read", now())
        on_message(self, *args)

    def timed_complete(self: Any, value: Any, exc: Any) -> None:
        marks.setdefault("set", now())
        complete(self, value, exc)

    channel_module.ChannelActor.on_receive = timed_receive  # type: ignore[method-assign]
    socket_module._Sink.on_message = timed_message  # type: ignore[assignment,method-assign]  # noqa: SLF001
    Reply._complete = timed_complete  # type: ignore[method-assign]  # noqa: SLF001

    def undo() -> None:
        channel_module.ChannelActor.on_receive = receive  # type: ignore[method-assign]
        socket_module._Sink.on_message = on_message  # type: ignore[method-assign]  # noqa: SLF001
        Reply._complete = complete  # type: ignore[method-assign]  # noqa: SLF001

    return undo


def trace(url: str, count: int, warmup: int = 200) -> dict[str, float]:
    """Median seconds of each stage over ``count`` asks."""
    marks: dict[str, float] = {}
    rows: list[dict[str, float]] = []
    client = Client(url)
    try:
        client.ask(Join(TOPIC))
        undo = _hooks(marks)
        try:
            for i in range(warmup + count):
                marks.clear()
                marks["start"] = time.perf_counter()
                client.ask(Push(TOPIC, "echo", {"i": i}))
                marks["end"] = time.perf_counter()
                if i >= warmup and all(m in marks for _, a, b in STAGES for m in (a, b)):
                    rows.append(dict(marks))
        finally:
            undo()
    finally:
        client.stop()
    return {label: statistics.median(row[b] - row[a] for row in rows) for label, a, b in STAGES} | {
        "samples": len(rows)
    }


def hop(count: int = 3000) -> float:
    """Half the median round trip of a ping-pong between two threads over queues."""
    there: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    back: queue.SimpleQueue[int] = queue.SimpleQueue()

    def echo() -> None:
        while (item := there.get()) is not None:
            back.put(item)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    samples = []
    for i in range(count):
        start = time.perf_counter()
        there.put(i)
        back.get(timeout=5.0)
        samples.append(time.perf_counter() - start)
    there.put(None)
    thread.join(5.0)
    return statistics.median(samples[count // 5 :]) / 2


def main(argv: list[str] | None = None) -> int:
    """Trace the asks, then measure a hop; print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="asks traced (default 2000)")
    args = parser.parse_args(argv)
    server = ServerProcess()
    try:
        stages = trace(server.url, args.count)
    finally:
        server.stop()
    one_hop = hop()
    print(f"one sequential ask, median of {stages.pop('samples'):.0f} (us):")
    for label, seconds in stages.items():
        print(f"  {label:36} {seconds * 1e6:7.1f}")
    print(f"one thread hop on this machine (queue ping-pong / 2): {one_hop * 1e6:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
