"""The pytest plugin of phoenix_actors (entry point ``phoenix_actors``).

Fixtures:

* ``phoenix_server``: a :class:`~phoenix_actors.server.LoopbackServer`
  serving the demo channels on 127.0.0.1 and a free port, started for the
  test and stopped after it (needs the ``[server]`` extra)::

      def test_join(phoenix_server):
          client = Client(phoenix_server.url)
          ...

aiohttp is imported only when the fixture is used, so the plugin loads
without the extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from phoenix_actors.testing.server import running_server

if TYPE_CHECKING:
    from phoenix_actors.server.loopback import LoopbackServer

__all__ = ["phoenix_server"]


@pytest.fixture
def phoenix_server() -> Iterator[LoopbackServer]:
    """A running loopback server with the demo channels (function scope)."""
    with running_server() as server:
        yield server
