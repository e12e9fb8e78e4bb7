"""The test suite on every supported Python: ``.venv/bin/nox`` (or ``nox -s tests-3.12``).

Each session makes its own virtualenv under ``.nox/`` with the
``[server,dev]`` extras and runs the whole pytest suite (arguments after
``--`` go to pytest). An interpreter that is not installed is skipped, not
failed. ``./scripts/test`` stays on the current interpreter and does not
run nox.
"""

from __future__ import annotations

from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
ROOT = Path(__file__).resolve().parent

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = False  # nox's default on CI is to fail


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Install the package with its extras, then run pytest."""
    session.install("-e", ".[server,dev]")
    if not (ROOT / "tests" / "js" / "node_modules").is_dir():  # the phoenix.js tests need it
        session.chdir(ROOT / "tests" / "js")
        session.run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", external=True)
        session.chdir(ROOT)
    session.run("python", "-m", "pytest", *session.posargs)
