#!/usr/bin/env bash
# Installs everything the renderer and its tests need, on a fresh Debian machine or an existing one.
# System packages through apt (only those missing), Python packages into ./.venv from
# requirements-dev.lock (the runtime lock plus test, lint and benchmark tools).
# Safe to run again: it skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the renderer needs at run time: the Dockerfile's runtime stage installs exactly these
# (tests/deployment/test_deployment_image.py checks that the two lists match).
APT_PACKAGES=(
  ffmpeg                 # encoding, probing, audio conversion
  libmagickwand-6.q16-6  # ImageMagick's library, which Wand loads (captions, frame backgrounds)
  imagemagick
  espeak-ng              # offline narration engine
  fonts-dejavu-core      # caption font: accented Latin, typographic punctuation
  fonts-noto-core        # the other scripts: Arabic, Hebrew, Devanagari and other Indic, Thai...
  fonts-noto-cjk         # Chinese (simplified and traditional), Japanese, Korean
  fonts-noto-color-emoji # emoji, in colour
  fontconfig             # fc-query / fc-list: the caption font's name for Pango
  # The libraries services/media/native.py loads itself (ctypes), named rather than left to
  # arrive as dependencies of ImageMagick's coders: caption layout and drawing.
  libpango-1.0-0 libpangocairo-1.0-0 libcairo2 libharfbuzz0b libglib2.0-0
  ca-certificates
)
# Only on a development machine, never in the image.
DEV_APT_PACKAGES=(
  libmagickwand-dev      # ImageMagick's headers and unversioned .so links
  python3 python3-venv python3-dev
  make                   # deployments/Makefile (the pools, the worker; tests run its targets)
)
# Only the tests need these (they read drawn captions back with OCR); the Dockerfile leaves them out.
TEST_APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-rus tesseract-ocr-ell
  tesseract-ocr-ara tesseract-ocr-heb tesseract-ocr-hin tesseract-ocr-tha
  tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-jpn tesseract-ocr-kor
  chromium chromium-driver  # the browser check of the Prefect UI (pytest -m browser)
)

missing=()
for pkg in "${APT_PACKAGES[@]}" "${DEV_APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the lock or the project metadata changed.
stamp=.venv/.installed-lock
want="$(cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages from requirements-dev.lock"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
