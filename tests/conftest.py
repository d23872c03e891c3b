"""Test environment hygiene and shared fixtures.

Environment is fixed here at import time, before Prefect or Google libraries load: a temporary
PREFECT_HOME, analytics off, no cloud credentials or servers leaking in from the machine, and a
temporary speech cache so every session synthesizes afresh.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="story-video-tests-"))

for _name in (
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "STORAGE_EMULATOR_HOST",
    "CREATIONS_BUCKET",
    "TTS_ENGINE",
    "TTS_LANGUAGE",
    "API_TOKEN",
    "VIDEO_DEPLOYMENT",
    "CAPTION_FONT",
):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "ENV": "d",
        "PREFECT_HOME": str(_SESSION_DIR / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "XDG_CACHE_HOME": str(_SESSION_DIR / "cache"),
    }
)

pytest_plugins = ["tests.stories", "tests.gcs_emulator"]


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes 12-20 s to start here)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached on first use; tests that change the environment get a fresh object."""
    from services.settings import reset_settings_cache

    reset_settings_cache()
    yield
    reset_settings_cache()
