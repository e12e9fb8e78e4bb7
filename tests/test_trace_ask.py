"""Smoke test: ``scripts/trace_ask.py`` traces every stage of an ask and times a thread hop."""

from __future__ import annotations

import re

import pytest

from tests.script_run import run_script

pytest.importorskip("aiohttp")  # the bundled server


@pytest.mark.timeout(90)
def test_a_short_trace_reports_every_stage() -> None:
    proc = run_script("trace_ask.py", "--count", "50", timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "median of 50" in proc.stdout
    figures = dict(re.findall(r"^  (.+?)\s+([\d.]+)$", proc.stdout, re.MULTILINE))
    assert len(figures) == 7, proc.stdout
    stages = sum(float(v) for k, v in figures.items() if k != "whole ask")
    # medians do not add up exactly, but the stages cover the ask
    assert 0.5 * float(figures["whole ask"]) < stages < 2 * float(figures["whole ask"])
    assert "one thread hop on this machine" in proc.stdout
