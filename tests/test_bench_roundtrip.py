"""Smoke test: ``scripts/bench_roundtrip.py --quick`` runs every client and prints the table."""

from __future__ import annotations

import shutil

import pytest

from tests.script_run import run_script

pytest.importorskip("aiohttp")


@pytest.mark.timeout(150)
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_quick_run_reports_every_client() -> None:
    proc = run_script("bench_roundtrip.py", "--quick", timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    header = next(line for line in proc.stdout.splitlines() if "pa/phoenix.js" in line)
    for client in ("phoenix_actors", "phoenix.js", "bare"):
        assert client in header
    assert "pipelined replies/s" in proc.stdout
    assert "pipelined asks/s" in proc.stdout
    lag = [line for line in proc.stdout.splitlines() if "longest callback" in line]
    assert [line.split()[0] for line in lag] == ["pa-async", "aiohttp"]
    assert "FAILED" not in proc.stdout
