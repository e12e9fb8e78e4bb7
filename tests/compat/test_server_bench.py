"""Smoke test of ``scripts/bench_server.py`` with tiny counts (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TINY = ["--total", "200", "--connections", "2", "--window", "10"]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_server.py"


def test_bench_server_runs_both_servers() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--rounds", "1", *TINY],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    for kind in ("ours", "echo"):
        assert summary[kind]["replies"] == 200
        assert summary[kind]["ok"] == 200
        assert summary[kind]["rate"] > 0
    assert summary["ratio"] > 0
