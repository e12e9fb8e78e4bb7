"""Two players of one scenario: phoenix.js (through ``tests/js/driver.mjs``) and our Client.

Each player owns a fresh :class:`LoopbackServer`, plays the steps, and keeps
the normalised events (:mod:`tests.scenarios.model`) it observed. A
:class:`~tests.scenarios.model.Wait` blocks (with a deadline) until enough
matching events arrived and moves the *cut*: only events up to the last
awaited one are compared, later ones depend on timing.
"""

from __future__ import annotations

import itertools
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import phoenix_actors as pa
from phoenix_actors.server import LoopbackServer
from phoenix_actors.server.api import Channel, ChannelFactory, ConnectInfo
from phoenix_actors.server.demo import demo_connect, demo_fetch, demo_routes, demo_socket_id
from tests.jsclient import ClosesOnExit, JsClient, as_bytes, b64
from tests.jsclient import Event as JsEvent
from tests.scenarios.model import (
    Connect,
    Disconnect,
    Fault,
    Join,
    Leave,
    Norm,
    Push,
    Scenario,
    Server,
    Step,
    Wait,
    matches,
)


def token_connect(params: Mapping[str, str], info: ConnectInfo) -> dict[str, Any]:
    """A connect hook exposing the auth token: user id ``<user_id>|<token or ->``."""
    return {"user_id": f"{params.get('user_id', '')}|{info.auth_token or '-'}"}


def ms(seconds: float) -> int:
    """Seconds to whole milliseconds (phoenix.js units)."""
    return round(seconds * 1000)


def _ref_label(ref: Any, current: str | None) -> str | None:
    if ref is None:
        return None
    return "current" if ref == current else "other"


def _whoami(event: str, response: Any, current: str | None) -> Any:
    """A ``whoami`` reply with its join_ref replaced by a label."""
    if event == "whoami" and isinstance(response, dict) and "join_ref" in response:
        return {**response, "join_ref": _ref_label(response["join_ref"], current)}
    return response


class _Refs:
    """Per-topic join_refs: labels fresh/same joins and whoami replies."""

    def __init__(self) -> None:
        self.current: dict[str, str | None] = {}

    def joined(self, topic: str, ref: str | None) -> str:
        label = "same" if topic in self.current and self.current[topic] == ref else "fresh"
        self.current[topic] = ref
        return label


def counted_routes(joins: Counter[str]) -> dict[str, ChannelFactory]:
    """The demo routes, counting in ``joins`` each channel join the server runs, by topic."""

    def counted(factory: ChannelFactory) -> ChannelFactory:
        def make() -> Channel:
            handler = factory()
            inner = handler.join

            async def join(topic: str, payload: Any, socket: Any) -> Any:
                joins[topic] += 1
                return await inner(topic, payload, socket)

            setattr(handler, "join", join)  # noqa: B010 - an instance override, not a typo
            return handler

        return make

    return {pattern: counted(factory) for pattern, factory in demo_routes().items()}


class Player(ClosesOnExit, ABC):
    """Plays a scenario on one client; keeps the normalised events and the cut."""

    side: str = "?"

    def __init__(self, scenario: Scenario) -> None:
        """Start a fresh server for ``scenario``; the client starts in :meth:`play`."""
        self.scenario = scenario
        self.joins: Counter[str] = Counter()
        """Channels the server started, by topic (updated on the server's thread)."""
        self.server = LoopbackServer(
            counted_routes(self.joins),
            connect=token_connect if scenario.token_in_user_id else demo_connect,
            socket_id=demo_socket_id,
            presence_fetch=demo_fetch,
        )
        self.server.start()
        self.cut = 0
        """Number of leading normalised events that are compared."""

    @property
    @abstractmethod
    def cond(self) -> threading.Condition:
        """Notified whenever a raw event arrives."""

    @abstractmethod
    def normalised(self) -> list[Norm]:
        """Every event so far, normalised (append-only as raw events arrive)."""

    @abstractmethod
    def do(self, step: Step) -> None:
        """Carry out a client step (not Wait, Fault, Server)."""

    def play(self) -> list[Norm]:
        """Play every step; return the compared prefix of the normalised events."""
        for step in self.scenario.steps:
            match step:
                case Wait():
                    self.wait(step)
                case Fault(name=name, args=args):
                    getattr(self.server.faults, name)(*args)
                case Server(action="restart"):
                    self.server.restart()
                case Server(action="disconnect"):
                    self.server.disconnect(f"user_socket:{self._user_id()}")
                case _:
                    self.do(step)
        return self.normalised()[: self.cut]

    def _user_id(self) -> str:
        s = self.scenario
        return f"{s.user_id}|{s.auth_token or '-'}" if s.token_in_user_id else s.user_id

    def wait(self, step: Wait) -> None:
        """Block until ``step.count`` events match ``step.pattern``; move the cut."""
        seen: list[Norm] = []

        def ready() -> bool:
            seen[:] = self.normalised()
            hits = [i for i, e in enumerate(seen) if matches(e, step.pattern)]
            if len(hits) >= step.count:
                self.cut = max(self.cut, hits[step.count - 1] + 1)
                return True
            return False

        with self.cond:
            ok = self.cond.wait_for(ready, timeout=step.timeout)
        if not ok:
            lines = "\n".join(f"  {e!r}" for e in seen)
            msg = (
                f"{self.side} [{self.scenario.name}]: no {step.count} x {step.pattern!r} "
                f"within {step.timeout} s; normalised events:\n{lines}"
            )
            raise AssertionError(msg)

    def close(self) -> None:
        """Stop the client, then the server."""
        try:
            self.close_client()
        finally:
            self.server.stop()

    @abstractmethod
    def close_client(self) -> None:
        """Stop the client and its threads."""


# --- phoenix.js ------------------------------------------------------------------------


def _from_js(value: Any) -> Any:
    """Driver values to Python: ``{"$bytes": b64}`` to bytes, recursively."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return as_bytes(value)
        return {k: _from_js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_js(v) for v in value]
    return value


def _to_js(value: Any) -> Any:
    """Python payloads to driver values: bytes to ``{"$bytes": b64}``, recursively."""
    if isinstance(value, bytes):
        return b64(value)
    if isinstance(value, Mapping):
        return {k: _to_js(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_js(v) for v in value]
    return value


def normalise_js(events: Sequence[JsEvent], listen: Sequence[str]) -> list[Norm]:
    """Normalise the driver's events (stops before a join reply whose frame is not in yet)."""
    out: list[Norm] = []
    refs = _Refs()
    for i, e in enumerate(events):
        kind = e.get("type")
        topic = str(e.get("topic"))
        if kind == "open":
            out.append(("open",))
        elif kind == "close":
            out.append(("close", e["code"]))
        elif kind == "error":
            out.append(("socket_error",))
        elif kind == "join_reply":
            status, response = e["status"], _from_js(e["response"])
            if status == "ok":
                # the reply's frame ("msg") is reported right after the callbacks it ran
                frame = next((m for m in events[i + 1 :] if m.get("type") == "msg"), None)
                if frame is None:
                    break
                out.append(("join", topic, "ok", response, refs.joined(topic, frame["ref"])))
            elif status == "timeout":
                out.append(("join", topic, "timeout", None, None))
            else:
                out.append(("join", topic, status, response, None))
        elif kind == "channel_error":
            out.append(("channel_error", topic, _from_js(e["payload"])))
        elif kind == "channel_close":
            if e["payload"] == "leave":
                out.append(("leave", topic))
            else:
                out.append(("channel_close", topic, _from_js(e["payload"])))
        elif kind == "push_reply":
            status, event = e["status"], e["event"]
            response = None if status == "timeout" else _from_js(e["response"])
            response = _whoami(event, response, refs.current.get(topic))
            out.append(("push", topic, event, status, response))
        elif kind == "event" and e["event"] in listen:
            out.append(("event", topic, e["event"], _from_js(e["payload"])))
    return out


class JsPlayer(Player):
    """Plays the scenario with phoenix.js (one node process, socket ``s``)."""

    side = "phoenix.js"

    def __init__(self, scenario: Scenario) -> None:
        """Start the server and node; create the socket with the scenario's options."""
        super().__init__(scenario)
        self._ids = itertools.count(1)
        self.js = JsClient(timeout=10.0)
        s = scenario
        options: dict[str, Any] = {
            "params": s.connect_params,
            "vsn": s.vsn,
            "transport": s.transport,
            "timeout": ms(s.timeout),
            "heartbeatIntervalMs": ms(s.heartbeat),
            "reconnectAfterMs": [ms(x) for x in s.reconnect],
            "rejoinAfterMs": [ms(x) for x in s.rejoin],
        }
        if s.auth_token is not None:
            options["authToken"] = s.auth_token
        self.js.send("socket", url=self.server.url, **options)

    @property
    def cond(self) -> threading.Condition:
        """The driver reader's condition (notified on every event line)."""
        return self.js._cond

    def normalised(self) -> list[Norm]:
        """The driver's events so far, normalised."""
        return normalise_js(list(self.js.events), self.scenario.listen)

    def do(self, step: Step) -> None:
        """Send the step's driver commands."""
        js = self.js
        match step:
            case Connect():
                js.send("connect")
            case Disconnect():
                js.send("disconnect")
            case Join(topic=topic, payload=payload, timeout=timeout):
                js.send("channel", channel=topic, topic=topic, params=_to_js(payload))
                for event in self.scenario.listen:
                    js.send("on", channel=topic, event=event)
                extra: dict[str, Any] = {} if timeout is None else {"timeout": ms(timeout)}
                js.send("join", channel=topic, **extra)
            case Push(topic=topic, event=event, payload=payload, timeout=timeout):
                extra = {} if timeout is None else {"timeout": ms(timeout)}
                push_id = f"p{next(self._ids)}"
                js.send(
                    "push",
                    channel=topic,
                    event=event,
                    payload=_to_js(payload),
                    push_id=push_id,
                    **extra,
                )
            case Leave(topic=topic):
                js.send("leave", channel=topic)
            case _:
                msg = f"not a client step: {step!r}"
                raise AssertionError(msg)

    def close_client(self) -> None:
        """Stop node."""
        self.js.close()


# --- phoenix_actors ------------------------------------------------------------------------


def normalise_py(events: Sequence[pa.Event], listen: Sequence[str]) -> list[Norm]:
    """Normalise our client's events."""
    out: list[Norm] = []
    refs = _Refs()
    for e in events:
        match e:
            case pa.SocketOpened():
                out.append(("open",))
            case pa.SocketClosed(code=code):
                out.append(("close", code))
            case pa.SocketError():
                out.append(("socket_error",))
            case pa.JoinOk(topic=topic, response=response, join_ref=ref):
                out.append(("join", topic, "ok", response, refs.joined(topic, ref)))
            case pa.JoinError(topic=topic, response=response):
                out.append(("join", topic, "error", response, None))
            case pa.JoinTimeout(topic=topic):
                out.append(("join", topic, "timeout", None, None))
            case pa.ChannelErrored(topic=topic, payload=payload):
                out.append(("channel_error", topic, payload))
            case pa.ChannelClosed(topic=topic, payload=payload):
                out.append(("channel_close", topic, payload))
            case pa.LeaveOk(topic=topic):
                out.append(("leave", topic))
            case pa.PushOk(push=push, response=response):
                response = _whoami(push.event, response, refs.current.get(push.topic))
                out.append(("push", push.topic, push.event, "ok", response))
            case pa.PushError(push=push, response=response, status=status):
                out.append(("push", push.topic, push.event, status, response))
            case pa.PushTimeout(push=push):
                out.append(("push", push.topic, push.event, "timeout", None))
            case pa.ChannelEvent(topic=topic, event=event, payload=payload) if event in listen:
                out.append(("event", topic, event, payload))
    return out


class PyPlayer(Player):
    """Plays the scenario with :class:`phoenix_actors.Client`."""

    side = "phoenix_actors"

    def __init__(self, scenario: Scenario) -> None:
        """Start the server and the client (subscribed before anything happens)."""
        super().__init__(scenario)
        s = scenario
        self._cond = threading.Condition()
        self.events: list[pa.Event] = []
        options = pa.ConnectOptions(
            timeout=s.timeout,
            heartbeat_interval=s.heartbeat,
            reconnect_after=list(s.reconnect),
            rejoin_after=list(s.rejoin),
            vsn=s.vsn,
            transport=s.transport,
            auth_token=s.auth_token,
        )
        self.client = pa.Client(self.server.url, params=s.connect_params, options=options)
        self.client.subscribe(self._record)

    def _record(self, event: pa.Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    @property
    def cond(self) -> threading.Condition:
        """Notified on every event of the client."""
        return self._cond

    def normalised(self) -> list[Norm]:
        """The client's events so far, normalised."""
        with self._cond:
            events = list(self.events)
        return normalise_py(events, self.scenario.listen)

    def do(self, step: Step) -> None:
        """Tell the client the step's command."""
        client = self.client
        match step:
            case Connect():
                client.tell(pa.Connect())
            case Disconnect():
                client.tell(pa.Disconnect())
            case Join(topic=topic, payload=payload, timeout=timeout):
                client.tell(pa.Join(topic, payload=dict(payload), timeout=timeout))
            case Push(topic=topic, event=event, payload=payload, timeout=timeout):
                client.tell(pa.Push(topic, event, payload, timeout=timeout))
            case Leave(topic=topic):
                client.tell(pa.Leave(topic))
            case _:
                msg = f"not a client step: {step!r}"
                raise AssertionError(msg)

    def close_client(self) -> None:
        """Stop the client."""
        self.client.stop()
