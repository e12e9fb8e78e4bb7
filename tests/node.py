"""Run node scripts from ``tests/js`` (where npm ``phoenix`` is installed).

A batch script reads one JSON document on stdin and writes one on stdout; the
tests feed many cases per process so node starts once per test, not per case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).parent / "js"
NODE = shutil.which("node")


def run_node_script(script: str, data: Any, *, timeout: float = 60.0) -> Any:
    """Run ``tests/js/<script>`` with ``data`` as JSON on stdin; return its JSON stdout.

    Raises:
        RuntimeError: node is missing, the script failed, or printed no JSON.
    """
    if NODE is None:
        msg = "node is not installed: the README test command installs it"
        raise RuntimeError(msg)
    proc = subprocess.run(
        [NODE, str(JS_DIR / script)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=JS_DIR,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"node {script} exited {proc.returncode}: {proc.stderr[-2000:]}"
        raise RuntimeError(msg)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        msg = f"node {script} printed no JSON: {proc.stdout[-500:]!r} {proc.stderr[-500:]!r}"
        raise RuntimeError(msg) from exc
