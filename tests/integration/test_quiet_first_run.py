"""A newcomer's first render prints no traceback: the command `scripts/example.sh` runs (the
example story, here at a small size) on a fresh PREFECT_HOME with Prefect's defaults (analytics
on, no server running), with PREFECT_API_URL unset and with it set but empty (as a copied .env
or a container may leave it). And a creation with no Google credentials fails with one line
naming the problem, without google-auth's traceback.

Each run starts Prefect's temporary server on a fresh database (20-60 s here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.gcs_emulator import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stack]

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--width", "160", "--height", "240", "--fps", "8", "--preset", "ultrafast"]


def first_run(tmp_path: Path, args: list[str], **env_changes: str | None) -> tuple[int, str]:
    """The command line in a fresh PREFECT_HOME, with the environment a newcomer has."""
    env = {
        key: value
        for key, value in os.environ.items()
        # What the test session sets to keep itself quiet: a newcomer has none of it.
        if key
        not in {
            "PREFECT_SERVER_ANALYTICS_ENABLED",
            "DO_NOT_TRACK",
            "PREFECT_LOGGING_TO_API_ENABLED",
            "PREFECT_API_URL",
        }
    }
    env["PREFECT_HOME"] = str(tmp_path / f"prefect-home-{uuid.uuid4().hex[:6]}")
    env["PREFECT_SERVER_API_PORT"] = str(free_port())  # never a server someone left running
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    answer = subprocess.run(
        [sys.executable, "flows/video.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return answer.returncode, answer.stdout + answer.stderr


@pytest.mark.parametrize("api_url", [None, ""], ids=["unset", "empty"])
def test_the_example_renders_without_a_traceback(tmp_path: Path, api_url: str | None) -> None:
    out = tmp_path / "lighthouse-cat.mp4"
    args = ["--assets-dir", "examples/lighthouse-cat", "--out", str(out), *SMALL]
    status, output = first_run(tmp_path, args, PREFECT_API_URL=api_url)
    assert status == 0, output
    assert "Traceback" not in output, output
    assert "database is locked" not in output, output
    assert "Cannot put items in a stopped service instance" not in output, output
    assert output.strip().splitlines()[-1] == str(out) or str(out) in output
    assert out.stat().st_size > 10_000


def test_a_creation_without_credentials_is_one_line(tmp_path: Path) -> None:
    creation_id = "6d49a9c0-57ab-403d-af55-c02ad3dfcd70"
    status, output = first_run(
        tmp_path,
        [creation_id],
        ENV="p",
        CREATIONS_BUCKET="creations-without-credentials",
        GOOGLE_APPLICATION_CREDENTIALS=None,
        STORAGE_EMULATOR_HOST=None,
        # No metadata server to ask either: the machine is not on Google Cloud.
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
        CLOUDSDK_CONFIG=str(tmp_path / "no-gcloud"),
    )
    assert status == 1, output
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith(
        f"error: could not list gs://creations-without-credentials/{creation_id}"
    )
    assert "credentials" in last.lower()
    assert "run stopped: could not list" in output  # the run's own log says it once, plainly
