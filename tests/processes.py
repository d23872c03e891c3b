"""Background processes for tests (servers, workers): started in their own session, so that
stopping one also stops everything it started (make's child, a worker's flow runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader once it has exited, or it keeps the group "alive"
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group, SIGKILL to what is left after 20 s. Waits for the group, not
    only its leader: make exits at once, a worker shuts down slowly."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        if not group_alive(process):
            break
        os.killpg(process.pid, sig)
        deadline = time.monotonic() + grace
        while group_alive(process) and time.monotonic() < deadline:
            time.sleep(0.2)
    process.wait()


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `command` from the repository root with its output in `log`; stop its group after."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop(process)
