"""V1 / V2 frame codec: exact layouts from PROTOCOL.md §2, round trips, hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_actors.errors import FrameError, LocalProtocolError
from phoenix_actors.protocol.frames import (
    BINARY_FIELD_MAX,
    Event,
    Message,
    Role,
    V1JSONSerializer,
    V2JSONSerializer,
    WireFrame,
    serializer_for,
)

V2_CLIENT = V2JSONSerializer(Role.CLIENT)
V2_SERVER = V2JSONSerializer(Role.SERVER)
V1_CLIENT = V1JSONSerializer(Role.CLIENT)
V1_SERVER = V1JSONSerializer(Role.SERVER)
ALL = [V2_CLIENT, V2_SERVER, V1_CLIENT, V1_SERVER]
ALL_IDS = ["v2-client", "v2-server", "v1-client", "v1-server"]

# ---------------------------------------------------------------- V2 text


def test_v2_heartbeat_encodes_to_the_exact_array() -> None:
    frame = V2_CLIENT.encode(Message(None, "5", "phoenix", Event.HEARTBEAT, {}))
    assert frame == WireFrame(b'[null,"5","phoenix","heartbeat",{}]', binary=False)


def test_v2_heartbeat_decodes_from_bytes_and_str() -> None:
    expected = Message(None, "5", "phoenix", "heartbeat", {})
    assert V2_SERVER.decode(b'[null,"5","phoenix","heartbeat",{}]') == expected
    assert V2_SERVER.decode('[null,"5","phoenix","heartbeat",{}]') == expected


def test_v2_decode_ignores_extra_trailing_elements() -> None:
    msg = V2_CLIENT.decode(b'["1","2","room:1","new_msg",{"a":1},"extra",[1,2],null]')
    assert msg == Message("1", "2", "room:1", "new_msg", {"a": 1})


@pytest.mark.parametrize(
    "text",
    [b"[]", b'[null,"1","t","e"]', b'[null,"1"]', b'["1","2","t"]'],
)
def test_v2_decode_fewer_than_five_elements_is_a_frame_error(text: bytes) -> None:
    with pytest.raises(FrameError):
        V2_SERVER.decode(text)


@pytest.mark.parametrize(
    "text",
    [
        b'[1,"1","t","e",{}]',  # join_ref a number
        b'[null,2,"t","e",{}]',  # ref a number
        b'[null,"1",null,"e",{}]',  # topic null
        b'[null,"1","t",["e"],{}]',  # event a list
        b'{"topic":"t","event":"e","payload":{},"ref":"1"}',  # a V1 object
        b'"just a string"',
        b"",
        b"[null,",
        b"\xff\xfe",
    ],
)
def test_v2_decode_wrong_shapes_are_frame_errors(text: bytes) -> None:
    with pytest.raises(FrameError):
        V2_CLIENT.decode(text)


def test_v2_decode_deep_nesting_is_a_frame_error() -> None:
    deep = b'[null,null,"t","e",' + b"[" * 100_000 + b"]" * 100_000 + b"]"
    with pytest.raises(FrameError):
        V2_CLIENT.decode(deep)


def test_v2_decode_str_with_lone_surrogate_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        V2_CLIENT.decode('[null,null,"t","e","\ud800"]')


def test_v2_payload_that_is_not_json_raises_locally() -> None:
    with pytest.raises(LocalProtocolError):
        V2_CLIENT.encode(Message("1", "2", "t", "e", {"x": object()}))


def test_v2_text_frame_keeps_unicode_and_nested_payloads() -> None:
    msg = Message("1", "2", "rööm:☃", "ev", {"a": [1, 2.5, None, True, {"b": "ü"}]})
    frame = V2_CLIENT.encode(msg)
    assert frame.binary is False
    assert V2_SERVER.decode(frame.data) == msg


# ---------------------------------------------------------------- V1


def test_v1_client_sends_join_ref_and_server_omits_it() -> None:
    msg = Message("3", "4", "room:1", "phx_join", {})
    client = V1_CLIENT.encode(msg)
    server = V1_SERVER.encode(msg)
    assert client == WireFrame(
        b'{"topic":"room:1","event":"phx_join","payload":{},"ref":"4","join_ref":"3"}', False
    )
    assert server == WireFrame(
        b'{"topic":"room:1","event":"phx_join","payload":{},"ref":"4"}', False
    )


def test_v1_client_without_join_ref_omits_the_key() -> None:
    frame = V1_CLIENT.encode(Message(None, "1", "phoenix", "heartbeat", {}))
    assert frame.data == b'{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}'


def test_v1_decodes_with_and_without_join_ref() -> None:
    assert V1_CLIENT.decode(b'{"topic":"t","event":"e","payload":1,"ref":null}') == Message(
        None, None, "t", "e", 1
    )
    with_join_ref = b'{"join_ref":"1","ref":"2","topic":"t","event":"e","payload":{},"x":0}'
    assert V1_SERVER.decode(with_join_ref) == Message("1", "2", "t", "e", {})


@pytest.mark.parametrize("missing", ["topic", "event", "payload", "ref"])
def test_v1_decode_missing_key_is_a_frame_error(missing: str) -> None:
    fields = {"topic": '"t"', "event": '"e"', "payload": "{}", "ref": '"1"'}
    del fields[missing]
    text = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    with pytest.raises(FrameError):
        V1_SERVER.decode(text)


def test_v1_cannot_send_bytes_or_receive_binary() -> None:
    with pytest.raises(LocalProtocolError):
        V1_CLIENT.encode(Message("1", "2", "t", "e", b"raw"))
    with pytest.raises(LocalProtocolError):
        V1_SERVER.encode(Message("1", "2", "t", "phx_reply", {"status": "ok", "response": b"r"}))
    with pytest.raises(FrameError):
        V1_CLIENT.decode(b"\x02\x01\x01te", binary=True)


def test_v1_payload_that_is_not_json_raises_locally() -> None:
    with pytest.raises(LocalProtocolError):
        V1_CLIENT.encode(Message("1", "2", "t", "e", object()))


# ---------------------------------------------------------------- V2 binary


def test_binary_push_client_to_server_layout() -> None:
    frame = V2_CLIENT.encode(Message("12", "345", "room:a", "upload", b"\x00\x01\xff"))
    expected = (
        b"\x00"  # kind: push
        b"\x02\x03\x06\x06"  # lengths: join_ref, ref, topic, event
        b"12" + b"345" + b"room:a" + b"upload" + b"\x00\x01\xff"
    )
    assert frame == WireFrame(expected, binary=True)
    assert V2_SERVER.decode(expected, binary=True) == Message(
        "12", "345", "room:a", "upload", b"\x00\x01\xff"
    )


def test_binary_push_server_to_client_has_no_ref() -> None:
    frame = V2_SERVER.encode(Message("7", None, "room:a", "data", b"xyz"))
    expected = b"\x00" + b"\x01\x06\x04" + b"7" + b"room:a" + b"data" + b"xyz"
    assert frame == WireFrame(expected, binary=True)
    assert V2_CLIENT.decode(expected, binary=True) == Message("7", None, "room:a", "data", b"xyz")


def test_binary_reply_layout() -> None:
    msg = Message("7", "8", "room:a", "phx_reply", {"status": "ok", "response": b"\x01\x02"})
    frame = V2_SERVER.encode(msg)
    expected = b"\x01" + b"\x01\x01\x06\x02" + b"7" + b"8" + b"room:a" + b"ok" + b"\x01\x02"
    assert frame == WireFrame(expected, binary=True)
    assert V2_CLIENT.decode(expected, binary=True) == msg


def test_binary_broadcast_layout() -> None:
    frame = V2_SERVER.encode(Message(None, None, "room:a", "news", b"hi"))
    expected = b"\x02" + b"\x06\x04" + b"room:a" + b"news" + b"hi"
    assert frame == WireFrame(expected, binary=True)
    assert V2_CLIENT.decode(expected, binary=True) == Message(None, None, "room:a", "news", b"hi")


def test_binary_nil_refs_are_written_as_empty_strings() -> None:
    frame = V2_CLIENT.encode(Message(None, None, "t", "e", b"p"))
    assert frame.data == b"\x00\x00\x00\x01\x01tep"
    assert V2_SERVER.decode(frame.data, binary=True) == Message(None, None, "t", "e", b"p")


def test_binary_empty_payload_and_multibyte_fields() -> None:
    msg = Message("ü", "☃", "röom", "évent", b"")
    frame = V2_CLIENT.encode(msg)
    assert frame.data[:5] == bytes([0, 2, 3, 5, 6])
    assert V2_SERVER.decode(frame.data, binary=True) == msg


def test_binary_payload_may_be_bytearray_or_memoryview() -> None:
    a = V2_CLIENT.encode(Message("1", "2", "t", "e", bytearray(b"ab")))
    b = V2_CLIENT.encode(Message("1", "2", "t", "e", memoryview(b"ab")))
    assert a == b == V2_CLIENT.encode(Message("1", "2", "t", "e", b"ab"))
    decoded = V2_SERVER.decode(memoryview(a.data), binary=True)
    assert type(decoded.payload) is bytes


def test_server_reply_with_json_response_stays_text() -> None:
    frame = V2_SERVER.encode(Message("1", "2", "t", "phx_reply", {"status": "ok", "response": {}}))
    assert frame.binary is False


def test_client_never_sends_a_binary_reply() -> None:
    # phoenix.js sends binary only when the payload itself is an ArrayBuffer
    msg = Message("1", "2", "t", "e", {"status": "ok", "response": b"ab"})
    assert V2_CLIENT.encode(msg).binary is False


def test_binary_reply_needs_a_str_status() -> None:
    with pytest.raises(LocalProtocolError):
        V2_SERVER.encode(Message("1", "2", "t", "phx_reply", {"response": b"x"}))
    with pytest.raises(LocalProtocolError):
        V2_SERVER.encode(Message("1", "2", "t", "phx_reply", {"status": 1, "response": b"x"}))


def _field_of(n_bytes: int, char: str) -> str:
    """A str of exactly n_bytes UTF-8 bytes, as many `char` as fit, padded with 'a'."""
    width = len(char.encode())
    return char * (n_bytes // width) + "a" * (n_bytes % width)


@pytest.mark.parametrize("char", ["a", "é", "☃", "😀"])
@pytest.mark.parametrize("name", ["join_ref", "ref", "topic", "event"])
def test_binary_field_of_255_bytes_fits_and_256_raises(name: str, char: str) -> None:
    base = {"join_ref": "1", "ref": "2", "topic": "t", "event": "e"}
    fits = Message(**{**base, name: _field_of(BINARY_FIELD_MAX, char)}, payload=b"p")
    frame = V2_CLIENT.encode(fits)
    assert V2_SERVER.decode(frame.data, binary=True) == fits
    too_long = Message(**{**base, name: _field_of(BINARY_FIELD_MAX + 1, char)}, payload=b"p")
    with pytest.raises(LocalProtocolError, match=name):
        V2_CLIENT.encode(too_long)


def test_binary_multibyte_char_straddling_the_limit_raises() -> None:
    # 254 ASCII bytes + a 2-byte char = 256 bytes, though only 255 characters
    topic = "a" * 254 + "é"
    assert len(topic) == 255
    with pytest.raises(LocalProtocolError, match="topic is 256 bytes"):
        V2_CLIENT.encode(Message("1", "2", topic, "e", b""))


def test_binary_reply_status_over_255_bytes_raises() -> None:
    payload = {"status": "s" * 256, "response": b""}
    with pytest.raises(LocalProtocolError, match="status"):
        V2_SERVER.encode(Message("1", "2", "t", "phx_reply", payload))


def test_binary_non_str_field_raises_locally() -> None:
    with pytest.raises(LocalProtocolError, match="topic"):
        V2_CLIENT.encode(Message("1", "2", 5, "e", b""))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "role"),
    [
        (b"", Role.CLIENT),
        (b"\x03\x00\x00", Role.CLIENT),  # unknown kind
        (b"\x01\x00\x00\x00\x00", Role.SERVER),  # the server receives only pushes
        (b"\x02\x00\x00", Role.SERVER),
        (b"\x00\x01\x01", Role.SERVER),  # header cut short
        (b"\x00\x05\x01\x01\x01ab", Role.SERVER),  # fields cut short
        (b"\x02\x01\x01\xff\xfe", Role.CLIENT),  # field not UTF-8
    ],
)
def test_binary_decode_bad_frames_are_frame_errors(data: bytes, role: Role) -> None:
    with pytest.raises(FrameError):
        V2JSONSerializer(role).decode(data, binary=True)


def test_binary_decode_refuses_str() -> None:
    with pytest.raises(FrameError):
        V2_CLIENT.decode("\x02\x01\x01te", binary=True)


# ---------------------------------------------------------------- serializer_for


@pytest.mark.parametrize(
    ("vsn", "expected"),
    [
        ("2.0.0", V2JSONSerializer),
        ("2.0.9", V2JSONSerializer),
        ("2.0.1-rc.1", V2JSONSerializer),
        ("2.0.0+build.5", V2JSONSerializer),
        ("1.0.0", V1JSONSerializer),
        ("1.0.3", V1JSONSerializer),
    ],
)
def test_serializer_for_matches_like_phoenix(vsn: str, expected: type[Any]) -> None:
    serializer = serializer_for(vsn, Role.SERVER)
    assert type(serializer) is expected
    assert serializer.role is Role.SERVER


@pytest.mark.parametrize(
    "vsn",
    [
        "2.1.0",
        "3.0.0",
        "1.1.0",
        "0.0.1",
        "abc",
        "",
        "2.0",
        "2",
        "2.0.0.0",
        "02.0.0",
        "2.00.0",
        "2.0.0-rc.1",  # a pre-release sorts below 2.0.0
        "2.0.0-",
        "2.0.0+",
        "2.0.1-01",
        "2.0.0-r_c",
        " 2.0.0",
        "2.0.٠",  # noqa: RUF001 (a non-ASCII digit)
    ],
)
def test_serializer_for_refuses_what_phoenix_refuses(vsn: str) -> None:
    with pytest.raises(FrameError):
        serializer_for(vsn)


def test_serializer_for_defaults_to_client_role() -> None:
    assert serializer_for("2.0.0").role is Role.CLIENT
    assert serializer_for("2.0.0").vsn == "2.0.0"
    assert serializer_for("1.0.0").vsn == "1.0.0"


# ---------------------------------------------------------------- properties

refs = st.none() | st.text(max_size=12)
topics = st.text(min_size=1, max_size=40)
events = st.text(min_size=1, max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
short_field = st.text(max_size=20)  # up to 80 UTF-8 bytes: always fits a binary field


@settings(max_examples=150)
@given(refs, refs, topics, events, json_values)
def test_v2_text_round_trips(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
) -> None:
    msg = Message(join_ref, ref, topic, event, payload)
    for sender, receiver in [(V2_CLIENT, V2_SERVER), (V2_SERVER, V2_CLIENT)]:
        frame = sender.encode(msg)
        assert frame.binary is False
        assert receiver.decode(frame.data) == msg
        assert receiver.decode(frame.data.decode()) == msg


@settings(max_examples=150)
@given(refs, refs, topics, events, json_values)
def test_v1_round_trips(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: Any
) -> None:
    msg = Message(join_ref, ref, topic, event, payload)
    assert V1_SERVER.decode(V1_CLIENT.encode(msg).data) == msg
    # the server never sends join_ref
    assert V1_CLIENT.decode(V1_SERVER.encode(msg).data) == Message(None, ref, topic, event, payload)


def _none_if_empty(value: str | None) -> str | None:
    return value or None


@settings(max_examples=150)
@given(st.none() | short_field, st.none() | short_field, short_field, short_field, st.binary())
def test_v2_binary_client_to_server_round_trips(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: bytes
) -> None:
    frame = V2_CLIENT.encode(Message(join_ref, ref, topic, event, payload))
    assert frame.binary is True
    decoded = V2_SERVER.decode(frame.data, binary=True)
    # an empty ref and a nil ref share the wire form; both decode as None
    assert decoded == Message(_none_if_empty(join_ref), _none_if_empty(ref), topic, event, payload)


@settings(max_examples=150)
@given(
    st.tuples(st.none() | short_field, st.none() | short_field),
    short_field,
    short_field,
    st.binary(),
    st.sampled_from(["push", "reply", "broadcast"]),
)
def test_v2_binary_server_to_client_round_trips(
    refs: tuple[str | None, str | None], topic: str, event: str, payload: bytes, kind: str
) -> None:
    join_ref, ref = refs
    if kind == "broadcast":
        msg = Message(None, None, topic, event, payload)
        expected = msg
    elif kind == "reply":
        msg = Message(join_ref, ref, topic, "phx_reply", {"status": event, "response": payload})
        expected = Message(
            _none_if_empty(join_ref), _none_if_empty(ref), topic, "phx_reply", msg.payload
        )
    else:
        join_ref = join_ref or "1"  # a push with neither ref would be a broadcast
        msg = Message(join_ref, ref, topic, event, payload)
        expected = Message(join_ref, None, topic, event, payload)  # pushes carry no ref
    frame = V2_SERVER.encode(msg)
    assert frame.binary is True
    assert frame.data[0] == {"push": 0, "reply": 1, "broadcast": 2}[kind]
    assert V2_CLIENT.decode(frame.data, binary=True) == expected


def _decode_raises_only_frame_error(serializer: Any, data: bytes | str, *, binary: bool) -> None:
    try:
        msg = serializer.decode(data, binary=binary)
    except FrameError:
        return
    assert isinstance(msg, Message)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.booleans())
def test_arbitrary_bytes_raise_only_frame_error(data: bytes, binary: bool) -> None:
    for serializer in ALL:
        _decode_raises_only_frame_error(serializer, data, binary=binary)


@settings(max_examples=300)
@given(st.text(max_size=64), st.booleans())
def test_arbitrary_text_raises_only_frame_error(data: str, binary: bool) -> None:
    for serializer in ALL:
        _decode_raises_only_frame_error(serializer, data, binary=binary)


@settings(max_examples=200)
@given(st.data())
def test_truncated_frames_raise_only_frame_error(data: st.DataObject) -> None:
    topic, event, payload = data.draw(short_field), data.draw(short_field), data.draw(st.binary())
    for sender, receiver, header_fields in [(V2_CLIENT, V2_SERVER, 4), (V2_SERVER, V2_CLIENT, 3)]:
        frame = sender.encode(Message("1", "2", topic, event, payload)).data
        header = 1 + header_fields + sum(frame[1 : 1 + header_fields])
        cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
        if cut < header:
            with pytest.raises(FrameError):
                receiver.decode(frame[:cut], binary=True)
        else:  # the payload is "the rest of the frame": a shorter one is still a frame
            assert receiver.decode(frame[:cut], binary=True).payload == payload[: cut - header]
    text_payload = data.draw(json_values)
    text_pairs: list[tuple[Any, Any]] = [(V2_CLIENT, V2_SERVER), (V1_CLIENT, V1_SERVER)]
    for text_sender, text_receiver in text_pairs:
        text = text_sender.encode(Message("1", "2", topic, event, text_payload)).data
        cut = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
        with pytest.raises(FrameError):
            text_receiver.decode(text[:cut])


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**31), max_value=2**31)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
any_json = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=6) | st.dictionaries(st.text(max_size=5), c, max_size=6),
    max_leaves=10,
)


@settings(max_examples=300)
@given(any_json)
def test_any_json_value_decodes_or_raises_frame_error(value: Any) -> None:
    text = json.dumps(value)
    for serializer in ALL:
        _decode_raises_only_frame_error(serializer, text, binary=False)
        _decode_raises_only_frame_error(serializer, text.encode(), binary=False)


@settings(max_examples=300)
@given(st.lists(any_json, min_size=0, max_size=7))
def test_wrong_arities_and_element_types_raise_only_frame_error(items: list[Any]) -> None:
    text = json.dumps(items)
    for serializer in (V2_CLIENT, V2_SERVER):
        try:
            msg = serializer.decode(text)
        except FrameError:
            ok = len(items) < 5 or not all(
                isinstance(x, str) or (x is None and i < 2) for i, x in enumerate(items[:4])
            )
            assert ok, items
        else:
            assert len(items) >= 5
            assert msg == Message(*items[:5])
