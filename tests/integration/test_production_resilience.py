"""The command line in production mode as its own process (as Cloud Run runs it), against a real
GCS emulator server: storage going away mid-run, the render process killed mid-run and run again,
and a stop by SIGTERM.

Runs attach to the session's Prefect server (PREFECT_API_URL), so no process starts its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.gcs_emulator import GcsEmulator, emulator_env
from tests.integration.test_production import assert_shows_story, cache_keys, outputs, read_record
from tests.processes import Outage
from tests.stories import PALETTE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TINY_ARGS = ["--width", "240", "--height", "360", "--fps", "12", "--preset", "ultrafast"]
# A safety net so a broken run cannot hang the suite; no assertion depends on it.
PATIENCE = 240.0


class CliRun:
    """`python flows/video.py CREATION_ID ...` in its own process group, its output collected."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "flows/video.py", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # the render's ffmpeg children share its group
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(self.process.stdout, self.out)),
            threading.Thread(target=self._drain, args=(self.process.stderr, self.err)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    def wait_for_output(self, pattern: str) -> str:
        wanted = re.compile(pattern)
        found = wait_until(
            lambda: (
                next((line for line in list(self.err) if wanted.search(line)), None)
                or (self.process.poll() is not None and "exited")
            ),
            f"a line matching {pattern!r}",
        )
        assert found != "exited", f"the run ended before {pattern!r}:\n{self.stderr[-4000:]}"
        return str(found)

    def wait(self) -> int:
        code = self.process.wait(timeout=PATIENCE)
        self.close()
        return code

    def close(self) -> None:
        """Whatever happened: the process group ended, its output read, its pipes closed (an
        unclosed pipe is a ResourceWarning, which would fail whichever test runs next)."""
        if self.process.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.process.wait()
        for reader in self._readers:
            reader.join()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def signal_group(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)


@pytest.fixture
def start_cli() -> Iterator[Callable[[list[str], dict[str, str]], CliRun]]:
    """Start command-line runs; every one is ended and closed when the test ends, pass or fail."""
    runs: list[CliRun] = []

    def start(args: list[str], env: dict[str, str]) -> CliRun:
        runs.append(CliRun(args, env))
        return runs[-1]

    yield start
    for run in runs:
        run.close()


def wait_until(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + PATIENCE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def cli_env(
    emulator: GcsEmulator, bucket: str, tmp_dir: Path, storage: str | None = None
) -> dict[str, str]:
    """The run's environment; `storage`, another endpoint for the bucket (an `Outage`)."""
    from prefect.settings import PREFECT_API_URL

    tmp_dir.mkdir(parents=True, exist_ok=True)
    return {
        **emulator_env(emulator, bucket),
        **({"STORAGE_EMULATOR_HOST": storage} if storage else {}),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "TMPDIR": str(tmp_dir),  # where the run's work area goes: checked for leftovers
    }


def story_of(count: int) -> dict[int, list[str]]:
    return {number: [f"Part {number} of the story."] for number in range(1, count + 1)}


def numbers(pattern: str, text: str) -> list[int]:
    return sorted(int(found) for found in re.findall(pattern, text))


def test_crash_mid_run_then_a_rerun_renders_only_the_unfinished_parts(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path, start_cli
) -> None:
    story = story_of(8)
    creation_id = gcs_emulator.upload_story(make_story(story), gcs_bucket)

    crashed = start_cli(
        [creation_id, *TINY_ARGS], cli_env(gcs_emulator, gcs_bucket, tmp_path / "a")
    )
    wait_until(lambda: len(cache_keys(gcs_emulator, gcs_bucket, creation_id)) >= 2, "2 parts")
    crashed.signal_group(signal.SIGKILL)
    assert crashed.wait() == -signal.SIGKILL
    finished = cache_keys(gcs_emulator, gcs_bucket, creation_id)
    assert 2 <= len(finished) < len(story), "the kill must land mid-run"
    record = read_record(gcs_emulator, gcs_bucket, creation_id)
    assert record is not None and record["status"] == "running"  # nobody wrote the end
    assert gcs_emulator.read_bytes(gcs_bucket, f"{creation_id}/assets/video.mp4") is None

    rerun = start_cli([creation_id, *TINY_ARGS], cli_env(gcs_emulator, gcs_bucket, tmp_path / "b"))
    assert rerun.wait() == 0, rerun.stderr[-4000:]
    assert rerun.stdout.strip() == f"gs://{gcs_bucket}/{creation_id}/assets/video.mp4"
    reused = numbers(r"part (\d+) re-used", rerun.stderr)
    rendered = numbers(r"part (\d+) rendered", rerun.stderr)
    assert len(reused) == len(finished)
    assert len(rendered) == len(story) - len(finished)
    assert sorted(reused + rendered) == list(story)
    assert not list((tmp_path / "b").iterdir()), "the work area was not cleaned up"

    found = outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "out")
    assert found["record"]["parts_reused"] == len(finished)
    assert found["record"]["flow_run_id"] != record["flow_run_id"]
    assert_shows_story(
        found, [(PALETTE[index], texts) for index, texts in enumerate(story.values())]
    )


def test_storage_outage_mid_run_retries_then_fails_and_keeps_the_old_video(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path, start_cli
) -> None:
    creation_id = gcs_emulator.upload_story(make_story(story_of(6)), gcs_bucket)
    previous = {
        "video.mp4": b"the previous video, complete",
        "video.srt": b"1\n00:00:00,000 --> 00:00:01,000\nold\n",
        "video.vtt": b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nold\n",
    }
    for name, data in previous.items():
        gcs_emulator.write_bytes(gcs_bucket, f"{creation_id}/assets/{name}", data)

    # The run reaches the bucket through a relay the test takes down: at once, so the outage
    # starts while parts remain to render (stopping the emulator itself takes seconds, in which
    # a fast machine could finish the run), and the emulator's data stays as it was.
    outage = Outage(gcs_emulator.port)
    try:
        env = cli_env(gcs_emulator, gcs_bucket, tmp_path / "w", storage=outage.endpoint)
        run = start_cli([creation_id, *TINY_ARGS], env)
        wait_until(
            lambda: (read_record(gcs_emulator, gcs_bucket, creation_id) or {}).get("parts_done"),
            "a finished part",
        )
        outage.down()
        # Tasks retry with backoff, give up, and the run then tries to record its failure (for
        # about a minute): bring storage back while it does, so the record says what happened.
        run.wait_for_output(r"could not record the failure in .*video\.json")
        outage.up()
        assert run.wait() == 1
    finally:
        outage.close()

    assert re.search(r"Retry 1/4 will start", run.stderr), "storage errors were not retried"
    error_line = run.stderr.strip().splitlines()[-1]
    assert error_line.startswith("error: could not ")
    assert "connection refused" in error_line
    record = read_record(gcs_emulator, gcs_bucket, creation_id)
    assert record is not None and record["status"] == "failed"
    assert "connection refused" in record["error"] and "run it again later" in record["error"]
    for name, data in previous.items():
        assert gcs_emulator.read_bytes(gcs_bucket, f"{creation_id}/assets/{name}") == data
    assert not list((tmp_path / "w").iterdir()), "the work area was not cleaned up"


def test_sigterm_ends_the_run_with_a_failed_record_and_no_leftovers(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path, start_cli
) -> None:
    creation_id = gcs_emulator.upload_story(make_story(story_of(6)), gcs_bucket)
    run = start_cli([creation_id, *TINY_ARGS], cli_env(gcs_emulator, gcs_bucket, tmp_path / "w"))
    wait_until(
        lambda: (read_record(gcs_emulator, gcs_bucket, creation_id) or {}).get("parts_done", 0),
        "a finished part",
    )
    os.kill(run.process.pid, signal.SIGTERM)  # as Cloud Run does at a task timeout
    assert run.wait() != 0
    record = read_record(gcs_emulator, gcs_bucket, creation_id)
    assert record is not None and record["status"] == "failed"
    assert "interrupted" in record["error"]
    assert gcs_emulator.read_bytes(gcs_bucket, f"{creation_id}/assets/video.mp4") is None
    assert not list((tmp_path / "w").iterdir()), "the work area was not cleaned up"
