"""Client speed benchmark: phoenix_actors vs phoenix.js vs a bare websocket-client loop.

Usage::

    .venv/bin/python scripts/bench_roundtrip.py [--url ws://HOST:PORT/socket] [--quick]
        [--only phoenix_actors,phoenix.js,bare,sequential,pipelined,asks,broadcast,big,loop]
        [--rounds 3] [--many]

Without ``--url`` the bundled server (``phoenix_actors.cli serve``) runs in its own
process on a free port and is stopped with SIGINT at the end. Each client joins
``bench:1`` and, one client at a time, in ``--rounds`` interleaved rounds (each
figure printed is its median over the rounds):

- ``sequential``: push ``echo`` and wait for the reply, one by one (warm-up first);
  p50 / p99 latency in microseconds.
- ``pipelined``: ``window`` echo pushes in flight until ``total`` are answered;
  replies/s and the client process's CPU (user+system) per reply. The pushes are
  told and their replies read as events (``subscribe`` for the blocking client,
  ``async for ... in events()`` for the async one).
- ``asks``: the pipelined test with one ask per push instead (``submit`` and a
  done-callback for the blocking client, a task awaiting ``ask`` per push for the
  async one): what a reply slot per push costs.
- ``broadcast``: push ``fanout`` ``{"n": N}``; ticks/s received and CPU per tick.
- ``big``: the pipelined test with a 10 KB payload.
- ``loop``: the async client's event-loop lag while a ``fanout`` of 20,000 ticks
  arrives: a probe sleeps 1 ms in a loop and records how late it wakes (p50, p99,
  max), beside the same flood read by a pure-asyncio aiohttp client (no threads)
  in the same run, 3 runs each, interleaved; also the longest CPU time one loop
  callback of the async client took (what the client itself holds the loop for).

The three clients: ``phoenix_actors`` (this library's ``Client``, in this process),
``phoenix.js`` (the official client under node, ``tests/js/bench_roundtrip_client.mjs``)
and ``bare`` (``websocket.create_connection`` plus msgspec, V2 frames by hand: the
limit for this transport). ``--many`` also times 100 clients x 10 channels joining in
one process and reports that process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import websocket

from phoenix_actors import (
    AsyncClient,
    ChannelEvent,
    Client,
    Event,
    GetQueuedChannels,
    Join,
    JoinOk,
    Push,
    PushError,
    PushOk,
    PushTimeout,
)
from phoenix_actors.actors.reply import Reply
from phoenix_actors.testing import LoopLag, LoopWatch

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"
JS_CLIENT = JS_DIR / "bench_roundtrip_client.mjs"
TOPIC = "bench:1"
START_DEADLINE = 30.0
MANY_DEADLINE = 20.0
CLIENTS = ("phoenix_actors", "pa-async", "phoenix.js", "bare")
TESTS = ("sequential", "pipelined", "asks", "broadcast", "big", "loop")


class BenchError(Exception):
    """A measurement could not complete (a failed join or push, a lost reply)."""


@dataclass(frozen=True)
class Counts:
    """How much work each measurement does."""

    warmup: int = 200
    sequential: int = 2000
    total: int = 20000
    window: int = 500
    fanout: int = 20000
    big_total: int = 20000
    big_size: int = 10 * 1024
    flood: int = 20000
    flood_runs: int = 3
    timeout: float = 60.0


QUICK = Counts(
    warmup=5,
    sequential=20,
    total=200,
    window=50,
    fanout=100,
    big_total=50,
    flood=200,
    flood_runs=1,
    timeout=30.0,
)


@dataclass
class Result:
    """One client's figures (None: not measured)."""

    figures: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_samples: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = min(len(sorted_samples) - 1, max(0, math.ceil(q * len(sorted_samples)) - 1))
    return sorted_samples[index]


def latency_figures(samples: list[float]) -> dict[str, float]:
    """p50 / p99 in microseconds of samples in seconds."""
    ordered = sorted(samples)
    return {"p50_us": percentile(ordered, 0.5) * 1e6, "p99_us": percentile(ordered, 0.99) * 1e6}


# -- the server -----------------------------------------------------------------------


def free_port() -> int:
    """A currently free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``phoenix_actors.cli serve`` in its own process; stopped with SIGINT."""

    def __init__(self) -> None:
        """Start the server on a free port and wait until it says it is serving."""
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phoenix_actors.cli", "serve", "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_DEADLINE)
        line = self.proc.stdout.readline() if ready else ""
        marker = "Serving Phoenix channels at "
        if not line.startswith(marker):
            self.stop()
            msg = f"the server did not start (said {line!r})"
            raise BenchError(msg)
        self.url = line[len(marker) :].strip()

    def stop(self) -> None:
        """SIGINT, then kill after a deadline."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- phoenix_actors -------------------------------------------------------------------


def bench_phoenix_actors(url: str, counts: Counts, tests: list[str]) -> dict[str, float]:
    """The three measurements with ``phoenix_actors.Client``."""
    client = Client(url)
    try:
        joined = client.ask(Join(TOPIC))
        if not isinstance(joined, JoinOk):
            msg = f"join failed: {joined!r}"
            raise BenchError(msg)
        out: dict[str, float] = {}
        if "sequential" in tests:
            out |= _pa_sequential(client, counts)
        if "pipelined" in tests:
            rate, cpu = _pa_pipelined(client, counts, counts.total, lambda i: {"i": i})
            out |= {"pipe_rate": rate, "pipe_cpu_us": cpu}
        if "asks" in tests:
            rate, cpu = _pa_asks(client, counts)
            out |= {"ask_rate": rate, "ask_cpu_us": cpu}
        if "broadcast" in tests:
            rate, cpu = _pa_broadcast(client, counts)
            out |= {"tick_rate": rate, "tick_cpu_us": cpu}
        if "big" in tests:
            body = "x" * counts.big_size
            rate, cpu = _pa_pipelined(
                client, counts, counts.big_total, lambda i: {"i": i, "body": body}
            )
            out |= {"big_rate": rate, "big_cpu_us": cpu}
        return out
    finally:
        client.stop()


def _pa_sequential(client: Client, counts: Counts) -> dict[str, float]:
    for i in range(counts.warmup):
        _expect_ok(client.ask(Push(TOPIC, "echo", {"i": i})))
    samples = []
    for i in range(counts.sequential):
        start = time.perf_counter()
        reply = client.ask(Push(TOPIC, "echo", {"i": i}))
        samples.append(time.perf_counter() - start)
        _expect_ok(reply)
    return latency_figures(samples)


def _expect_ok(reply: object) -> None:
    if not isinstance(reply, PushOk):
        msg = f"push failed: {reply!r}"
        raise BenchError(msg)


def _pa_pipelined(
    client: Client, counts: Counts, total: int, make_payload: Callable[[int], Any]
) -> tuple[float, float]:
    window = threading.Semaphore(counts.window)
    done = threading.Event()
    answered = itertools.count(1)
    failures: list[Event] = []

    def on_event(event: Event) -> None:
        if isinstance(event, PushOk):
            if event.push.event != "echo":
                return
            window.release()
            if next(answered) == total:
                done.set()
        elif isinstance(event, PushError | PushTimeout):
            failures.append(event)
            done.set()

    unsubscribe = client.subscribe(on_event)
    try:
        cpu0 = cpu_seconds()
        start = time.perf_counter()
        for i in range(total):
            if not window.acquire(timeout=counts.timeout) or failures:
                break
            client.tell(Push(TOPIC, "echo", make_payload(i)))
        finished = done.wait(counts.timeout)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds() - cpu0
    finally:
        unsubscribe()
    if failures or not finished:
        msg = f"pipelined run failed: {failures[:1]!r} (finished={finished})"
        raise BenchError(msg)
    return total / elapsed, cpu / total * 1e6


def _pa_asks(client: Client, counts: Counts) -> tuple[float, float]:
    window = threading.Semaphore(counts.window)
    done = threading.Event()
    answered = itertools.count(1)
    failures: list[object] = []

    def on_done(reply: Reply) -> None:
        window.release()
        if reply.exception() is not None or not isinstance(reply.result(), PushOk):
            failures.append(reply.exception() or reply.result())
            done.set()
        elif next(answered) == counts.total:
            done.set()

    cpu0 = cpu_seconds()
    start = time.perf_counter()
    for i in range(counts.total):
        if not window.acquire(timeout=counts.timeout) or failures:
            break
        client.submit(Push(TOPIC, "echo", {"i": i})).add_done_callback(on_done)
    finished = done.wait(counts.timeout)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    if failures or not finished:
        msg = f"pipelined asks failed: {failures[:1]!r} (finished={finished})"
        raise BenchError(msg)
    return counts.total / elapsed, cpu / counts.total * 1e6


def _pa_broadcast(client: Client, counts: Counts) -> tuple[float, float]:
    n = counts.fanout
    done = threading.Event()
    ticks = itertools.count(1)

    def on_event(event: Event) -> None:
        if isinstance(event, ChannelEvent) and event.event == "tick" and next(ticks) == n:
            done.set()

    unsubscribe = client.subscribe(on_event)
    try:
        cpu0 = cpu_seconds()
        start = time.perf_counter()
        _expect_ok(client.ask(Push(TOPIC, "fanout", {"n": n})))
        finished = done.wait(counts.timeout)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds() - cpu0
    finally:
        unsubscribe()
    if not finished:
        raise BenchError("not every tick arrived")
    return n / elapsed, cpu / n * 1e6


# -- bare websocket-client loop -------------------------------------------------------


class Bare:
    """V2 frames by hand over ``websocket.create_connection``, msgspec both ways."""

    def __init__(self, url: str) -> None:
        """Connect and join ``bench:1``."""
        self.ws = websocket.create_connection(
            url + "/websocket?vsn=2.0.0", skip_utf8_validation=True, enable_multithread=True
        )
        self.encode = msgspec.json.Encoder().encode
        self.decode = msgspec.json.Decoder(list[Any]).decode
        self.refs = itertools.count(2)
        self.ws.send(self.encode(["1", "1", TOPIC, "phx_join", {}]))
        reply = self.decode(self.ws.recv())
        if reply[3] != "phx_reply" or reply[4].get("status") != "ok":
            msg = f"join failed: {reply!r}"
            raise BenchError(msg)

    def push(self, event: str, payload: Any) -> None:
        """Send one push frame."""
        self.ws.send(self.encode(["1", str(next(self.refs)), TOPIC, event, payload]))

    def reply(self) -> list[Any]:
        """Receive frames until a ``phx_reply``; return it."""
        while True:
            frame = self.decode(self.ws.recv())
            if frame[3] == "phx_reply":
                return frame

    def close(self) -> None:
        """Close the connection."""
        self.ws.close()


def bench_bare(url: str, counts: Counts, tests: list[str]) -> dict[str, float]:
    """The three measurements with the bare loop."""
    bare = Bare(url)
    try:
        bare.ws.settimeout(counts.timeout)
        out: dict[str, float] = {}
        if "sequential" in tests:
            for i in range(counts.warmup):
                bare.push("echo", {"i": i})
                bare.reply()
            samples = []
            for i in range(counts.sequential):
                start = time.perf_counter()
                bare.push("echo", {"i": i})
                bare.reply()
                samples.append(time.perf_counter() - start)
            out |= latency_figures(samples)
        if "pipelined" in tests:
            rate, cpu = _bare_pipelined(bare, counts, counts.total, lambda i: {"i": i})
            out |= {"pipe_rate": rate, "pipe_cpu_us": cpu}
        if "broadcast" in tests:
            n = counts.fanout
            cpu0 = cpu_seconds()
            start = time.perf_counter()
            bare.push("fanout", {"n": n})
            ticks = 0
            while ticks < n:
                frame = bare.decode(bare.ws.recv())
                if frame[3] == "tick":
                    ticks += 1
            elapsed = time.perf_counter() - start
            cpu = cpu_seconds() - cpu0
            out |= {"tick_rate": n / elapsed, "tick_cpu_us": cpu / n * 1e6}
            bare.reply()  # the fanout's own reply (sent after the ticks)
        if "big" in tests:
            body = "x" * counts.big_size
            rate, cpu = _bare_pipelined(
                bare, counts, counts.big_total, lambda i: {"i": i, "body": body}
            )
            out |= {"big_rate": rate, "big_cpu_us": cpu}
        return out
    finally:
        bare.close()


def _bare_pipelined(
    bare: Bare, counts: Counts, total: int, make_payload: Callable[[int], Any]
) -> tuple[float, float]:
    """A writer (this thread) and a reader thread, ``window`` pushes in flight."""
    window = threading.Semaphore(counts.window)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(total):
                frame = bare.reply()
                window.release()
                if frame[4].get("status") != "ok":
                    failures.append(BenchError(f"push failed: {frame!r}"))
                    return
        except BaseException as exc:  # noqa: BLE001 (reported by the writer)
            failures.append(exc)
            window.release()

    cpu0 = cpu_seconds()
    start = time.perf_counter()
    reader = threading.Thread(target=read, name="bench-bare-reader", daemon=True)
    reader.start()
    for i in range(total):
        if not window.acquire(timeout=counts.timeout) or failures:
            break
        bare.push("echo", make_payload(i))
    reader.join(counts.timeout)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    if failures or reader.is_alive():
        msg = f"bare pipelined run failed: {failures[:1]!r}"
        raise BenchError(msg)
    return total / elapsed, cpu / total * 1e6


# -- phoenix_actors, asyncio ----------------------------------------------------------


def bench_async(url: str, counts: Counts, tests: list[str]) -> dict[str, float]:
    """Sequential and pipelined awaited asks with ``phoenix_actors.AsyncClient``."""
    return asyncio.run(_async_bench(url, counts, tests))


async def _async_bench(url: str, counts: Counts, tests: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    async with AsyncClient(url) as client:
        joined = await client.ask(Join(TOPIC))
        if not isinstance(joined, JoinOk):
            msg = f"join failed: {joined!r}"
            raise BenchError(msg)
        if "sequential" in tests:
            for i in range(counts.warmup):
                _expect_ok(await client.ask(Push(TOPIC, "echo", {"i": i})))
            samples = []
            for i in range(counts.sequential):
                start = time.perf_counter()
                reply = await client.ask(Push(TOPIC, "echo", {"i": i}))
                samples.append(time.perf_counter() - start)
                _expect_ok(reply)
            out |= latency_figures(samples)
        if "pipelined" in tests:
            rate, cpu = await _async_pipelined(client, counts)
            out |= {"pipe_rate": rate, "pipe_cpu_us": cpu}
        if "asks" in tests:
            rate, cpu = await _async_asks(client, counts)
            out |= {"ask_rate": rate, "ask_cpu_us": cpu}
    return out


async def _async_pipelined(client: AsyncClient, counts: Counts) -> tuple[float, float]:
    """Told pushes, replies read from ``events()``: the blocking pipelined test, async."""
    window = asyncio.Semaphore(counts.window)
    feed = client.events(timeout=counts.timeout, backlog=counts.total + counts.window)
    answered = 0

    async def read() -> None:
        nonlocal answered
        async for event in feed:
            if isinstance(event, PushOk) and event.push.event == "echo":
                window.release()
                answered += 1
                if answered == counts.total:
                    return
            elif isinstance(event, PushError | PushTimeout):
                msg = f"pipelined run failed: {event!r}"
                raise BenchError(msg)

    cpu0 = cpu_seconds()
    start = time.perf_counter()
    reader = asyncio.create_task(read())
    for i in range(counts.total):
        await window.acquire()
        if reader.done():
            break
        client.tell(Push(TOPIC, "echo", {"i": i}))
    await reader
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    if answered != counts.total:
        msg = f"pipelined run ended after {answered} replies"
        raise BenchError(msg)
    return counts.total / elapsed, cpu / counts.total * 1e6


async def _async_asks(client: AsyncClient, counts: Counts) -> tuple[float, float]:
    """One task awaiting ``ask`` per push, ``window`` in flight."""
    window = asyncio.Semaphore(counts.window)

    async def one(i: int) -> None:
        try:
            _expect_ok(await client.ask(Push(TOPIC, "echo", {"i": i})))
        finally:
            window.release()

    cpu0 = cpu_seconds()
    start = time.perf_counter()
    tasks = []
    for i in range(counts.total):
        await window.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    return counts.total / elapsed, cpu / counts.total * 1e6


# -- event-loop lag during a flood ----------------------------------------------------


async def _pa_flood(url: str, counts: Counts) -> LoopLag:
    async with AsyncClient(url) as client:
        if not isinstance(await client.ask(Join(TOPIC)), JoinOk):
            raise BenchError("join failed")
        feed = client.events(timeout=counts.timeout)
        async with LoopWatch() as watch:
            client.tell(Push(TOPIC, "fanout", {"n": counts.flood}))
            async for event in feed:
                if (
                    isinstance(event, ChannelEvent)
                    and event.event == "tick"
                    and event.payload["i"] == counts.flood
                ):
                    break
    return watch.result()


async def _aiohttp_flood(url: str, counts: Counts) -> LoopLag:
    import aiohttp  # noqa: PLC0415 - only this measurement needs it (a dev dependency)

    decode = msgspec.json.Decoder(list[Any]).decode
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "/websocket?vsn=2.0.0") as ws,
    ):
        await ws.send_str(json.dumps(["1", "1", TOPIC, "phx_join", {}]))
        await ws.receive(counts.timeout)
        async with LoopWatch() as watch:
            await ws.send_str(json.dumps(["1", "2", TOPIC, "fanout", {"n": counts.flood}]))
            while True:
                frame = decode((await ws.receive(counts.timeout)).data)
                if frame[3] == "tick" and frame[4]["i"] == counts.flood:
                    break
    return watch.result()


def bench_loop_lag(url: str, counts: Counts) -> dict[str, list[LoopLag]]:
    """Floods read by the async client and by aiohttp, interleaved."""
    out: dict[str, list[LoopLag]] = {"pa-async": [], "aiohttp": []}
    for _ in range(counts.flood_runs):
        out["pa-async"].append(asyncio.run(_pa_flood(url, counts)))
        out["aiohttp"].append(asyncio.run(_aiohttp_flood(url, counts)))
    return out


def print_lag(lags: dict[str, list[LoopLag]], counts: Counts) -> None:
    """Per client, the median over the runs of each figure (ms)."""
    print(
        f"event-loop lag during a {counts.flood:,}-tick flood: a 1 ms probe's lateness and the "
        f"longest CPU one loop callback took (ms, median of {counts.flood_runs} runs)"
    )
    for name, runs in lags.items():

        def mid(values: list[float]) -> float:
            return sorted(values)[len(values) // 2] * 1e3

        print(
            f"  {name:10} p50 {mid([r.p50 for r in runs]):6.2f}  "
            f"p99 {mid([r.p99 for r in runs]):6.2f}  max {mid([r.max for r in runs]):6.2f}  "
            f"longest callback {mid([r.longest_callback for r in runs]):6.2f}"
        )


# -- phoenix.js -----------------------------------------------------------------------


def bench_phoenix_js(url: str, counts: Counts, tests: list[str]) -> dict[str, float]:
    """Run the node client; parse its JSON line."""
    node = shutil.which("node")
    if node is None:
        raise BenchError("node is not installed")
    config = {
        "url": url,
        "topic": TOPIC,
        "warmup": counts.warmup,
        "sequential": counts.sequential,
        "total": counts.total,
        "window": counts.window,
        "fanout": counts.fanout,
        "big_total": counts.big_total,
        "big_size": counts.big_size,
        "timeout": int(counts.timeout * 1000),
        "only": tests,
    }
    proc = subprocess.run(
        [node, JS_CLIENT.name],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        cwd=JS_DIR,
        timeout=counts.timeout * 4,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        msg = f"node exited {proc.returncode}: {proc.stderr[-1000:]}"
        raise BenchError(msg)
    return {key: float(value) for key, value in json.loads(lines[-1]).items()}


BENCHES: dict[str, Callable[[str, Counts, list[str]], dict[str, float]]] = {
    "phoenix_actors": bench_phoenix_actors,
    "pa-async": bench_async,
    "phoenix.js": bench_phoenix_js,
    "bare": bench_bare,
}


# -- many clients ---------------------------------------------------------------------


def many_worker(url: str, clients: int, channels: int, timeout: float) -> None:
    """``clients`` Clients x ``channels`` joins in this process; print a JSON line.

    Every join is told at once (the socket connects on the first one); the figure is
    the time of the last ``JoinOk``. Joins still queued at the deadline are counted.
    """
    total = clients * channels
    done = threading.Event()
    lock = threading.Lock()
    joined = 0
    last = 0.0

    def on_event(event: Event) -> None:
        nonlocal joined, last
        if isinstance(event, JoinOk):
            with lock:
                joined += 1
                last = time.perf_counter()
                if joined == total:
                    done.set()

    start = time.perf_counter()
    pool = [Client(url) for _ in range(clients)]
    try:
        for index, client in enumerate(pool):
            client.subscribe(on_event)
            for channel in range(channels):
                client.tell(Join(f"bench:many{index}x{channel}"))
        done.wait(timeout)
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        threads = threading.active_count()
        stuck = sum(len(client.ask(GetQueuedChannels())) for client in pool)
    finally:
        for client in pool:
            client.stop()
    with lock:
        figures = {"joined": joined, "joined_s": last - start if joined else None}
    figures |= {"total": total, "stuck": stuck, "rss_mb": rss_kb / 1024, "threads": threads}
    print(json.dumps(figures), flush=True)


def run_many(url: str, *, quick: bool) -> dict[str, Any]:
    """Run :func:`many_worker` in a fresh process (so the RSS is its own)."""
    clients, channels = (5, 2) if quick else (100, 10)
    proc = subprocess.run(
        [sys.executable, __file__, "--url", url, "--many-worker", f"{clients}x{channels}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        msg = f"many worker exited {proc.returncode}: {proc.stderr[-1000:]}"
        raise BenchError(msg)
    return {"clients": clients, "channels": channels, **json.loads(lines[-1])}


# -- report ---------------------------------------------------------------------------

ROWS = (
    ("p50_us", "sequential p50 latency (us)"),
    ("p99_us", "sequential p99 latency (us)"),
    ("pipe_rate", "pipelined replies/s"),
    ("pipe_cpu_us", "pipelined CPU per reply (us)"),
    ("ask_rate", "pipelined asks/s"),
    ("ask_cpu_us", "pipelined asks CPU per reply (us)"),
    ("tick_rate", "broadcast ticks/s"),
    ("tick_cpu_us", "broadcast CPU per tick (us)"),
    ("big_rate", "10 KB pipelined replies/s"),
    ("big_cpu_us", "10 KB CPU per reply (us)"),
)


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    keys = {key for figures in rounds for key in figures}
    return {key: statistics.median(f[key] for f in rounds if key in f) for key in keys}


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def print_table(results: dict[str, Result]) -> None:
    """Each figure for each client, and the phoenix_actors ratios."""
    names = list(results)
    header = f"{'':32}" + "".join(f"{name:>16}" for name in names)
    header += f"{'pa/phoenix.js':>15}{'pa/bare':>10}{'async/pa':>10}"
    print(header)
    print("-" * len(header))
    for key, label in ROWS:
        values = {name: results[name].figures.get(key) for name in names}
        if all(value is None for value in values.values()):
            continue
        pa = values.get("phoenix_actors")
        line = f"{label:32}" + "".join(f"{_cell(values[name]):>16}" for name in names)
        line += f"{_ratio(pa, values.get('phoenix.js')):>15}{_ratio(pa, values.get('bare')):>10}"
        line += f"{_ratio(values.get('pa-async'), pa):>10}"
        print(line)
    for name, result in results.items():
        if result.error is not None:
            print(f"{name}: FAILED: {result.error}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (1 if a client failed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running server (default: start the bundled one)")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated clients ({', '.join(CLIENTS)}) and/or tests ({', '.join(TESTS)})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every client, interleaved; each figure is its median (default 3)",
    )
    parser.add_argument("--many", action="store_true", help="also 100 clients x 10 channels")
    parser.add_argument("--many-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.many_worker:
        n_clients, n_channels = (int(part) for part in args.many_worker.split("x"))
        many_worker(args.url, n_clients, n_channels, timeout=MANY_DEADLINE)
        return 0

    chosen = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in CLIENTS + TESTS]
    if unknown:
        parser.error(f"unknown --only names: {unknown}")
    clients = [name for name in CLIENTS if name in chosen] or list(CLIENTS)
    tests = [name for name in TESTS if name in chosen] or list(TESTS)
    counts = QUICK if args.quick else Counts()
    if args.quick:
        args.rounds = 1

    one, five, fifteen = os.getloadavg()
    print(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)")
    print(
        f"counts: {counts.sequential} sequential after {counts.warmup} warm-up; "
        f"{counts.total} pipelined, {counts.window} in flight; fanout {counts.fanout}; "
        f"{counts.big_total} x {counts.big_size // 1024} KB pipelined; "
        f"loop lag: {counts.flood_runs} x {counts.flood} ticks; "
        f"medians of {args.rounds} interleaved rounds",
        flush=True,
    )
    server = None if args.url else ServerProcess()
    url = args.url or (server.url if server is not None else "")
    print(f"server: {url}{' (bundled, own process)' if server is not None else ''}", flush=True)
    results: dict[str, Result] = {}
    many: dict[str, Any] | None = None
    lags: dict[str, list[LoopLag]] | None = None
    lag_error: str | None = None
    started = time.perf_counter()
    try:
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
        for number in range(1, args.rounds + 1):
            for name in clients:  # interleaved: drift on the machine hits every client
                t0 = time.perf_counter()
                try:
                    rounds[name].append(BENCHES[name](url, counts, tests))
                except Exception as exc:  # noqa: BLE001 (reported in the table)
                    results[name] = Result(error=f"{type(exc).__name__}: {exc}")
                elapsed = time.perf_counter() - t0
                print(f"  round {number}: {name} done in {elapsed:.1f} s", flush=True)
        for name, figures in rounds.items():
            if name not in results:
                results[name] = Result(_medians(figures))
        if "loop" in tests and "pa-async" in clients:
            t0 = time.perf_counter()
            try:
                lags = bench_loop_lag(url, counts)
            except Exception as exc:  # noqa: BLE001 (reported below)
                lag_error = f"{type(exc).__name__}: {exc}"
            print(f"  loop lag: done in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.many:
            try:
                many = run_many(url, quick=args.quick)
            except Exception as exc:  # noqa: BLE001 (reported below)
                many = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        if server is not None:
            server.stop()
    print()
    print_table(results)
    if lags is not None:
        print()
        print_lag(lags, counts)
    if lag_error is not None:
        print(f"\nloop lag: FAILED: {lag_error}")
    if many is not None:
        print()
        if "error" in many:
            print(f"many clients: FAILED: {many['error']}")
        else:
            joined_s = many["joined_s"]
            print(
                f"many clients: {many['clients']} clients x {many['channels']} channels: "
                f"{many['joined']}/{many['total']} joined, the last after "
                f"{'-' if joined_s is None else f'{joined_s:.2f}'} s; "
                f"peak RSS {many['rss_mb']:.0f} MB; {many['threads']} threads"
            )
            if many["stuck"]:
                print(
                    f"  WARNING: {many['stuck']} joins still queued after {MANY_DEADLINE:.0f} s "
                    "(told while the socket was opening, never sent)"
                )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    failed = any(result.error is not None for result in results.values())
    failed = failed or (many is not None and "error" in many) or lag_error is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
