"""Phoenix wire frames: the message struct and the V1 / V2 serializers.

V2 text frames are JSON arrays ``[join_ref, ref, topic, event, payload]``
(extra trailing elements are ignored, as Phoenix does); V1 text frames are
JSON objects. V2 binary frames carry raw-byte payloads, with a one-byte kind,
one-byte field lengths, the fields, then the payload (``PROTOCOL.md`` §2):

=====  ==============  ===================================  ===================
kind   direction       lengths                              fields
=====  ==============  ===================================  ===================
0      client→server   join_ref, ref, topic, event          same order, payload
0      server→client   join_ref, topic, event (no ref)      same order, payload
1      server→client   join_ref, ref, topic, status         reply, payload
2      server→client   topic, event                         broadcast, payload
=====  ==============  ===================================  ===================

Decoding never raises anything but :class:`FrameError`; encoding raises
:class:`LocalProtocolError` for what cannot be sent (a field over 255 bytes,
a payload that is not JSON).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, NamedTuple, Protocol

import msgspec

from phoenix_actors.errors import FrameError, LocalProtocolError

__all__ = [
    "BINARY_FIELD_MAX",
    "BinaryKind",
    "Event",
    "Message",
    "Role",
    "Serializer",
    "V1JSONSerializer",
    "V2JSONSerializer",
    "WireFrame",
    "serializer_for",
]

BINARY_FIELD_MAX: Final = 255
"""Longest join_ref / ref / topic / event, in UTF-8 bytes, a binary frame can carry."""


class Event(StrEnum):
    """Reserved event names, verbatim from phoenix.js ``constants.js``."""

    JOIN = "phx_join"
    LEAVE = "phx_leave"
    REPLY = "phx_reply"
    CLOSE = "phx_close"
    ERROR = "phx_error"
    HEARTBEAT = "heartbeat"


PHOENIX_TOPIC: Final = "phoenix"
"""The topic heartbeats travel on."""


class BinaryKind:
    """The first byte of a V2 binary frame."""

    PUSH: Final = 0
    REPLY: Final = 1
    BROADCAST: Final = 2


class Role(StrEnum):
    """Which end a serializer works for: binary kind 0 differs by direction."""

    CLIENT = "client"
    SERVER = "server"


class Message(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One Phoenix message, as it travels in a V2 array frame.

    ``payload`` is any JSON value, or :class:`bytes` for a binary frame. For
    ``phx_reply`` it is ``{"status": s, "response": r}``.
    """

    join_ref: str | None
    """Ref of the join this message belongs to (None for broadcasts and heartbeats)."""
    ref: str | None
    """Ref of this message; a reply carries the ref of the request it answers."""
    topic: str
    """The channel topic, for example ``"room:lobby"``."""
    event: str
    """The event name, for example ``"phx_join"`` or ``"new_msg"``."""
    payload: Any
    """JSON value, or bytes for a binary frame."""


class _V1Message(msgspec.Struct, frozen=True, gc=False):
    """A V1 object frame; the server sends no join_ref."""

    topic: str
    event: str
    payload: Any
    ref: str | None
    join_ref: str | None = None


class _V1Out(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """A V1 frame as encoded: ``join_ref`` only when set."""

    topic: str
    event: str
    payload: Any
    ref: str | None
    join_ref: str | None = None


class WireFrame(NamedTuple):
    """One encoded websocket frame: UTF-8 JSON text, or a binary frame."""

    data: bytes
    binary: bool


class Serializer(Protocol):
    """Encodes :class:`Message` to wire frames and decodes them back."""

    vsn: str
    """The ``vsn`` query parameter this serializer speaks."""

    def encode(self, msg: Message) -> WireFrame:
        """Encode one message for sending."""
        ...

    def decode(self, data: bytes | str, *, binary: bool = False) -> Message:
        """Decode one received frame; raise :class:`FrameError` if it is not one."""
        ...


_json_encoder: Final = msgspec.json.Encoder()
_v2_decoder: Final = msgspec.json.Decoder(Message)
_v1_decoder: Final = msgspec.json.Decoder(_V1Message)


def _encode_json(obj: object) -> bytes:
    try:
        return _json_encoder.encode(obj)
    except (TypeError, ValueError, OverflowError) as exc:
        raise LocalProtocolError(f"payload is not JSON-encodable: {exc}") from exc


def _field(value: str | None, name: str) -> bytes:
    raw = b"" if value is None else value.encode()
    if len(raw) > BINARY_FIELD_MAX:
        msg = (
            f"{name} is {len(raw)} bytes in UTF-8; a binary frame field holds at most "
            f"{BINARY_FIELD_MAX}"
        )
        raise LocalProtocolError(msg)
    return raw


def _binary(kind: int, fields: list[tuple[str | None, str]], payload: bytes) -> bytes:
    raws = [_field(value, name) for value, name in fields]
    return b"".join([bytes([kind, *(len(r) for r in raws)]), *raws, payload])


def _split(data: bytes, offset: int, sizes: list[int]) -> tuple[list[str], int]:
    out = []
    for size in sizes:
        end = offset + size
        if end > len(data):
            msg = f"binary frame truncated: needs {end} bytes, has {len(data)}"
            raise FrameError(msg)
        try:
            out.append(data[offset:end].decode())
        except UnicodeDecodeError as exc:
            raise FrameError(f"binary frame field is not UTF-8: {exc}") from exc
        offset = end
    return out, offset


def _decode_binary(data: bytes, role: Role) -> Message:
    if not data:
        raise FrameError("empty binary frame")
    kind = data[0]
    if kind == BinaryKind.PUSH and role is Role.SERVER:
        # client -> server push: join_ref, ref, topic, event
        n = 4
    elif kind == BinaryKind.PUSH:
        # server -> client push has no ref: join_ref, topic, event
        n = 3
    elif kind == BinaryKind.REPLY and role is Role.CLIENT:
        n = 4
    elif kind == BinaryKind.BROADCAST and role is Role.CLIENT:
        n = 2
    else:
        side = "server" if role is Role.SERVER else "client"
        raise FrameError(f"binary frame kind {kind} is not one a {side} receives")
    if len(data) < 1 + n:
        raise FrameError(f"binary frame truncated: header needs {1 + n} bytes, has {len(data)}")
    fields, offset = _split(data, 1 + n, list(data[1 : 1 + n]))
    payload = data[offset:]
    if kind == BinaryKind.BROADCAST:
        return Message(None, None, fields[0], fields[1], payload)
    if kind == BinaryKind.REPLY:
        join_ref, ref, topic, status = fields
        return Message(
            join_ref or None,
            ref or None,
            topic,
            "phx_reply",
            {"status": status, "response": payload},
        )
    if n == 4:
        join_ref, ref, topic, event = fields
        return Message(join_ref or None, ref or None, topic, event, payload)
    join_ref, topic, event = fields
    return Message(join_ref or None, None, topic, event, payload)


def _encode_binary(msg: Message, role: Role) -> bytes:
    payload = msg.payload
    if role is Role.CLIENT:
        fields = [(msg.join_ref, "join_ref"), (msg.ref, "ref"), (msg.topic, "topic")]
        return _binary(BinaryKind.PUSH, [*fields, (msg.event, "event")], payload)
    if msg.event == Event.REPLY:
        status = payload["status"]
        fields = [(msg.join_ref, "join_ref"), (msg.ref, "ref"), (msg.topic, "topic")]
        return _binary(BinaryKind.REPLY, [*fields, (status, "status")], payload["response"])
    if msg.join_ref is None and msg.ref is None:
        return _binary(BinaryKind.BROADCAST, [(msg.topic, "topic"), (msg.event, "event")], payload)
    fields = [(msg.join_ref, "join_ref"), (msg.topic, "topic"), (msg.event, "event")]
    return _binary(BinaryKind.PUSH, fields, payload)


def _is_binary(msg: Message) -> bool:
    payload = msg.payload
    if isinstance(payload, bytes | bytearray | memoryview):
        return True
    # a server reply whose response is raw bytes goes out as binary kind 1
    return (
        msg.event == Event.REPLY
        and isinstance(payload, dict)
        and isinstance(payload.get("response"), bytes | bytearray | memoryview)
    )


def _check_binary_reply(msg: Message) -> None:
    payload = msg.payload
    if msg.event == Event.REPLY and isinstance(payload, dict):
        status = payload.get("status")
        if not isinstance(status, str):
            raise LocalProtocolError("a binary phx_reply needs a string status")


class V2JSONSerializer:
    """The V2 serializer (``vsn=2.0.0``): array text frames and binary frames.

    Args:
        role: which end this serializer is used by; binary kind 0 differs by
            direction and each end receives only some kinds.
    """

    vsn: str = "2.0.0"
    name: str = "Phoenix.Socket.V2.JSONSerializer"

    def __init__(self, role: Role = Role.CLIENT) -> None:
        """Create a serializer for one end of the connection."""
        self.role = role

    def encode(self, msg: Message) -> WireFrame:
        """Encode ``msg``: a binary frame when its payload is bytes, else JSON text.

        Raises:
            LocalProtocolError: a binary field over 255 bytes, or a payload
                that is not JSON-encodable.
        """
        if _is_binary(msg):
            if self.role is Role.SERVER:
                _check_binary_reply(msg)
            return WireFrame(_encode_binary(msg, self.role), binary=True)
        return WireFrame(_encode_json(msg), binary=False)

    def decode(self, data: bytes | str, *, binary: bool = False) -> Message:
        """Decode one frame; ``binary`` says it arrived as a binary websocket frame.

        Raises:
            FrameError: the data is not a V2 frame (the message says why).
        """
        if binary:
            if isinstance(data, str):
                raise FrameError("a binary frame must be bytes")
            return _decode_binary(data, self.role)
        try:
            return _v2_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise FrameError(f"not a V2 frame: {exc}") from exc
        except UnicodeError as exc:  # a str with lone surrogates
            raise FrameError(f"not a V2 frame: {exc}") from exc


class V1JSONSerializer:
    """The V1 serializer (``vsn=1.0.0``): JSON object frames, no binary."""

    vsn: str = "1.0.0"
    name: str = "Phoenix.Socket.V1.JSONSerializer"

    def __init__(self, role: Role = Role.CLIENT) -> None:
        """Create a serializer for one end of the connection."""
        self.role = role

    def encode(self, msg: Message) -> WireFrame:
        """Encode ``msg`` as a JSON object (the server omits ``join_ref``).

        Raises:
            LocalProtocolError: a bytes payload (V1 has no binary frames), or
                a payload that is not JSON-encodable.
        """
        if _is_binary(msg):
            raise LocalProtocolError("the V1 serializer cannot send binary payloads")
        join_ref = msg.join_ref if self.role is Role.CLIENT else None
        out = _V1Out(msg.topic, msg.event, msg.payload, msg.ref, join_ref)
        return WireFrame(_encode_json(out), binary=False)

    def decode(self, data: bytes | str, *, binary: bool = False) -> Message:
        """Decode one V1 object frame.

        Raises:
            FrameError: the data is not a V1 frame, or arrived as binary.
        """
        if binary:
            raise FrameError("the V1 serializer has no binary frames")
        try:
            m = _v1_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise FrameError(f"not a V1 frame: {exc}") from exc
        except UnicodeError as exc:
            raise FrameError(f"not a V1 frame: {exc}") from exc
        return Message(m.join_ref, m.ref, m.topic, m.event, m.payload)


def serializer_for(vsn: str, role: Role = Role.CLIENT) -> V1JSONSerializer | V2JSONSerializer:
    """Return the serializer for a ``vsn`` (``1.x`` or ``2.x``), as Phoenix matches it.

    Raises:
        FrameError: the version is neither ``~> 1.0`` nor ``~> 2.0``.
    """
    major, _, rest = vsn.partition(".")
    minor = rest.partition(".")[0]
    if minor == "0" and major == "2":
        return V2JSONSerializer(role)
    if minor == "0" and major == "1":
        return V1JSONSerializer(role)
    raise FrameError(f"unsupported serializer version {vsn!r}")
