"""A process using the client exits: without ``stop()``, and on one Ctrl-C.

The server runs in the test process; each child is a fresh interpreter
(``sys.executable -c``) that talks to it over 127.0.0.1.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import sys
from pathlib import Path

from phoenix_actors import MonotonicClock
from phoenix_actors.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN = 10.0
clock = MonotonicClock()

JOIN_PUSH_AND_LEAVE = """
import sys
from phoenix_actors import Client, Join, JoinOk, Push, PushOk
client = Client(sys.argv[1])
joined = client.ask(Join("room:lobby"), timeout=5)
assert isinstance(joined, JoinOk), joined
pushed = client.ask(Push("room:lobby", "ping", {"x": 1}), timeout=5)
assert isinstance(pushed, PushOk), pushed
print("ok", flush=True)
"""

CREATE_AND_LEAVE = """
import sys
from phoenix_actors import Client
client = Client(sys.argv[1])
print("ok", flush=True)
"""

JOIN_AND_ITERATE = """
import sys
from phoenix_actors import Client, Join, JoinOk
client = Client(sys.argv[1])
joined = client.ask(Join("room:lobby"), timeout=5)
assert isinstance(joined, JoinOk), joined
print("ready", flush=True)
for event in client.events():
    pass
"""


def run_child(script: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: PLW1510 - the return code is asserted by the caller
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        timeout=EXIT_WITHIN,
        cwd=ROOT,
    )


def test_a_process_that_never_stops_its_client_exits_normally(server: LoopbackServer) -> None:
    start = clock.now()
    child = run_child(JOIN_PUSH_AND_LEAVE, server.url)
    elapsed = clock.now() - start
    assert child.returncode == 0, child.stderr
    assert child.stdout == "ok\n", (child.stdout, child.stderr)
    assert child.stderr == "", child.stderr
    assert elapsed < EXIT_WITHIN
    server.wait_for_sockets(0)  # its connection went away with it


def test_a_process_whose_client_never_joined_exits_normally(server: LoopbackServer) -> None:
    child = run_child(CREATE_AND_LEAVE, server.url)
    assert child.returncode == 0, child.stderr
    assert child.stdout == "ok\n", (child.stdout, child.stderr)
    assert child.stderr == "", child.stderr
    assert server.sockets() == []


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of the child's stdout, waited for with a deadline ("" at EOF or timeout)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline()


def test_one_ctrl_c_ends_a_process_iterating_over_events(server: LoopbackServer) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", JOIN_AND_ITERATE, server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = read_line(proc, EXIT_WITHIN)
        assert line == "ready\n", (line, proc.poll())
        server.wait_for_sockets(1)
        start = clock.now()
        proc.send_signal(signal.SIGINT)  # once
        _, stderr = proc.communicate(timeout=5.0)
        elapsed = clock.now() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5.0)
    assert proc.returncode is not None
    assert elapsed < 5.0, f"exited {elapsed:.2f} s after the SIGINT"
    assert "KeyboardInterrupt" in stderr, stderr
    assert stderr.count("Traceback") <= 1, stderr
    assert "Exception ignored" not in stderr, stderr
    assert stderr.count("KeyboardInterrupt") == 1, stderr
    server.wait_for_sockets(0)
