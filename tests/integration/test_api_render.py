"""The API end to end: a real process worker renders what the API triggers, from the emulator.

Trigger -> pending/running -> completed, with a link that serves the MP4; a broken story ->
failed, with the message that names its part and file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.media import ffmpeg
from services.record import VideoRecord
from tests.gcs_emulator import GcsEmulator, emulator_env
from tests.integration.test_api import (  # noqa: F401 - api_deployment is a fixture
    POOL,
    SMALL,
    TOKEN,
    api_deployment,
    live_operators_app,
    runs_of,
    status_path,
    trigger_path,
)
from tests.processes import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORDER = ["pending", "running", "completed"]


@pytest.fixture(scope="module")
def render_bucket(gcs_emulator: GcsEmulator) -> str:
    return gcs_emulator.create_bucket()


@pytest.fixture(scope="module")
def worker(
    api_deployment: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
    render_bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[subprocess.Popen[bytes]]:
    """`prefect worker start` on the test pool; its flow runs read and write the emulator."""
    from prefect.settings import PREFECT_API_URL

    env = emulator_env(gcs_emulator, render_bucket)
    env.update(
        {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    )
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL]
    command += ["--type", "process", "--limit", "1"]
    # The worker and any flow run it started share its session: they are stopped together.
    with running(command, env, log) as process:
        yield process


@pytest.fixture(scope="module")
def api(
    worker: subprocess.Popen[bytes],
    api_deployment: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
    render_bucket: str,
) -> Iterator[httpx.Client]:
    with live_operators_app(gcs_emulator, render_bucket, api_deployment) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            yield client


def follow(
    api: httpx.Client, creation_id: str, worker: subprocess.Popen[bytes]
) -> list[dict[str, Any]]:
    """Poll the status until the render ends; every answer, in order."""
    answers: list[dict[str, Any]] = []
    for _ in range(3000):  # a bound, not a timing assertion: a hung render fails the test
        answer = api.get(status_path(creation_id))
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        if answers[-1]["status"] in ("completed", "failed"):
            return answers
        assert worker.poll() is None, "the worker died"
        time.sleep(0.2)
    raise AssertionError(f"the render did not end; last answer: {answers[-1]}")


def test_trigger_renders_and_the_link_serves_the_video(
    api: httpx.Client,
    worker: subprocess.Popen[bytes],
    gcs_emulator: GcsEmulator,
    render_bucket: str,
    make_story: Callable[..., Path],
    tmp_path: Path,
) -> None:
    story = make_story({1: ["Es war einmal."], 2: ["Ein Fuchs.", "Ende."]})
    creation_id = gcs_emulator.upload_story(story, render_bucket)

    # German in Latin script: auto could not tell it, so the caller says it (the GET is the same
    # trigger without options: tests/integration/test_api.py).
    started = api.post(trigger_path(creation_id), json={"language": "de"}).json()
    assert started["status"] == "pending"
    answers = [started, *follow(api, creation_id, worker)]

    final = answers[-1]
    assert final["status"] == "completed", final
    statuses = [answer["status"] for answer in answers]
    assert statuses == sorted(statuses, key=ORDER.index), statuses  # never goes backwards
    assert "running" in statuses  # starting the flow alone takes seconds; polls see it
    progress = [answer["progress"] for answer in answers]
    assert progress == sorted(progress)
    assert final["progress"] == 1.0
    assert started["video_url"] is None  # no video yet (it appears once published)

    download = httpx.get(final["video_url"])
    assert download.status_code == 200
    video = tmp_path / "downloaded.mp4"
    video.write_bytes(download.content)
    info = ffmpeg.probe(video)
    kinds = sorted(stream["codec_type"] for stream in info["streams"])
    assert kinds == ["audio", "data", "video"]  # data: the chapter titles
    record_text = gcs_emulator.read_bytes(render_bucket, f"{creation_id}/assets/video.json")
    assert record_text is not None
    record = VideoRecord.from_json(record_text.decode())
    assert record.duration_seconds is not None
    assert float(info["format"]["duration"]) == pytest.approx(record.duration_seconds, abs=0.1)
    assert record.language == "de"
    # The caller's language on top of the deployment's options: its frame size stayed.
    (picture,) = [stream for stream in info["streams"] if stream["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (SMALL["width"], SMALL["height"])
    assert final["message"] == f"The video is ready ({record.duration_seconds:.0f} s)."


def test_a_broken_story_fails_with_a_message_naming_part_and_file(
    api: httpx.Client,
    worker: subprocess.Popen[bytes],
    gcs_emulator: GcsEmulator,
    render_bucket: str,
    make_story: Callable[..., Path],
) -> None:
    story = make_story({1: ["Fine."], 2: ["Also fine."]})
    (story / "2" / "1.txt").write_text("   \n", encoding="utf-8")
    creation_id = gcs_emulator.upload_story(story, render_bucket)

    assert api.get(trigger_path(creation_id)).json()["status"] == "pending"
    final = follow(api, creation_id, worker)[-1]
    assert final["status"] == "failed"
    assert final["message"].startswith("The render failed: ")
    assert "part 2" in final["message"] and "1.txt" in final["message"]
    assert "Traceback" not in final["message"]
    assert final["video_url"] is None


def test_an_unchanged_creation_is_answered_at_once_and_a_failed_rerender_keeps_the_facts(
    api: httpx.Client,
    worker: subprocess.Popen[bytes],
    gcs_emulator: GcsEmulator,
    render_bucket: str,
    make_story: Callable[..., Path],
) -> None:
    story = make_story({1: ["One fox."], 2: ["Two foxes."]})
    creation_id = gcs_emulator.upload_story(story, render_bucket)
    record_name = f"{creation_id}/assets/video.json"

    assert api.post(trigger_path(creation_id), json={"language": "en"}).json()["status"]
    assert follow(api, creation_id, worker)[-1]["status"] == "completed"
    first_text = gcs_emulator.read_bytes(render_bucket, record_name)
    assert first_text is not None
    first = VideoRecord.from_json(first_text)
    assert first.inputs is not None and set(first.inputs) == {
        "1/1.txt",
        "1/image.png",
        "2/1.txt",
        "2/image.png",
    }

    # The same options, nothing changed in the bucket: completed at once, no new run.
    (run,) = runs_of(creation_id)
    for body in ({"language": "en"}, {"language": "en"}):
        again = api.post(trigger_path(creation_id), json=body)
        assert again.json()["status"] == "completed", again.text
        assert again.json()["video_url"]
    assert [r.id for r in runs_of(creation_id)] == [run.id]
    # Other options are another video: a new run.
    other = api.post(trigger_path(creation_id), json={"language": "en", "zoom": True})
    assert other.json()["status"] == "pending"
    assert follow(api, creation_id, worker)[-1]["status"] == "completed"
    second_text = gcs_emulator.read_bytes(render_bucket, record_name)
    assert second_text is not None
    second = VideoRecord.from_json(second_text)

    # A changed file (here: broken) is another story: a new run, which fails; the record keeps
    # the facts of the video that is still there, beside the failure.
    gcs_emulator.write_bytes(render_bucket, f"{creation_id}/assets/2/1.txt", b"  \n")
    assert api.post(trigger_path(creation_id), json={"language": "en", "zoom": True}).json()[
        "status"
    ] in ("pending", "running")
    final = follow(api, creation_id, worker)[-1]
    assert final["status"] == "failed" and final["video_url"], final
    failed_text = gcs_emulator.read_bytes(render_bucket, record_name)
    assert failed_text is not None
    failed = VideoRecord.from_json(failed_text)
    assert failed.status == "failed" and failed.last_completed is not None
    assert failed.last_completed.flow_run_id == second.flow_run_id
    assert failed.last_completed.duration_seconds == second.duration_seconds
    assert len(runs_of(creation_id)) == 3
