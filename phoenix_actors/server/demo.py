"""The demo socket and channels: the server's defaults, scripted for tests and the demo.

Socket: ``token=bad`` is refused (HTTP 403); otherwise ``user_id`` comes
from the params (8 random hex characters when absent) and the socket id
is ``user_socket:<user_id>``. Presence entries get ``{"user": {"name":
"user-<key>"}}`` beside their metas (the fetch hook).

``room:<name>`` (:class:`RoomChannel`): a join payload with ``reject`` is
refused ``{"reason": "rejected"}``; ``room:private`` needs ``{"password":
"secret"}`` (else ``{"reason": "unauthorized"}``); an ok join replies
``{"joined": name, "user_id": id}``, tracks the user with ``{"online_at":
<unix seconds>}`` and pushes ``presence_state``. Events:

================  ==============================================================
``ping``          reply ok with the payload (bytes in, binary reply out)
``error_reply``   reply error ``{"reason": "asked"}``
``shout``         broadcast ``shout`` to every subscriber, sender included
``shout_others``  the same, sender excluded
``slow``          reply ok with the payload after ``ms`` (1000) ms, blocking the channel
``async_reply``   reply ok with the payload after ``ms`` (1000) ms, not blocking
``noreply``       nothing
``crash``         raise (the client gets ``phx_error``)
``stop``          reply ok ``{"stopping": true}``, then ``phx_close``
``push_back``     push ``payload["event"]`` (``pushed``) with the payload, reply ok ``{}``
``push_many``     push ``n`` (10) ``seq`` events ``{"i": 1..n}``, reply ok ``{"sent": n}``
``binary``        bytes: reply ok with them; JSON: error ``expected binary payload``
``update_meta``   merge the payload into the presence meta, reply ok ``{"updated": true}``
``whoami``        reply ok with user_id, socket_id, topic, join_ref, params,
                  transport, serializer
``disconnect_me`` disconnect every socket of this user (close 1001)
anything else     error ``{"reason": "unknown event", "event": event}``
================  ==============================================================

``bench:*`` (:class:`BenchChannel`): join ok ``{}``; ``echo`` replies ok
with the payload; ``fanout`` ``{"n": N}`` broadcasts ``tick`` ``{"i":
1..N}`` then replies ok ``{"sent": N}``.
"""

# ruff: noqa: ARG002 - every scripted event handler shares one signature

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from phoenix_actors.server.api import (
    Channel,
    ChannelFactory,
    ConnectInfo,
    Error,
    HandleResult,
    JoinResult,
    NoReply,
    Ok,
    Reply,
    Stop,
)
from phoenix_actors.server.presence import Presences
from phoenix_actors.server.runtime import ChannelSocket

__all__ = [
    "BenchChannel",
    "RoomChannel",
    "demo_connect",
    "demo_events",
    "demo_fetch",
    "demo_routes",
    "demo_socket_id",
]

DEFAULT_DELAY_MS: Final = 1000
DEFAULT_PUSH_COUNT: Final = 10


def demo_connect(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any] | None:
    """Refuse ``token=bad``; otherwise assign ``user_id`` (from params, or random)."""
    del info
    if params.get("token") == "bad":
        return None
    return {"user_id": params.get("user_id") or secrets.token_hex(4)}


def demo_socket_id(assigns: dict[str, Any]) -> str | None:
    """Return ``user_socket:<user_id>``."""
    return f"user_socket:{assigns['user_id']}"


def demo_fetch(topic: str, presences: Presences) -> Presences:
    """Add ``{"user": {"name": "user-<key>"}}`` to every presence entry."""
    del topic
    return {key: {**entry, "user": {"name": f"user-{key}"}} for key, entry in presences.items()}


def _opts(payload: Any) -> dict[str, Any]:
    return payload if isinstance(payload, dict) else {}


def _int(payload: Any, key: str, default: int) -> int:
    value = _opts(payload).get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class RoomChannel(Channel):
    """``room:*``: the scripted demo channel (see the module docstring)."""

    user_id: str = ""

    async def join(self, topic: str, payload: Any, socket: ChannelSocket) -> JoinResult:
        """Refuse on ``reject`` or a wrong private password; otherwise ok."""
        name = topic.partition(":")[2]
        opts = _opts(payload)
        if "reject" in opts:
            return Error({"reason": "rejected"})
        if name == "private" and opts.get("password") != "secret":
            return Error({"reason": "unauthorized"})
        self.user_id = str(socket.assigns["user_id"])
        return Ok({"joined": name, "user_id": self.user_id})

    async def after_join(self, socket: ChannelSocket) -> None:
        """Track the user and push ``presence_state``."""
        socket.track(self.user_id, {"online_at": int(time.time())})
        socket.push("presence_state", socket.presence_list())

    async def handle_in(self, event: str, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Dispatch to the scripted events."""
        handler = self._events.get(event)
        if handler is None:
            return Reply("error", {"reason": "unknown event", "event": event})
        result: HandleResult = await handler(self, payload, socket)
        return result

    async def _ping(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply ok with the payload (bytes in, binary reply out)."""
        return Reply("ok", payload)

    async def _error_reply(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply error ``{"reason": "asked"}``."""
        return Reply("error", {"reason": "asked"})

    async def _shout(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Broadcast ``shout`` with the payload to every subscriber, sender included."""
        socket.broadcast("shout", payload)
        return NoReply()

    async def _shout_others(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Broadcast ``shout`` with the payload, sender excluded."""
        socket.broadcast_from("shout", payload)
        return NoReply()

    async def _slow(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply ok with the payload after ``ms`` (1000) ms, blocking the channel."""
        await asyncio.sleep(_int(payload, "ms", DEFAULT_DELAY_MS) / 1000)
        return Reply("ok", payload)

    async def _async_reply(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply ok with the payload after ``ms`` (1000) ms, not blocking."""
        ref = socket.ref

        async def later() -> None:
            await asyncio.sleep(_int(payload, "ms", DEFAULT_DELAY_MS) / 1000)
            socket.reply(ref, "ok", payload)

        socket.start_task(later())
        return NoReply()

    async def _noreply(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Do nothing (the push times out)."""
        return NoReply()

    async def _crash(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Raise (the client gets ``phx_error``)."""
        raise RuntimeError("crash requested by the client")

    async def _stop(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply ok ``{"stopping": true}``, then ``phx_close``."""
        return Stop("normal", Reply("ok", {"stopping": True}))

    async def _push_back(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Push ``payload["event"]`` (``pushed``) with the payload, reply ok ``{}``."""
        event = _opts(payload).get("event", "pushed")
        socket.push(event if isinstance(event, str) else "pushed", payload)
        return Reply("ok", {})

    async def _push_many(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Push ``n`` (10) ``seq`` events ``{"i": 1..n}``, reply ok ``{"sent": n}``."""
        n = _int(payload, "n", DEFAULT_PUSH_COUNT)
        for i in range(1, n + 1):
            socket.push("seq", {"i": i})
        return Reply("ok", {"sent": n})

    async def _binary(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Bytes: reply ok with them; JSON: reply error ``expected binary payload``."""
        if isinstance(payload, bytes):
            return Reply("ok", payload)
        return Reply("error", {"reason": "expected binary payload"})

    async def _update_meta(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Merge the payload into the presence meta, reply ok ``{"updated": true}``."""
        extra = _opts(payload)
        socket.update(self.user_id, lambda old: {**old, **extra})
        return Reply("ok", {"updated": True})

    async def _whoami(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Reply ok with user_id, socket_id, topic, join_ref, params, transport, serializer."""
        return Reply(
            "ok",
            {
                "user_id": self.user_id,
                "socket_id": socket.socket_id,
                "topic": socket.topic,
                "join_ref": socket.join_ref,
                "params": socket.params,
                "transport": socket.transport,
                "serializer": socket.serializer,
            },
        )

    async def _disconnect_me(self, payload: Any, socket: ChannelSocket) -> HandleResult:
        """Disconnect every socket of this user (close 1001)."""
        if socket.socket_id is not None:
            socket.server.disconnect(socket.socket_id)
        return NoReply()

    _events: Final[dict[str, Callable[[RoomChannel, Any, ChannelSocket], Any]]] = {
        "ping": _ping,
        "error_reply": _error_reply,
        "shout": _shout,
        "shout_others": _shout_others,
        "slow": _slow,
        "async_reply": _async_reply,
        "noreply": _noreply,
        "crash": _crash,
        "stop": _stop,
        "push_back": _push_back,
        "push_many": _push_many,
        "binary": _binary,
        "update_meta": _update_meta,
        "whoami": _whoami,
        "disconnect_me": _disconnect_me,
    }

    @classmethod
    def event_help(cls) -> dict[str, str]:
        """Return ``{event: the first line of its handler's docstring}``, in table order."""
        return {name: (fn.__doc__ or "").partition("\n")[0] for name, fn in cls._events.items()}


class BenchChannel(Channel):
    """``bench:*``: the benchmark channel (``echo`` and ``fanout``)."""

    EVENTS: Final[Mapping[str, str]] = {
        "echo": "Reply ok with the payload.",
        "fanout": 'Broadcast ``n`` ``tick`` events ``{"i": 1..n}``, reply ok ``{"sent": n}``.',
    }
    """The events :meth:`handle_in` answers, with what each does (``serve --help`` lists them)."""

    async def join(self, topic: str, payload: Any, socket: ChannelSocket) -> JoinResult:
        """Always accept with ``{}``."""
        return Ok()

    async def handle_in(self, event: str, payload: Any, socket: ChannelSocket) -> HandleResult:
        """``echo`` replies with the payload; ``fanout`` broadcasts ``n`` ticks."""
        if event == "echo":
            return Reply("ok", payload)
        if event == "fanout":
            n = _int(payload, "n", 0)
            broadcast = socket.broadcast
            for i in range(1, n + 1):
                broadcast("tick", {"i": i})
            return Reply("ok", {"sent": n})
        return Reply("error", {"reason": "unknown event", "event": event})


def demo_events() -> dict[str, dict[str, str]]:
    """Return ``{topic pattern: {event: what it does}}`` for the demo channels.

    Built from the channels' own tables, so ``phoenix-actors serve --help``
    (which prints it) cannot drift from the code; any other event is
    answered error ``{"reason": "unknown event", "event": event}``.
    """
    return {"room:*": RoomChannel.event_help(), "bench:*": dict(BenchChannel.EVENTS)}


def demo_routes() -> dict[str, ChannelFactory]:
    """Return the demo routing table: ``room:*`` and ``bench:*``."""
    return {"room:*": RoomChannel, "bench:*": BenchChannel}
