"""Background processes for tests (servers, workers): started in their own session, so that
stopping one also stops everything it started (make's child, a worker's flow runs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


class Outage:
    """A TCP relay in front of a server, which the test takes down and brings back: down, its
    port refuses connections at once (ECONNREFUSED, as when a server is gone) and every relayed
    connection is cut; up, it relays again on the same port. The server behind it keeps
    running, so its data stays as it was."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._open: set[Any] = set()
        self._listener: Any = None
        self._threads: list[threading.Thread] = []
        self.up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        self._start(self._accept, listener)

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._open = self._open, set()
        if listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone does not on Linux
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for connection in connections:
            self._cut(connection)

    def close(self) -> None:
        self.down()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: Any) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: the outage began
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._open.update((client, server))
            self._start(self._pump, client, server)
            self._start(self._pump, server, client)

    def _pump(self, source: Any, target: Any) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for connection in (source, target):
                with self._lock:
                    self._open.discard(connection)
                self._cut(connection)

    def _cut(self, connection: Any) -> None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.close()
