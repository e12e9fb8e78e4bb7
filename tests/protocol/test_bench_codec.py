"""scripts/bench_codec.py runs: its own functions once, with tiny loops (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_codec.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_codec", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_codec"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_cases_agree_and_run_once(bench: ModuleType) -> None:
    results = bench.run(min_time=0.0, repeat=1)
    names = [r.name for r in results]
    assert "text decode 100B" in names
    assert "text decode 10KB" in names
    assert "binary decode 10KB" in names
    assert all(r.ours_ops > 0 and r.plain_ops > 0 for r in results)
    table = bench.report(results)
    assert "ours/plain" in table
    assert "target: text decode" in table


def test_main_prints_json(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--min-time", "0", "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in out["results"]} >= {"text encode 100B", "text decode 10KB"}
    assert isinstance(out["target_met"], bool)


def test_payloads_have_the_advertised_sizes(bench: ModuleType) -> None:
    assert 80 <= len(json.dumps(bench.chat_payload(100))) <= 120
    assert 10_000 <= len(json.dumps(bench.chat_payload(10_000))) <= 10_200
    assert len(bench.binary_payload(10_000)) == 10_000
