"""A Phoenix-protocol server for loopback: the demo, this project's tests, and yours.

It speaks the wire protocol of Phoenix Channels closely enough that the
official JavaScript client cannot tell the difference: V1 and V2
serializers (text and binary frames), heartbeats, joins, replies,
``phx_close`` / ``phx_error``, presence with real diffs, socket ids and
forced disconnects, Phoenix's close codes. Channels are small Python
classes (:class:`Channel`); see :mod:`phoenix_actors.server.api`.

* :class:`LoopbackServer`: run it in a background thread (sync code, tests).
* :class:`PhoenixServer`: the same server inside your own asyncio loop.
* the ``phoenix_server`` pytest fixture (:mod:`phoenix_actors.testing.plugin`).
* ``phoenix-actors serve``: from the command line.

Needs the ``[server]`` extra (aiohttp).
"""

from __future__ import annotations

from phoenix_actors.server.api import (
    Channel,
    ChannelFactory,
    ConnectHook,
    ConnectInfo,
    Error,
    HandleResult,
    JoinResult,
    NoReply,
    Ok,
    Reply,
    SocketIdHook,
    Stop,
)
from phoenix_actors.server.app import PhoenixServer, SocketInfo
from phoenix_actors.server.faults import Faults
from phoenix_actors.server.loopback import LoopbackServer
from phoenix_actors.server.presence import Diff, FetchHook, Presences, PresenceTracker
from phoenix_actors.server.routing import Router
from phoenix_actors.server.runtime import ChannelSocket

__all__ = [
    "Channel",
    "ChannelFactory",
    "ChannelSocket",
    "ConnectHook",
    "ConnectInfo",
    "Diff",
    "Error",
    "Faults",
    "FetchHook",
    "HandleResult",
    "JoinResult",
    "LoopbackServer",
    "NoReply",
    "Ok",
    "PhoenixServer",
    "PresenceTracker",
    "Presences",
    "Reply",
    "Router",
    "SocketIdHook",
    "SocketInfo",
    "Stop",
]
