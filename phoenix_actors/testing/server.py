"""Start the bundled loopback server from tests, without importing aiohttp up front.

The client works without the ``[server]`` extra; only calling these
functions needs aiohttp::

    from phoenix_actors.testing.server import running_server

    with running_server() as server:      # demo channels, 127.0.0.1, a free port
        ...                               # server.url == "ws://127.0.0.1:PORT/socket"
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoenix_actors.server.loopback import LoopbackServer

__all__ = ["make_server", "running_server"]


def make_server(**options: Any) -> LoopbackServer:
    """Create (not start) a :class:`~phoenix_actors.server.LoopbackServer` with ``options``.

    Raises:
        ImportError: aiohttp is missing (install ``phoenix-actors[server]``).
    """
    try:
        from phoenix_actors.server.loopback import LoopbackServer  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        msg = "the loopback server needs aiohttp: pip install 'phoenix-actors[server]'"
        raise ImportError(msg) from exc
    return LoopbackServer(**options)


@contextlib.contextmanager
def running_server(**options: Any) -> Iterator[LoopbackServer]:
    """Run a loopback server for the ``with`` block (stopped, thread joined, on exit)."""
    server = make_server(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
