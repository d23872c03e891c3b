"""Background processes for tests (servers, workers): started in their own session, so that
stopping one also stops everything it started (make's child, a worker's flow runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
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


class PeakMemory:
    """Samples, every `interval` seconds, the resident memory of groups of processes: a process
    belongs to the group named by the value of its environment variable `variable` (children,
    such as ffmpeg, inherit it). `peaks[value]` is the largest sum seen for that group. A sum of
    RSS counts pages shared between processes once per process: an upper bound."""

    PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, variable: str, interval: float = 0.1):
        self.marker = f"{variable}=".encode()
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _group(self, pid: str) -> str | None:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return None
        for entry in environ.split(b"\0"):
            if entry.startswith(self.marker):
                return entry[len(self.marker) :].decode()
        return None

    def _rss(self, pid: str) -> int:
        try:
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self.PAGE_BYTES
        except (OSError, IndexError, ValueError):
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            sums: dict[str, int] = {}
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and (group := self._group(entry.name)) is not None:
                    sums[group] = sums.get(group, 0) + self._rss(entry.name)
            for group, total in sums.items():
                self.peaks[group] = max(self.peaks.get(group, 0), total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
