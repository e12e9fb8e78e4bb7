"""Fixtures for the transport tests: loopback servers and a recording sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.transport.servers import Loop, WSServer
from tests.transport.sinks import Recorder


@pytest.fixture
def loop() -> Iterator[Loop]:
    lp = Loop()
    yield lp
    lp.stop()


@pytest.fixture
def server(loop: Loop) -> Iterator[WSServer]:
    srv = WSServer(loop)
    yield srv
    srv.stop()


@pytest.fixture
def sink() -> Recorder:
    return Recorder()
