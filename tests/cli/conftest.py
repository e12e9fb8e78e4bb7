"""Fixtures for the CLI tests: ``phoenix-actors`` subprocesses against a loopback server.

Each command runs as ``python -m phoenix_actors.cli ...``; two reader
threads move its stdout lines into a queue and collect its stderr, so a
test waits for a line with a deadline (never a sleep). The ``cli`` factory
kills whatever is still running when the test ends and joins the readers,
so the suite-wide leak fixture sees no thread left.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from phoenix_actors.clock import MonotonicClock
from phoenix_actors.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0
"""Seconds a wait for a line allows before the test fails."""
EXIT_WAIT = 5.0
"""Seconds a command gets to exit after Ctrl-C."""

_clock = MonotonicClock()


class CliProcess:
    """One ``phoenix-actors`` subprocess, its stdout lines in a queue, its stderr kept."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phoenix_actors.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._stderr: list[str | None] = []
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.proc.stdout, self.lines.put), name="cli-stdout"
            ),
            threading.Thread(
                target=self._read, args=(self.proc.stderr, self._stderr.append), name="cli-stderr"
            ),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], put: Callable[[str | None], None]) -> None:
        for line in stream:
            put(line.rstrip("\n"))
        put(None)  # EOF

    def line(self, predicate: Callable[[str], bool], timeout: float = WAIT) -> str:
        """Return the next stdout line ``predicate`` accepts (earlier ones are skipped)."""
        deadline = _clock.now() + timeout
        while True:
            remaining = deadline - _clock.now()
            try:
                if remaining <= 0:
                    raise queue.Empty
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                pytest.fail(f"no such line within {timeout} s; got {self.seen}\n{self.stderr}")
            if line is None:
                pytest.fail(f"stdout closed (exit {self.proc.poll()}); got {self.seen}")
            self.seen.append(line)
            if predicate(line):
                return line

    def event(self, kind: str, timeout: float = WAIT, **fields: Any) -> dict[str, Any]:
        """Return the next JSON line of ``"type": kind`` whose fields match ``fields``."""

        def wanted(line: str) -> bool:
            try:
                obj = json.loads(line)
            except ValueError:
                return False
            return obj.get("type") == kind and all(obj.get(k) == v for k, v in fields.items())

        found: dict[str, Any] = json.loads(self.line(wanted, timeout))
        return found

    def interrupt(self) -> int:
        """Send SIGINT (Ctrl-C); return the exit status, which must come within EXIT_WAIT s."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait(EXIT_WAIT)

    def wait(self, timeout: float = WAIT) -> int:
        """Wait for the exit and the readers; return the exit status."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    @property
    def stderr(self) -> str:
        """Everything read from stderr so far."""
        return "\n".join(line for line in self._stderr if line is not None)

    def close(self) -> None:
        """Kill the process if it still runs, then join the readers."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


@pytest.fixture
def cli() -> Iterator[Callable[..., CliProcess]]:
    """Start ``phoenix-actors ARGS...``; every process is gone when the test ends."""
    started: list[CliProcess] = []

    def start(*args: str) -> CliProcess:
        proc = CliProcess(*args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


def run_cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``phoenix-actors ARGS...`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "phoenix_actors.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """The demo channels on 127.0.0.1, a free port, with the admin routes."""
    with LoopbackServer(admin=True) as srv:
        yield srv
