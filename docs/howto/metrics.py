"""Metrics: ask GetMetrics, print them, and shape them for an exporter.

No exporter is a dependency: the Metrics Struct is plain data, and
``msgspec.structs.asdict`` turns it into what a Prometheus or OpenTelemetry
exporter wants. Run by the test suite; output in ``metrics.out``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from phoenix_actors import (
    Client,
    ConnectOptions,
    GetMetrics,
    HeartbeatReply,
    Join,
    Metrics,
    Push,
)
from phoenix_actors.server import LoopbackServer
from phoenix_actors.testing import EventRecorder


def prometheus(metrics: Metrics, prefix: str = "phoenix_client") -> list[str]:
    """The Prometheus text format: one line per value, labels for the per-key counts."""
    lines = []
    for name, value in msgspec.structs.asdict(metrics).items():
        if isinstance(value, dict):
            label = "topic" if name == "queued_pushes" else "kind"
            lines += [f'{prefix}_{name}{{{label}="{k}"}} {v}' for k, v in sorted(value.items())]
        elif value is not None:
            lines.append(f"{prefix}_{name} {value}")
    return lines


with LoopbackServer() as server:
    # heartbeats every 50 ms, and a HeartbeatReply event for each answer (off by default)
    options = ConnectOptions(heartbeat_interval=0.05, heartbeat_events=True)
    with Client(server.url, options=options) as client:
        recorder = EventRecorder()
        client.subscribe(recorder)
        client.ask(Join("room:lobby"))
        for n in range(3):
            client.ask(Push("room:lobby", "ping", {"n": n}))
        client.ask(Push("room:lobby", "error_reply"))
        beat = recorder.wait_for(HeartbeatReply, timeout=5)
        print("a heartbeat round trip was measured:", beat.rtt > 0)

        metrics = client.ask(GetMetrics())
        print("connects:", metrics.connects, "pushes:", metrics.pushes)
        print("frames out >= 6:", metrics.frames_out >= 6, "bytes in > 0:", metrics.bytes_in > 0)
        exported: dict[str, Any] = msgspec.structs.asdict(metrics)  # e.g. for OpenTelemetry
        print("fields:", len(exported))
        for line in prometheus(metrics):
            if "pushes" in line or "connects" in line:
                print(line)
