"""Smoke test of ``scripts/bench_server.py`` with tiny counts (no timing asserted)."""

from __future__ import annotations

import json

from tests.script_run import run_script

TINY = ["--total", "200", "--connections", "2", "--window", "10"]


def test_bench_server_runs_both_servers() -> None:
    proc = run_script("bench_server.py", "--json", "--rounds", "1", *TINY, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    for kind in ("ours", "echo"):
        assert summary[kind]["replies"] == 200
        assert summary[kind]["ok"] == 200
        assert summary[kind]["rate"] > 0
    assert summary["ratio"] > 0
