"""Our V2 codec against npm phoenix's ``Serializer``, on hypothesis-generated batches.

Each test collects 200 hypothesis-generated cases and checks them in one
node process (``tests/js/serializer_check.mjs``). phoenix.js encodes client frames
(JSON text, and binary for ArrayBuffer payloads) which must equal ours byte
for byte, and decodes the server frames we encode (text and binary kinds 0,
1, 2) to the same values. A field over 255 UTF-8 bytes must make phoenix.js
throw exactly when we raise.

Known, intended differences, normalised here: phoenix.js decodes an empty
binary ref as ``""`` where we give ``None`` (both are written as an empty
field), and ``JSON.stringify`` prints floats its own way (``1`` for ``1.0``),
so payloads with floats are compared as values rather than bytes.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phoenix_actors.errors import LocalProtocolError
from phoenix_actors.protocol.frames import BINARY_FIELD_MAX, Message, Role, V2JSONSerializer
from tests.node import NODE, run_node_script

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

CLIENT = V2JSONSerializer(Role.CLIENT)
SERVER = V2JSONSerializer(Role.SERVER)
BATCH_SIZE = 200
T = TypeVar("T")
# Keys JavaScript would reorder (array indices come first) would change the bytes.
_INDEX_LIKE = re.compile(r"[0-9]+")
SAFE_INT = 2**53  # node reads our JSON numbers as doubles

keys = st.text(max_size=6).filter(lambda k: not _INDEX_LIKE.fullmatch(k))
scalars = st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT) | st.text(max_size=12)
exact_json = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=4),
    max_leaves=10,
)
float_json = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=4),
    max_leaves=10,
)
# phoenix.js reads ``payload.constructor``, so it throws on a null payload (never sent in practice)
exact_payloads = exact_json.filter(lambda v: v is not None)
float_payloads = float_json.filter(lambda v: v is not None)
WIDE_CHARS = ["a", "Z", "é", "ß", "☃", "中", "😀", ":"]


@st.composite
def fields(draw: st.DrawFn, max_bytes: int = BINARY_FIELD_MAX) -> str:
    """A str of an exact drawn UTF-8 length (up to max_bytes), mixing 1- to 4-byte chars.

    A few drawn chars are cycled to fill the length (cheap to generate in batches),
    then ASCII pads the last bytes a wide char would overshoot.
    """
    target = draw(st.integers(0, max_bytes) | st.integers(max(0, max_bytes - 6), max_bytes))
    pattern = draw(st.lists(st.sampled_from(WIDE_CHARS), min_size=1, max_size=5))
    out, size, i = [], 0, 0
    while size + len(pattern[i % len(pattern)].encode()) <= target:
        out.append(pattern[i % len(pattern)])
        size += len(out[-1].encode())
        i += 1
    return "".join(out) + "a" * (target - size)


short = st.text(max_size=8)


def collect(strategy: st.SearchStrategy[T], n: int = BATCH_SIZE) -> list[T]:
    """``n`` hypothesis-generated examples, to check in one node process.

    Drawing a whole batch as one example overruns hypothesis's size budget for
    nested JSON; collecting examples keeps its edge-case bias at a fraction of
    the cost (a failing case is printed in full, there is just no shrinking).
    """
    out: list[T] = []

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example: T) -> None:
        out.append(example)

    draw()
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _js_msg(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "join_ref": msg.join_ref,
        "ref": msg.ref,
        "topic": msg.topic,
        "event": msg.event,
    }
    if isinstance(msg.payload, bytes):
        out["payload_b64"] = _b64(msg.payload)
    else:
        out["payload"] = msg.payload
    return out


def test_text_frames_encode_like_phoenix_js() -> None:
    refs = st.none() | short
    exact = collect(st.builds(Message, refs, refs, short, short, exact_payloads))
    floats = collect(st.builds(Message, refs, refs, short, short, float_payloads), 50)
    result = run_node_script(
        "serializer_check.mjs", {"encode": [_js_msg(m) for m in exact + floats]}
    )["encode"]
    for msg, js in zip(exact, result[: len(exact)], strict=True):
        assert CLIENT.encode(msg).data == js["text"].encode(), msg
    for msg, js in zip(floats, result[len(exact) :], strict=True):
        # JS prints 6.1e16 as 61000000000000000: read every number as a double
        ours = json.loads(CLIENT.encode(msg).data, parse_int=float)
        assert ours == json.loads(js["text"], parse_int=float), msg


def test_binary_pushes_encode_like_phoenix_js() -> None:
    messages = collect(
        st.builds(Message, fields(), fields(), fields(), fields(), st.binary(max_size=64))
    )
    # phoenix.js only sends binary from a joined channel: both refs are strings
    result = run_node_script("serializer_check.mjs", {"encode": [_js_msg(m) for m in messages]})
    for msg, js in zip(messages, result["encode"], strict=True):
        frame = CLIENT.encode(msg)
        assert frame.binary is True
        assert frame.data == base64.b64decode(js["b64"]), msg


def test_field_over_255_bytes_fails_exactly_when_phoenix_js_throws() -> None:
    field = fields(BINARY_FIELD_MAX + 4)
    messages = collect(st.builds(Message, field, field, field, field, st.binary(max_size=4)))
    result = run_node_script("serializer_check.mjs", {"encode": [_js_msg(m) for m in messages]})
    refused = 0
    for msg, js in zip(messages, result["encode"], strict=True):
        try:
            ours: bytes | None = CLIENT.encode(msg).data
        except LocalProtocolError:
            ours = None
        if ours is None:
            refused += 1
            assert "error" in js, msg
            assert "must be less than or equal to 255 bytes" in js["error"]
        else:
            assert base64.b64decode(js["b64"]) == ours, msg
    assert 0 < refused < len(messages)  # the batch straddles the limit


@st.composite
def server_frames(draw: st.DrawFn) -> tuple[Message, Message]:
    """A server message and what phoenix.js should decode it to (in our terms)."""
    kind = draw(st.sampled_from(["push", "reply", "broadcast", "text"]))
    topic, event = draw(fields()), draw(fields())
    payload = draw(st.binary(max_size=64))
    join_ref, ref = draw(st.none() | fields()), draw(st.none() | fields())
    if kind == "text":
        msg = Message(join_ref, ref, topic, event, draw(exact_json))
        return msg, msg
    if kind == "broadcast":
        msg = Message(None, None, topic, event, payload)
        return msg, msg
    if kind == "reply":
        reply = {"status": event, "response": payload}
        msg = Message(join_ref, ref, topic, "phx_reply", reply)
        return msg, Message(join_ref or None, ref or None, topic, "phx_reply", reply)
    join_ref = join_ref or "1"  # with neither ref it would be a broadcast
    return Message(join_ref, ref, topic, event, payload), Message(
        join_ref, None, topic, event, payload
    )


def _from_js(js: dict[str, Any], binary: bool) -> Message:
    """phoenix.js's decoded message in our terms (an empty binary ref is None for us)."""
    payload = js.get("payload")
    if "payload_b64" in js:
        payload = base64.b64decode(js["payload_b64"])
    elif isinstance(payload, dict) and "response_b64" in payload:
        payload = {
            "status": payload["status"],
            "response": base64.b64decode(payload["response_b64"]),
        }
    join_ref, ref = js["join_ref"], js["ref"]
    if binary:
        join_ref, ref = join_ref or None, ref or None
    return Message(join_ref, ref, js["topic"], js["event"], payload)


def test_phoenix_js_decodes_our_server_frames() -> None:
    cases = collect(server_frames())
    frames = [SERVER.encode(msg) for msg, _ in cases]
    batch = [{"b64": _b64(f.data)} if f.binary else {"text": f.data.decode()} for f in frames]
    result = run_node_script("serializer_check.mjs", {"decode": batch})["decode"]
    for (msg, expected), frame, js in zip(cases, frames, result, strict=True):
        assert "error" not in js, (msg, js)
        assert _from_js(js, frame.binary) == expected, msg
        # and we decode our own frame the same way
        assert CLIENT.decode(frame.data, binary=frame.binary) == expected


def test_phoenix_js_decodes_the_protocol_md_examples() -> None:
    frames = [
        {"b64": _b64(b"\x00\x01\x06\x04" + b"7room:adataxyz")},
        {"b64": _b64(b"\x01\x01\x01\x06\x02" + b"78room:aok\x01\x02")},
        {"b64": _b64(b"\x02\x06\x04" + b"room:anewshi")},
        {"text": '[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]'},
    ]
    result = run_node_script("serializer_check.mjs", {"decode": frames})["decode"]
    assert result == [
        {"join_ref": "7", "ref": None, "topic": "room:a", "event": "data", "payload_b64": "eHl6"},
        {
            "join_ref": "7",
            "ref": "8",
            "topic": "room:a",
            "event": "phx_reply",
            "payload": {"status": "ok", "response_b64": "AQI="},
        },
        {"join_ref": None, "ref": None, "topic": "room:a", "event": "news", "payload_b64": "aGk="},
        {
            "join_ref": None,
            "ref": "5",
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
        },
    ]
