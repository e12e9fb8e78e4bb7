"""Benchmark our frame codec against a plain ``json`` / ``struct`` implementation.

Usage::

    .venv/bin/python scripts/bench_codec.py [--min-time 0.05] [--repeat 7] [--json]

Cases, each encoded and decoded by both implementations side by side in one run:

- ``text``: V2 JSON array frames with a ~100 B and a ~10 KB payload (chat
  messages: ints, strings, booleans, ISO timestamps). Encoding is a client
  push; decoding is a server push given as ``str``, which is what
  websocket-client and aiohttp hand over for text frames.
- ``binary``: V2 binary frames with 100 B and 10 KB raw payloads; encoding is
  a client push (kind 0), decoding a server push (kind 0, no ref).

``plain`` is what one would write without msgspec: ``json.dumps`` of the
five-element list (compact separators, so both send the same bytes) and
``json.loads`` sliced to five elements with no type checks, and ``struct`` /
slicing for binary. Each figure is the best of ``--repeat`` timed loops of
``time.perf_counter``, each loop sized to take at least ``--min-time`` s.
Target: ours >= 3x plain at decoding V2 text frames, at both sizes. A
``presence_state``-shaped 10 KB payload (many small maps) is timed too, for
information: msgspec's lead over ``json`` depends on the payload's shape.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from msgspec.structs import astuple

from phoenix_actors.protocol.frames import Message, Role, V2JSONSerializer

TEXT_DECODE_TARGET = 3.0
"""Ours must decode V2 text frames at least this many times faster than plain."""

CLIENT = V2JSONSerializer(Role.CLIENT)


def chat_payload(size: int) -> dict[str, Any]:
    """A JSON payload of about ``size`` bytes: one chat message, or a page of them."""
    if size <= 200:
        return {"body": "hello there, how is it going?", "user": "alice", "id": 42, "read": True}
    messages: list[dict[str, Any]] = []
    while len(json.dumps({"messages": messages})) < size:
        i = len(messages)
        messages.append(
            {
                "id": 1000 + i,
                "user": f"user{i % 17}",
                "body": f"message number {i}: the quick brown fox jumps over the lazy dog",
                "inserted_at": f"2026-11-25T12:{i % 60:02d}:{(7 * i) % 60:02d}Z",
                "read": i % 3 == 0,
            }
        )
    return {"messages": messages}


def presence_payload(size: int) -> dict[str, Any]:
    """A ``presence_state`` of about ``size`` bytes: many small maps, short strings, ints."""
    state: dict[str, Any] = {}
    while len(json.dumps(state)) < size:
        i = len(state)
        meta = {"phx_ref": f"F{i:015d}", "online_at": 1764072000 + i, "status": "away"}
        state[f"user:{i}"] = {"metas": [meta]}
    return state


def binary_payload(size: int) -> bytes:
    """``size`` deterministic pseudo-random bytes."""
    return bytes((i * 131 + 7) % 256 for i in range(size))


# ---------------------------------------------------------------- plain implementation


def plain_encode_text(msg: tuple[str | None, str | None, str, str, Any]) -> bytes:
    """V2 text frame with the json module."""
    return json.dumps(list(msg), separators=(",", ":"), ensure_ascii=False).encode()


def plain_decode_text(data: str | bytes) -> tuple[Any, ...]:
    """V2 text frame with the json module: the first five elements, unchecked."""
    return tuple(json.loads(data)[:5])


def plain_encode_binary(join_ref: str, ref: str, topic: str, event: str, payload: bytes) -> bytes:
    """Client push, binary kind 0, with struct."""
    fields = [join_ref.encode(), ref.encode(), topic.encode(), event.encode()]
    if any(len(f) > 255 for f in fields):
        raise ValueError("field over 255 bytes")
    header = struct.pack("5B", 0, *(len(f) for f in fields))
    return b"".join([header, *fields, payload])


def plain_decode_binary(data: bytes) -> tuple[str, None, str, str, bytes]:
    """Server push, binary kind 0 (no ref), with struct and slicing."""
    kind, join_ref_size, topic_size, event_size = struct.unpack_from("4B", data)
    if kind != 0:
        raise ValueError("not a push")
    offset = 4
    join_ref = data[offset : offset + join_ref_size].decode()
    offset += join_ref_size
    topic = data[offset : offset + topic_size].decode()
    offset += topic_size
    event = data[offset : offset + event_size].decode()
    offset += event_size
    return join_ref, None, topic, event, data[offset:]


# ---------------------------------------------------------------- cases and timing


@dataclass(frozen=True)
class Case:
    """One operation timed for both implementations."""

    name: str
    ours: Callable[[], object]
    plain: Callable[[], object]


@dataclass(frozen=True)
class Result:
    """Operations per second of both implementations for one case."""

    name: str
    ours_ops: float
    plain_ops: float

    @property
    def ratio(self) -> float:
        """How many times faster ours is."""
        return self.ours_ops / self.plain_ops


def build_cases() -> list[Case]:
    """The cases, after checking both implementations agree on each."""
    cases = []
    for label, size in (("100B", 100), ("10KB", 10_000)):
        payload = chat_payload(size)
        fields = ("3", "17", "room:lobby", "new_msg")
        push = Message(*fields, payload)
        as_tuple = (*fields, payload)
        server_push = CLIENT.encode(Message("3", None, "room:lobby", "new_msg", payload))
        text = server_push.data.decode()
        assert CLIENT.encode(push).data == plain_encode_text(as_tuple)
        assert astuple(CLIENT.decode(text)) == plain_decode_text(text)
        cases.append(
            Case(
                f"text encode {label}",
                partial(CLIENT.encode, push),
                partial(plain_encode_text, as_tuple),
            )
        )
        cases.append(
            Case(
                f"text decode {label}",
                partial(CLIENT.decode, text),
                partial(plain_decode_text, text),
            )
        )
    # informational, outside the target: the worst shape we know for msgspec vs json
    state = CLIENT.encode(
        Message("3", None, "room:lobby", "presence_state", presence_payload(10_000))
    )
    state_text = state.data.decode()
    cases.append(
        Case(
            "text decode 10KB presence",
            partial(CLIENT.decode, state_text),
            partial(plain_decode_text, state_text),
        )
    )
    server = V2JSONSerializer(Role.SERVER)
    for label, size in (("100B", 100), ("10KB", 10_000)):
        raw = binary_payload(size)
        push = Message("3", "17", "room:lobby", "upload", raw)
        frame = server.encode(Message("3", None, "room:lobby", "chunk", raw)).data
        assert CLIENT.encode(push).data == plain_encode_binary(
            "3", "17", "room:lobby", "upload", raw
        )
        assert astuple(CLIENT.decode(frame, binary=True)) == plain_decode_binary(frame)
        cases.append(
            Case(
                f"binary encode {label}",
                partial(CLIENT.encode, push),
                partial(plain_encode_binary, "3", "17", "room:lobby", "upload", raw),
            )
        )
        cases.append(
            Case(
                f"binary decode {label}",
                partial(CLIENT.decode, frame, binary=True),
                partial(plain_decode_binary, frame),
            )
        )
    return cases


def _loop_size(fn: Callable[[], object], min_time: float) -> int:
    """How many calls of ``fn`` take at least ``min_time`` seconds (doubling, bounded)."""
    number = 1
    for _ in range(40):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - start >= min_time:
            break
        number *= 2
    return number


def _best_rate(fn: Callable[[], object], number: int, best: float) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return max(best, number / max(time.perf_counter() - start, 1e-9))


def measure(case: Case, *, min_time: float, repeat: int) -> Result:
    """Best-of-``repeat`` rates of ours and plain, their timed loops interleaved.

    Interleaving keeps a load spike on a shared machine from landing on one
    side only; each loop lasts at least ``min_time`` seconds.
    """
    ours_number = _loop_size(case.ours, min_time)
    plain_number = _loop_size(case.plain, min_time)
    ours = plain = 0.0
    for _ in range(repeat):
        ours = _best_rate(case.ours, ours_number, ours)
        plain = _best_rate(case.plain, plain_number, plain)
    return Result(case.name, ours, plain)


def run(*, min_time: float = 0.05, repeat: int = 7) -> list[Result]:
    """Time every case."""
    return [measure(case, min_time=min_time, repeat=repeat) for case in build_cases()]


def text_decode_target_met(results: list[Result]) -> bool:
    """Whether ours decodes text frames >= TEXT_DECODE_TARGET times faster, at every size."""
    decodes = [r for r in results if r.name in {"text decode 100B", "text decode 10KB"}]
    return bool(decodes) and all(r.ratio >= TEXT_DECODE_TARGET for r in decodes)


def report(results: list[Result]) -> str:
    """A plain-text table of the results."""
    lines = [f"{'case':<26} {'ours ops/s':>14} {'plain ops/s':>14} {'ours/plain':>11}"]
    lines += [
        f"{r.name:<26} {r.ours_ops:>14,.0f} {r.plain_ops:>14,.0f} {r.ratio:>10.2f}x"
        for r in results
    ]
    met = "met" if text_decode_target_met(results) else "NOT met"
    lines.append(
        f"target: text decode (chat payloads) >= {TEXT_DECODE_TARGET:.0f}x plain at 100B and 10KB: "
        f"{met}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per timed loop")
    parser.add_argument("--repeat", type=int, default=7, help="timed loops per figure")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    results = run(min_time=args.min_time, repeat=args.repeat)
    if args.json:
        rows = [{**asdict(r), "ratio": r.ratio} for r in results]
        print(json.dumps({"results": rows, "target_met": text_decode_target_met(results)}))
    else:
        print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
