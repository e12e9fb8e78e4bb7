#!/usr/bin/env bash
# Shared set-up for scripts/demo and scripts/test: creates .venv, installs the
# package with its extras and the npm packages the tests use. Idempotent and
# fast when nothing changed (a stamp holds the hash of the inputs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
want_npm="${1:-}"
stamp=".venv/.setup-stamp"
inputs_hash() {
  cat pyproject.toml tests/js/package.json tests/js/package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1
}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(inputs_hash)" ]; then
  .venv/bin/python -m pip install --quiet --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --quiet --disable-pip-version-check -e ".[server,dev]"
  rm -f tests/js/.npm-stamp
  inputs_hash > "$stamp"
fi
if [ "$want_npm" = "npm" ] && [ ! -f tests/js/.npm-stamp ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch tests/js/.npm-stamp
fi
