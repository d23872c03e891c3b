#!/usr/bin/env bash
# Regenerates the pinned package lists from pyproject.toml:
#   requirements.lock      the runtime dependencies (what the Docker image installs)
#   requirements-dev.lock  the dev and bench extras on top of it (what scripts/setup.sh installs)
#
# How: pip itself, in throwaway virtualenvs on Python 3.11 (PYTHON=... to choose another
# interpreter), against the package indexes pip is configured with on this machine
# (`pip config list`), i.e. the same resolver and the same indexes that later install the locks.
# `pip install .` resolves the runtime ranges to the newest versions those indexes offer;
# `pip freeze` pins the result. The dev extras are then resolved with the runtime pins as
# constraints, so adding tools never moves a runtime pin. Same pyproject + same indexes, same
# locks. The exact pins that matter (prefect, fastapi) are in pyproject.toml, and why in the README.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$version" = "3.11" ] || echo "lock: warning: locking with Python $version, not 3.11" >&2

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pip_quiet=(-q --disable-pip-version-check)

freeze() {  # the venv's packages, less this project (pip lists them by name, any case)
  "$1/bin/python" -m pip freeze --exclude story-video
}

echo "lock: resolving the runtime dependencies with $("$PYTHON" --version)"
"$PYTHON" -m venv "$work/runtime"
"$work/runtime/bin/python" -m pip install "${pip_quiet[@]}" .
{
  echo "# Runtime dependencies, pinned. Regenerate with scripts/lock.sh (Python 3.11; also installs on 3.12)."
  freeze "$work/runtime"
} > requirements.lock

echo "lock: resolving the dev and bench extras on top of requirements.lock"
"$PYTHON" -m venv "$work/dev"
"$work/dev/bin/python" -m pip install "${pip_quiet[@]}" -c requirements.lock ".[dev,bench]"
{
  echo "# Test, lint and benchmark tools on top of requirements.lock, pinned. Regenerate with scripts/lock.sh."
  echo "-r requirements.lock"
  freeze "$work/dev" | grep -vxF -f <(grep -v '^#' requirements.lock)
} > requirements-dev.lock

echo "lock: wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages) and requirements-dev.lock"
