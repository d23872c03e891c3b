"""The local stack the API benchmarks start: a Prefect server (temporary home), a GCS emulator with
one bucket, and the operators' API under uvicorn. Stopped together, whatever happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.gcs_emulator import GcsEmulator, free_port  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, tries: int = 1200) -> None:
    for _ in range(tries):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer at {url}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Stack:
    home: Path
    env: dict[str, str]  # Prefect's settings for every process of the stack
    prefect_url: str
    emulator: GcsEmulator
    bucket: str
    server: subprocess.Popen[bytes]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, command: list[str], env: dict[str, str], **popen: object
    ) -> subprocess.Popen[bytes]:
        """A process of the stack, in its own session (stopped with the stack)."""
        process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True, **popen)  # type: ignore[call-overload]
        self.processes.append(process)
        return process

    def start_api(self, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
        """The operators' API (uvicorn) with `env` on top of the stack's; its address."""
        port = free_port()
        api_env = {
            **self.env,
            "STORAGE_EMULATOR_HOST": self.emulator.endpoint,
            "CREATIONS_BUCKET": self.bucket,
            "ENV": "p",
            "API_TOKEN": TOKEN,
            **env,
        }
        command = [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port)]
        command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        api = self.start(command, api_env)
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/docs", api, "the API")
        return url, api


@contextmanager
def local_stack(prefix: str) -> Iterator[Stack]:
    """A Prefect server and the emulator, up and answering; this process talks to that server."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    prefect_port = free_port()
    prefect_url = f"http://127.0.0.1:{prefect_port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    os.environ.update({key: env[key] for key in ("PREFECT_HOME", "DO_NOT_TRACK")})
    emulator = GcsEmulator(home)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--port", str(prefect_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack: Stack | None = None
    try:
        emulator.start()
        bucket = emulator.create_bucket()
        wait_for(f"{prefect_url}/health", server, "prefect server")
        os.environ["PREFECT_API_URL"] = prefect_url
        env["PREFECT_API_URL"] = prefect_url
        stack = Stack(home, env, prefect_url, emulator, bucket, server)
        yield stack
    finally:
        for process in reversed(stack.processes if stack else []):
            stop(process)
        stop(server)
        emulator.stop()
