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

import re
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


# tuple.__new__ skips NamedTuple's Python-level __new__, a sixth of a small frame's cost
_new_tuple: Final = tuple.__new__


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


_BYTES_TYPES: Final = (bytes, bytearray, memoryview)
# Anything else a decoder may raise on hostile input: text that is not UTF-8
# (a str with lone surrogates), nesting deeper than the recursion limit, and
# input that is not bytes or str at all.
_DECODE_ERRORS: Final = (msgspec.DecodeError, UnicodeError, RecursionError, TypeError)

_REPLY: Final = Event.REPLY.value
_json_encoder: Final = msgspec.json.Encoder()
_v2_decoder: Final = msgspec.json.Decoder(Message)
_v1_decoder: Final = msgspec.json.Decoder(_V1Message)


def _encode_json(obj: object) -> bytes:
    try:
        return _json_encoder.encode(obj)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise LocalProtocolError(f"payload is not JSON-encodable: {exc}") from exc


def _field(value: object, name: str) -> bytes:
    """One binary-frame field: a str of at most 255 UTF-8 bytes, None written as empty."""
    if isinstance(value, str):
        try:
            raw = value.encode()
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"{name} is not valid Unicode: {exc}") from exc
        if len(raw) <= BINARY_FIELD_MAX:
            return raw
        msg = (
            f"{name} is {len(raw)} bytes in UTF-8; a binary frame field holds at most "
            f"{BINARY_FIELD_MAX}"
        )
        raise LocalProtocolError(msg)
    if value is None:
        return b""
    raise LocalProtocolError(f"{name} must be a str for a binary frame, not {type(value).__name__}")


def _truncated(needed: int, size: int) -> FrameError:
    return FrameError(f"binary frame truncated: needs {needed} bytes, has {size}")


# Binary decoding is unrolled per kind and per receiving end, with the kinds as
# literals: it runs for every binary frame (see scripts/bench_codec.py).


def _decode_binary_at_client(data: bytes) -> Message:
    size = len(data)
    if size == 0:
        raise FrameError("empty binary frame")
    kind = data[0]
    try:
        if kind == 0:  # push: join_ref, topic, event; no ref
            if size < 4:
                raise _truncated(4, size)
            a = 4 + data[1]
            b = a + data[2]
            c = b + data[3]
            if c > size:
                raise _truncated(c, size)
            topic, event = data[a:b].decode(), data[b:c].decode()
            return Message(data[4:a].decode() or None, None, topic, event, data[c:])
        if kind == 1:  # reply: join_ref, ref, topic, status
            if size < 5:
                raise _truncated(5, size)
            a = 5 + data[1]
            b = a + data[2]
            c = b + data[3]
            d = c + data[4]
            if d > size:
                raise _truncated(d, size)
            join_ref, ref, topic = data[5:a].decode(), data[a:b].decode(), data[b:c].decode()
            reply = {"status": data[c:d].decode(), "response": data[d:]}
            return Message(join_ref or None, ref or None, topic, _REPLY, reply)
        if kind == 2:  # broadcast: topic, event
            if size < 3:
                raise _truncated(3, size)
            a = 3 + data[1]
            b = a + data[2]
            if b > size:
                raise _truncated(b, size)
            return Message(None, None, data[3:a].decode(), data[a:b].decode(), data[b:])
    except UnicodeDecodeError as exc:
        raise FrameError(f"binary frame field is not UTF-8: {exc}") from exc
    raise FrameError(f"binary frame kind {kind} is not one a client receives")


def _decode_binary_at_server(data: bytes) -> Message:
    size = len(data)
    if size == 0:
        raise FrameError("empty binary frame")
    kind = data[0]
    if kind != 0:
        raise FrameError(f"binary frame kind {kind} is not one a server receives")
    if size < 5:  # push: join_ref, ref, topic, event
        raise _truncated(5, size)
    a = 5 + data[1]
    b = a + data[2]
    c = b + data[3]
    d = c + data[4]
    if d > size:
        raise _truncated(d, size)
    try:
        join_ref, ref, topic = data[5:a].decode(), data[a:b].decode(), data[b:c].decode()
        event = data[c:d].decode()
    except UnicodeDecodeError as exc:
        raise FrameError(f"binary frame field is not UTF-8: {exc}") from exc
    return Message(join_ref or None, ref or None, topic, event, data[d:])


def _encode_binary(msg: Message, role: Role) -> bytes:
    payload = msg.payload
    join_ref = _field(msg.join_ref, "join_ref")
    topic = _field(msg.topic, "topic")
    # the headers are spelled out: bytes(map(len, ...)) costs twice as much
    if role is Role.CLIENT:
        ref, event = _field(msg.ref, "ref"), _field(msg.event, "event")
        header = bytes((0, len(join_ref), len(ref), len(topic), len(event)))
        return b"".join((header, join_ref, ref, topic, event, payload))
    if not isinstance(payload, _BYTES_TYPES):  # a reply {status, response: bytes}
        status = payload.get("status")
        if not isinstance(status, str):
            raise LocalProtocolError("a binary phx_reply needs a str status")
        ref, raw_status = _field(msg.ref, "ref"), _field(status, "status")
        header = bytes((1, len(join_ref), len(ref), len(topic), len(raw_status)))
        return b"".join((header, join_ref, ref, topic, raw_status, payload["response"]))
    event = _field(msg.event, "event")
    if msg.join_ref is None and msg.ref is None:
        return b"".join((bytes((2, len(topic), len(event))), topic, event, payload))
    header = bytes((0, len(join_ref), len(topic), len(event)))
    return b"".join((header, join_ref, topic, event, payload))


def _is_binary(msg: Message, role: Role) -> bool:
    payload = msg.payload
    if isinstance(payload, _BYTES_TYPES):
        return True
    # Only the server sends replies; one whose response is raw bytes goes out
    # as binary kind 1 (phoenix.js sends binary only for a bytes payload).
    return (
        role is Role.SERVER
        and msg.event == Event.REPLY
        and isinstance(payload, dict)
        and isinstance(payload.get("response"), _BYTES_TYPES)
    )


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
        self._decode_binary = (
            _decode_binary_at_client if role is Role.CLIENT else _decode_binary_at_server
        )

    def encode(self, msg: Message) -> WireFrame:
        """Encode ``msg``: a binary frame when its payload is bytes, else JSON text.

        Raises:
            LocalProtocolError: a binary field over 255 bytes, or a payload
                that is not JSON-encodable.
        """
        if _is_binary(msg, self.role):
            return _new_tuple(WireFrame, (_encode_binary(msg, self.role), True))
        return _new_tuple(WireFrame, (_encode_json(msg), False))

    def decode(
        self, data: bytes | bytearray | memoryview | str, *, binary: bool = False
    ) -> Message:
        """Decode one frame; ``binary`` says it arrived as a binary websocket frame.

        Raises:
            FrameError: the data is not a V2 frame (the message says why).
        """
        if binary:
            if data.__class__ is bytes:
                return self._decode_binary(data)
            if isinstance(data, str):
                raise FrameError("a binary frame must be bytes")
            return self._decode_binary(bytes(data))  # the payload must come out as bytes
        try:
            return _v2_decoder.decode(data)
        except _DECODE_ERRORS as exc:
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
        if _is_binary(msg, self.role):
            raise LocalProtocolError("the V1 serializer cannot send binary payloads")
        join_ref = msg.join_ref if self.role is Role.CLIENT else None
        out = _V1Out(msg.topic, msg.event, msg.payload, msg.ref, join_ref)
        return WireFrame(_encode_json(out), binary=False)

    def decode(
        self, data: bytes | bytearray | memoryview | str, *, binary: bool = False
    ) -> Message:
        """Decode one V1 object frame.

        Raises:
            FrameError: the data is not a V1 frame, or arrived as binary.
        """
        if binary:
            raise FrameError("the V1 serializer has no binary frames")
        try:
            m = _v1_decoder.decode(data)
        except _DECODE_ERRORS as exc:
            raise FrameError(f"not a V1 frame: {exc}") from exc
        return Message(m.join_ref, m.ref, m.topic, m.event, m.payload)


_SEMVER_IDENTIFIER: Final = re.compile(r"[0-9A-Za-z-]+")
_SEMVER_NUMBER: Final = re.compile(r"0|[1-9][0-9]*")


def _parse_version(vsn: str) -> tuple[int, int, int, bool] | None:
    """Elixir ``Version.parse``: ``(major, minor, patch, has_pre)``, or None if invalid.

    ``MAJOR.MINOR.PATCH`` of ASCII digits without leading zeros, then an
    optional ``-pre`` and ``+build`` of dot-separated ``[0-9A-Za-z-]``
    identifiers (numeric pre-release identifiers without leading zeros).
    """
    version_pre, plus, build = vsn.partition("+")
    version, dash, pre = version_pre.partition("-")
    numbers = version.split(".")
    if len(numbers) != 3 or not all(_SEMVER_NUMBER.fullmatch(n) for n in numbers):
        return None
    for part, present in ((pre, dash), (build, plus)):
        if present and not all(_SEMVER_IDENTIFIER.fullmatch(i) for i in part.split(".")):
            return None
    if dash and any(i.isdigit() and len(i) > 1 and i[0] == "0" for i in pre.split(".")):
        return None
    major, minor, patch = (int(n) for n in numbers)
    return major, minor, patch, bool(dash)


def serializer_for(vsn: str, role: Role = Role.CLIENT) -> V1JSONSerializer | V2JSONSerializer:
    """Return the serializer for a ``vsn``, matched as Phoenix matches it.

    Phoenix parses ``vsn`` with Elixir ``Version.parse`` and picks V1 for
    ``~> 1.0.0`` and V2 for ``~> 2.0.0``, that is ``>= X.0.0 and < X.1.0``,
    pre-releases allowed: ``"2.0.0"``, ``"2.0.7"``, ``"2.0.1-rc.1"`` and
    ``"2.0.0+build"`` are V2; ``"2.0.0-rc.1"`` (below 2.0.0), ``"2.1.0"``,
    ``"2.0"`` and ``"02.0.0"`` are refused (HTTP 403 on a Phoenix server).
    A client that sends no vsn is treated as ``"1.0.0"``.

    Raises:
        FrameError: the version is not valid, or matches neither requirement.
    """
    parsed = _parse_version(vsn) if isinstance(vsn, str) else None
    if parsed is None:
        raise FrameError(f"invalid serializer version {vsn!r}")
    major, minor, patch, has_pre = parsed
    # ~> X.0.0 means >= X.0.0 and < X.1.0-0: X.0.0-pre sorts below X.0.0
    if minor == 0 and not (patch == 0 and has_pre):
        if major == 2:
            return V2JSONSerializer(role)
        if major == 1:
            return V1JSONSerializer(role)
    raise FrameError(
        f"unsupported serializer version {vsn!r}: Phoenix speaks ~> 1.0.0 and ~> 2.0.0"
    )
