"""The docs site builds with ``mkdocs build --strict``: no broken link, snippet or docstring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict_succeeds(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # no --quiet: it would hide (and not count) warnings
    for page in ("index.html", "howto/cli/index.html", "reference/messages/index.html"):
        assert (tmp_path / page).is_file(), page
    home = (tmp_path / "index.html").read_text()
    for howto in (ROOT / "docs" / "howto").glob("*.md"):  # every recipe is in the nav
        assert f'href="howto/{howto.stem}/"' in home, howto.name
    reference = (tmp_path / "reference" / "client" / "index.html").read_text()
    assert 'id="phoenix_actors.client.Client.ask"' in reference
    assert ":class:" not in reference  # scripts/griffe_rst.py rewrote the reST roles
