"""What every transport does alike (their shared base, transport/_lifecycle.py)."""

from __future__ import annotations

import pytest

from phoenix_actors.testing.transport import MemoryTransport
from phoenix_actors.transport import TransportFactory, TransportOptions, WebSocketTransport
from phoenix_actors.transport.longpoll import LongPollTransport
from tests.transport.sinks import Recorder

URL = "ws://127.0.0.1:9/socket/websocket?token=t&vsn=2.0.0"  # never connected to


@pytest.mark.parametrize(
    "factory",
    [MemoryTransport, WebSocketTransport, LongPollTransport],
    ids=["memory", "websocket", "longpoll"],
)
def test_close_before_open_has_no_thread_and_no_callbacks(
    factory: TransportFactory, sink: Recorder
) -> None:
    transport = factory(URL, TransportOptions(), sink)
    transport.close()
    assert transport.ready_state == "closed"
    assert transport.join(0.0)
    with pytest.raises(RuntimeError):
        transport.open()
    assert sink.events == []
