"""A real GCS emulator server (gcp-storage-emulator) for tests, and helpers around it.

Fixtures:
- `gcs_emulator` (session): one emulator on a free loopback port, data on disk in a temporary
  folder so it can be stopped and started again with its objects intact (to simulate an outage).
- `gcs_bucket` (per test): a fresh bucket, with STORAGE_EMULATOR_HOST, ENV=p and CREATIONS_BUCKET
  set for the test, and the emulator (re)started if an earlier test left it stopped.

Usage:
    def test_x(gcs_bucket, gcs_emulator, make_story):
        creation_id = gcs_emulator.upload_story(make_story({1: ["Hi."]}), gcs_bucket)
        ...  # run the flow with creation_id=...; read back with gcs_emulator.read_bytes(...)

Note: the emulator does not enforce generation preconditions (if_generation_match): tests must
not rely on them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GcsEmulator:
    """One gcp-storage-emulator process; start/stop keep the same port and data folder."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "emulator.log"

    @property
    def endpoint(self) -> str:
        """The value for STORAGE_EMULATOR_HOST."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        binary = _VENV_BIN / "gcp-storage-emulator"
        command = [str(binary) if binary.exists() else "gcp-storage-emulator"]
        command += ["--data-dir", str(self.data_dir), "start"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--quiet"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gcp-storage-emulator exited with {self.process.returncode}: "
                    + self.log.read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gcp-storage-emulator did not answer on {self.endpoint}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(self.endpoint + "/", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop like an outage, but let the emulator finish the request in hand (SIGINT makes it
        shut its server down cleanly, so its data on disk stays consistent for a restart)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # -- client-side helpers ------------------------------------------------------------------

    def client(self):  # -> google.cloud.storage.Client
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"creations-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(name)
        return name

    def upload_story(self, folder: Path, bucket: str, creation_id: str | None = None) -> str:
        """Copy a local story folder to gs://bucket/<creation_id>/assets/; return the id."""
        creation_id = creation_id or str(uuid.uuid4())
        target = self.client().bucket(bucket)
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                relative = path.relative_to(folder).as_posix()
                target.blob(f"{creation_id}/assets/{relative}").upload_from_filename(str(path))
        return creation_id

    def names(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(blob.name for blob in self.client().list_blobs(bucket, prefix=prefix))

    def read_bytes(self, bucket: str, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.client().bucket(bucket).blob(name).download_as_bytes()
        except NotFound:
            return None

    def download(self, bucket: str, name: str, target: Path) -> Path:
        self.client().bucket(bucket).blob(name).download_to_filename(str(target))
        return target

    def write_bytes(self, bucket: str, name: str, data: bytes, content_type: str = "") -> None:
        blob = self.client().bucket(bucket).blob(name)
        blob.upload_from_string(data, content_type=content_type or "application/octet-stream")

    def delete(self, bucket: str, name: str) -> None:
        self.client().bucket(bucket).blob(name).delete()


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """The session's emulator server (started once; stopped at the end of the session)."""
    data_dir = Path(tempfile.mkdtemp(prefix="gcs-emulator-"))
    emulator = GcsEmulator(data_dir)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def gcs_bucket(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, and this process set up to use it in production mode (ENV=p)."""
    from services.settings import reset_settings_cache

    gcs_emulator.start()  # a no-op unless an earlier test left it stopped
    bucket = gcs_emulator.create_bucket()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    monkeypatch.setenv("ENV", "p")
    monkeypatch.setenv("CREATIONS_BUCKET", bucket)
    monkeypatch.setenv("TTS_ENGINE", "espeak")  # gTTS needs the internet
    reset_settings_cache()
    return bucket


def emulator_env(emulator: GcsEmulator, bucket: str) -> dict[str, str]:
    """Environment for a subprocess (the CLI, a worker) that renders from the emulator."""
    return {
        **os.environ,
        "STORAGE_EMULATOR_HOST": emulator.endpoint,
        "ENV": "p",
        "CREATIONS_BUCKET": bucket,
        "TTS_ENGINE": "espeak",
    }
