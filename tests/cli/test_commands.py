"""``serve``, ``demo`` and ``--version``: banners, help texts and Ctrl-C, as subprocesses."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from phoenix_actors import __version__, cli
from phoenix_actors.server import demo
from phoenix_actors.server.admin import ADMIN_ROUTES
from tests.cli.conftest import WAIT, CliProcess, run_cli

ROUTE_LINE = re.compile(r"^\s+(GET|POST)\s+(https?://\S+)")
SAMPLE_SEGMENTS = {"{user_id}": "nobody", "{topic}": "room:lobby", "{event}": "news"}


def _status(method: str, url: str) -> int:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            status: int = response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    return status


def test_version_prints_the_package_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout == f"phoenix-actors {__version__}\n"


def test_serve_admin_banner_names_only_routes_that_answer(
    cli: Callable[..., CliProcess],
) -> None:
    serve = cli("serve", "--port", "0", "--admin")
    serve.line(lambda text: text.startswith("Serving Phoenix channels at ws://127.0.0.1:"))
    serve.line(lambda text: text.startswith("Press Ctrl-C"))
    routes = [m.groups() for m in map(ROUTE_LINE.match, serve.seen) if m]
    assert [(method, url.split("/", 3)[3]) for method, url in routes] == [
        (r.method, r.path.lstrip("/")) for r in ADMIN_ROUTES
    ]
    for method, url in routes:
        for placeholder, sample in SAMPLE_SEGMENTS.items():
            url = url.replace(placeholder, sample)  # noqa: PLW2901
        assert _status(method, url) == 200, (method, url)
    assert serve.interrupt() == 0
    serve.line(lambda text: text == "Stopped.")
    assert "Traceback" not in serve.stderr


def test_serve_without_admin_prints_no_routes_and_serves_none(
    cli: Callable[..., CliProcess],
) -> None:
    serve = cli("serve", "--port", "0")
    url = serve.line(lambda text: text.startswith("Serving"))
    serve.line(lambda text: text.startswith("Press Ctrl-C"))
    assert not [line for line in serve.seen if ROUTE_LINE.match(line)]
    http = url.rsplit(" ", 1)[1].replace("ws://", "http://").removesuffix("/socket")
    assert _status("GET", f"{http}/health") == 404
    assert serve.interrupt() == 0


def test_serve_help_lists_every_event_of_the_demo_channels() -> None:
    done = run_cli("serve", "--help")
    assert done.returncode == 0
    events = demo.demo_events()
    assert set(events) == set(demo.demo_routes())
    assert list(events["room:*"]) == list(demo.RoomChannel._events)
    for pattern, table in events.items():
        assert f"  {pattern}\n" in done.stdout
        for name, text in table.items():
            assert text, name
            assert re.search(rf"^\s+{name}\s+\S", done.stdout, re.MULTILINE), name


def test_the_demo_module_docstring_table_lists_the_same_room_events() -> None:
    doc = demo.__doc__ or ""
    table = doc.split("Events:", 1)[1].split("``bench:*``", 1)[0]
    listed = re.findall(r"^``(\w+)``\s", table, re.MULTILINE)
    assert listed == list(demo.RoomChannel._events)


def test_ctrl_c_on_demo_exits_130_at_once_without_a_traceback(
    cli: Callable[..., CliProcess],
) -> None:
    run = cli("demo")
    run.line(lambda text: "joined room:lobby" in text)
    assert run.interrupt() == 130
    assert "Traceback" not in run.stderr


def test_the_command_line_module_loads_nothing_heavy_before_its_ctrl_c_handler() -> None:
    """What the console script imports before ``main`` runs: no client, no server, no asyncio."""
    code = (
        "import sys, phoenix_actors.cli\n"
        "heavy = ('asyncio', 'pykka', 'websocket', 'msgspec', 'aiohttp',\n"
        "         'phoenix_actors.client', 'phoenix_actors.server')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_ctrl_c_while_the_command_line_is_still_loading_exits_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt  # as the first Ctrl-C does while the parser's imports load

    monkeypatch.setattr(cli, "_build_parser", interrupted)
    assert cli.main(["listen", "ws://127.0.0.1:9/socket", "room:lobby"]) == cli.INTERRUPTED
