"""Run one of ``scripts/`` as a subprocess from the repository root (for smoke tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python scripts/<name> args...``; output captured as text; never raises on failure."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
