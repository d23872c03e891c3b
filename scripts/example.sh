#!/usr/bin/env bash
# Set up (if needed) and render the example story that ships in examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build
exec .venv/bin/python flows/video.py --assets-dir examples/lighthouse-cat --out build/lighthouse-cat.mp4 "$@"
