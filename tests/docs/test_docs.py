"""The README quick start and every example are run, and their output checked."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phoenix_actors.demo import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOC_EXAMPLES = sorted((ROOT / "docs").rglob("*.py"))


def test_readme_quick_start_is_examples_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    assert (ROOT / "examples" / "quickstart.py").read_text() in blocks


@pytest.mark.parametrize("path", EXAMPLES + DOC_EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_prints_its_stored_output(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    expected = path.with_suffix(".out")
    if expected.exists():
        assert proc.stdout == expected.read_text()


def test_demo_shows_the_whole_story_and_exits_zero() -> None:
    out = io.StringIO()
    assert run(out) == 0
    text = out.getvalue()
    for needle in (
        "joined room:lobby",
        "presence: carol joined as {'name': 'user-carol'}",
        "reply to 'ping': {'n': 1}",
        "got shout {'body': 'hello everyone'}",
        "timed out; retry in 1.0 s",
        "countdown: retrying in 1 s",
        "reply to 'ping': {'n': 2}",
        "presence: carol left",
        "socket closed (1001",
        "rejoined room:lobby",
        "demo   done",
    ):
        assert needle in text, text


def test_every_public_name_appears_in_a_runnable_example() -> None:
    import phoenix_actors  # noqa: PLC0415

    text = "\n".join(p.read_text() for p in EXAMPLES + DOC_EXAMPLES)
    missing = [n for n in phoenix_actors.__all__ if not re.search(rf"\b{re.escape(n)}\b", text)]
    assert missing == []
