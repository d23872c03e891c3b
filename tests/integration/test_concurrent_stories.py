"""Four different stories rendered at the same time, the two ways production and operators do it:

- four command-line processes reporting to one Prefect server (the session's);
- four flow runs of `generate-video/local` through one process worker, whose pool and
  deployment allow four at once (the README's make targets set the pool and deployment up; the
  test raises the pool's limit to four): none waits for a concurrency slot.

Every video must show its own pictures while its own captions are spoken: each story has its
own colours and captions of different lengths, so a picture, a caption or a narration track
taken from another story shows up as a wrong colour, a wrong cue text or a cue whose length is
not the time espeak-ng needs for its text. The peak memory of each run (the summed resident
memory of its process and its children, sampled every 0.1 s) is printed; it is not asserted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import timeline
from tests import media
from tests.deployment.test_deployment_image import creation_outputs
from tests.deployment.test_deployment_worker import BIN, make, tail
from tests.gcs_emulator import emulator_env
from tests.processes import PeakMemory, running, stop
from tests.stories import PALETTE, PartSpec, StorySpec, build_story

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FPS = 10
TINY_ARGS = ["--width", "160", "--height", "240", "--fps", str(FPS), "--preset", "ultrafast"]
TINY = {"width": 160, "height": 240, "fps": FPS, "preset": "ultrafast"}
CLOCK = 0.0015  # caption files round times to the millisecond
RUN_MARKER = "STORY_VIDEO_TEST_RUN"  # names the run a process belongs to, for PeakMemory
MB = 1024 * 1024


@dataclass(frozen=True)
class Story:
    name: str
    parts: list[tuple[tuple[int, int, int], str]]  # (colour, caption) per part, in order

    def spec(self) -> StorySpec:
        return StorySpec(
            parts={
                number: PartSpec(captions=[caption], colour=colour)
                for number, (colour, caption) in enumerate(self.parts, start=1)
            }
        )


# Eight colours, none shared between stories; captions of clearly different lengths.
STORIES = [
    Story("anna", [(PALETTE[0], "Anna."), (PALETTE[1], "Anna walks to the old green mill.")]),
    Story(
        "ben", [(PALETTE[2], "Ben sails across the wide blue bay at dawn."), (PALETTE[3], "Sun.")]
    ),
    Story("cleo", [(PALETTE[4], "Cleo sings."), (PALETTE[5], "The river hums back to her.")]),
    Story(
        "dan",
        [(PALETTE[6], "Dan bakes bread for the whole village."), (PALETTE[7], "Brown loaves.")],
    ),
]


def assert_shows_its_own_story(video: Path, srt: str, story: Story, scratch: Path) -> None:
    cues = media.parse_srt(srt)
    assert [" ".join(cue.text.split()) for cue in cues] == [text for _, text in story.parts]
    info = media.inspect(video)
    assert (info.width, info.height, info.frame_rate) == (160, 240, FPS)
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= 2 / FPS
    # The last caption ends, then the picture fades out alone (the pace's ending).
    assert (
        abs(cues[-1].end + timeline.pace_of("relaxed").ending_fade - info.video_seconds) <= 1 / FPS
    )
    samples, rate = media.read_wav_mono(media.soundtrack(video, scratch / f"{story.name}.wav"))
    for cue, (colour, text) in zip(cues, story.parts, strict=True):
        shown = media.frame_at(video, (cue.start + cue.end) / 2).centre()
        assert media.closest(shown, PALETTE) == colour, (story.name, text, shown)
        # On screen while it is spoken, with at most the pace's opening and pauses around it.
        spoken = media.espeak_seconds(text, audible=True)
        pace = timeline.pace_of("relaxed")
        around = pace.opening + pace.page_turn + pace.ending_hold + 2 / FPS
        assert spoken - CLOCK <= cue.end - cue.start <= spoken + around, (text, cue)
        level = media.rms(samples, int(cue.start * rate), int(cue.end * rate))
        assert level > 300, f"{story.name}: silence while {text!r} is on screen"


def report_memory(title: str, peaks: dict[str, int]) -> None:
    figures = ", ".join(f"{name} {peaks.get(name, 0) / MB:.0f} MB" for name in sorted(peaks))
    print(f"\n{title}: peak memory per run (process tree RSS): {figures}")


def test_four_command_lines_on_one_server_each_render_their_own_story(
    prefect_harness, tmp_path: Path
) -> None:
    import os

    from prefect.settings import PREFECT_API_URL

    stories = {story.name: build_story(tmp_path / story.name, story.spec()) for story in STORIES}
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # one speech cache, shared as on a machine
    }
    processes: dict[str, subprocess.Popen[str]] = {}
    with PeakMemory(RUN_MARKER) as memory:
        try:
            for name, folder in stories.items():
                processes[name] = subprocess.Popen(
                    [sys.executable, "flows/video.py", "--assets-dir", str(folder)]
                    + ["--out", str(out / f"{name}.mp4"), *TINY_ARGS],
                    cwd=ROOT,
                    env={**env, RUN_MARKER: name},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            answers = {
                name: process.communicate(timeout=300) for name, process in processes.items()
            }
        finally:
            for process in processes.values():
                if process.poll() is None:
                    stop(process)
    report_memory("four command lines", memory.peaks)

    for story in STORIES:
        stdout, stderr = answers[story.name]
        assert processes[story.name].returncode == 0, stderr[-3000:]
        video = out / f"{story.name}.mp4"
        assert stdout.strip().splitlines()[-1] == str(video)
        srt = (out / f"{story.name}.srt").read_text(encoding="utf-8")
        assert_shows_its_own_story(video, srt, story, tmp_path)
    assert set(memory.peaks) == set(stories)


def test_four_flow_runs_through_one_process_worker_each_render_their_own_story(
    prefect_harness, gcs_bucket, gcs_emulator, tmp_path: Path
) -> None:
    import os

    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    api_url = str(PREFECT_API_URL.value())
    cli_env = {**os.environ, "PREFECT_API_URL": api_url}
    make("local-pool", cli_env, "LOCAL_RUNS=4")  # the pool's limit: the only one there is
    make("deploy-local", cli_env)

    creations = {
        gcs_emulator.upload_story(build_story(tmp_path / s.name, s.spec()), gcs_bucket): s
        for s in STORIES
    }
    worker_env = {
        **emulator_env(gcs_emulator, gcs_bucket),
        "PREFECT_API_URL": api_url,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    worker_log = tmp_path / "worker.log"
    make_command = ["make", "-C", "deployments", "worker-local", f"PREFECT={BIN / 'prefect'}"]
    with running(make_command, worker_env, worker_log) as worker:
        runs = {
            run_deployment(  # type: ignore[union-attr]  # sync call: a FlowRun, not a coroutine
                "generate-video/local",
                parameters={"creation_id": creation_id, "options": TINY},
                timeout=0,
            ).id: creation_id
            for creation_id in creations
        }
        with PeakMemory("PREFECT__FLOW_RUN_ID") as memory:
            finished = wait_for_runs(list(runs), worker, worker_log)

    names = {str(run_id): creations[creation].name for run_id, creation in runs.items()}
    report_memory(
        "four flow runs, one worker", {names.get(k, k): v for k, v in memory.peaks.items()}
    )
    for flow_run in finished:
        assert flow_run.state is not None and flow_run.state.type == StateType.COMPLETED, (
            f"{flow_run.name}: {flow_run.state!r}\n--- worker log ---\n{tail(worker_log)}"
        )
    # The pool lets all four go: no run waited for a concurrency slot. (How
    # much they overlapped in time depends on the machine's speed: printed, not asserted.)
    waited = state_names(list(runs))
    assert not [
        run_id for run_id, states in waited.items() if "AwaitingConcurrencySlot" in states
    ], waited
    print(f"four flow runs, one worker: at most {most_at_once(finished)} running at once")

    for run_id, creation_id in runs.items():
        found = creation_outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / creation_id)
        assert found["record"]["flow_run_id"] == str(run_id)
        assert found["record"]["status"] == "completed"
        assert_shows_its_own_story(found["video"], found["srt"], creations[creation_id], tmp_path)
    assert set(memory.peaks) == {str(run_id) for run_id in runs}


def state_names(run_ids: list) -> dict[str, list[str]]:
    """Every state each run went through, by name, in order."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read() -> dict[str, list[str]]:
        async with get_client() as client:
            return {
                str(run_id): [
                    str(state.name) for state in await client.read_flow_run_states(run_id)
                ]
                for run_id in run_ids
            }

    return run_coro_as_sync(read())


def most_at_once(runs: list) -> int:
    """The largest number of the runs that were running at the same moment."""
    edges = sorted(
        [(run.start_time, 1) for run in runs if run.start_time]
        + [(run.end_time, -1) for run in runs if run.end_time]
    )
    running = most = 0
    for _, change in edges:
        running += change
        most = max(most, running)
    return most


def wait_for_runs(run_ids: list, worker: subprocess.Popen, worker_log: Path) -> list:
    """The runs once every one of them has ended (a safety net of 300 s, not an assertion)."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read_all() -> list:
        async with get_client() as client:
            return [await client.read_flow_run(run_id) for run_id in run_ids]

    deadline = time.monotonic() + 300
    while True:
        found = run_coro_as_sync(read_all())
        assert found is not None
        if all(run.state is not None and run.state.is_final() for run in found):
            return found
        assert worker.poll() is None, f"the worker stopped:\n{tail(worker_log)}"
        assert time.monotonic() < deadline, f"runs did not end:\n{tail(worker_log)}"
        time.sleep(1)
