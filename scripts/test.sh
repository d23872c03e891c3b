#!/usr/bin/env bash
# Set up (if needed), run the checks (scripts/check: ruff, ruff format, mypy, import rules), then
# the tests. Extra arguments go to pytest.
#   bash scripts/test.sh            the whole suite (what CI runs)
#   bash scripts/test.sh --fast     the fast loop: ruff, then tests/unit only (under a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--fast" ]; then
  shift
  .venv/bin/ruff check --quiet .
  exec .venv/bin/python -m pytest tests/unit "$@"
fi
bash scripts/check
exec .venv/bin/python -m pytest "$@"
