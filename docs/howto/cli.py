"""The command line against the bundled server: the demo events, push, listen.

Each command runs as ``python -m phoenix_actors.cli`` (the ``phoenix-actors``
entry point); the server's port is shown as PORT.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import urllib.request

from phoenix_actors.server import LoopbackServer

CLI = [sys.executable, "-m", "phoenix_actors.cli"]
ENV = {**os.environ, "COLUMNS": "100"}  # argparse wraps help at the terminal's width


def show(text: str, server: LoopbackServer) -> None:
    print(text.replace(f"127.0.0.1:{server.port}", "127.0.0.1:PORT"))


def run(server: LoopbackServer, *args: str) -> None:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=30, env=ENV, check=False
    )
    show(f"$ phoenix-actors {shlex.join(args)}", server)
    show(done.stdout.rstrip("\n"), server)
    print(f"(exit status {done.returncode})\n")


with LoopbackServer(admin=True) as server:
    url = server.url

    # the events the demo channels answer, from `serve --help`
    help_text = subprocess.run(
        [*CLI, "serve", "--help"], capture_output=True, text=True, timeout=30, env=ENV, check=True
    ).stdout
    print(help_text[help_text.index("demo channels (") :])

    # serve --admin prints every admin route it serves (port 0: any free one)
    print("$ phoenix-actors serve --port 0 --admin")
    serve = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--admin"], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert serve.stdout is not None
    port = ""  # serve's own port, from its first line
    for line in serve.stdout:
        port = port or line.partition("127.0.0.1:")[2].partition("/")[0]
        print(line.rstrip("\n").replace(f"127.0.0.1:{port}", "127.0.0.1:PORT"))
        if line.startswith("Press Ctrl-C"):
            serve.send_signal(signal.SIGINT)
    print(f"(exit status {serve.wait(timeout=10)})\n")

    run(server, "push", url, "room:lobby", "ping", '{"n": 1}')
    run(server, "push", url, "room:lobby", "error_reply")
    run(server, "push", url, "room:lobby", "noreply", "--timeout", "0.5")
    run(server, "push", url, "room:private", "ping", "--join-payload", '{"password": "nope"}')

    # listen: one JSON line per event, until Ctrl-C (SIGINT); presence lines are
    # left out here because they carry timestamps
    show(f"$ phoenix-actors listen {url} room:lobby --param user_id=docs", server)
    listen = subprocess.Popen(
        [*CLI, "listen", url, "room:lobby", "--param", "user_id=docs"],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert listen.stdout is not None
    for line in listen.stdout:
        event = json.loads(line)
        if not event["type"].startswith("Presence"):
            show(line.rstrip("\n"), server)
        if event["type"] == "JoinOk":
            request = urllib.request.Request(
                f"{server.http_url}/admin/broadcast/room:lobby/news",
                data=b'{"headline": "hello"}',
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.loads(response.read()) == {"sent": 1}
        if event["type"] == "ChannelEvent":
            listen.send_signal(signal.SIGINT)
    print(f"^C (exit status {listen.wait(timeout=10)})")
