#!/usr/bin/env bash
# Set up (if needed), run the checks (scripts/check: ruff, ruff format, mypy), then the whole
# test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check
exec .venv/bin/python -m pytest "$@"
