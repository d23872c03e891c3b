"""A machine that dies with its render, through the stack the README sets up:

`prefect server start` -> `make -C deployments pools` (pools, and the crash automation) ->
`make deploy-local` -> `make worker-local` -> the operators' API triggers a creation from the GCS
emulator -> the worker and the render are SIGKILLed together, mid-render. Then:

- the API answers `failed` once the heartbeat grace has passed (without the automation's help:
  it reads the heartbeats itself), and the run ends Crashed (the automation, within ~2 minutes);
- a new worker and a new trigger render the creation (a new run), whose start removes the work
  folder the killed render left in the temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.deployment.test_deployment_worker import BIN, make, prefect_server, tail  # noqa: F401
from tests.gcs_emulator import emulator_env
from tests.integration.test_api import TOKEN, LiveServer, status_path, trigger_path
from tests.processes import running
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stack]

GRACE = 90  # the API's RUN_HEARTBEAT_GRACE_SECONDS default; heartbeats every 30 s


def poll(api: httpx.Client, path: str) -> dict[str, str]:
    """The API's answer; a 503 (a call over its bound on this busy machine) is asked again."""
    for _ in range(20):
        answer = api.get(path)
        if answer.status_code != 503:
            assert answer.status_code == 200, answer.text
            return dict(answer.json())
        time.sleep(1)
    raise AssertionError(f"503 twenty times in a row: {answer.text}")


def descendants(root: int) -> list[int]:
    """Every process below `root` (children first found through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_a_render_killed_with_its_worker_is_failed_then_crashed_and_renders_again(
    prefect_server,  # noqa: F811
    gcs_bucket,
    gcs_emulator,
    tmp_path,
    monkeypatch,
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from api.app import create_app
    from services.settings import reset_settings_cache

    api_url, cli_env = prefect_server
    make("pools", cli_env, "GCP_PROJECT=demo-project", f"CREATIONS_BUCKET={gcs_bucket}")
    make("deploy-local", cli_env)

    story = StorySpec(
        parts={
            n: PartSpec(captions=[f"Part {n} of a story that takes a while."]) for n in range(1, 9)
        }
    )
    creation_id = gcs_emulator.upload_story(build_story(tmp_path / "story", story), gcs_bucket)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    worker_env = {
        **emulator_env(gcs_emulator, gcs_bucket),
        "PREFECT_HOME": cli_env["PREFECT_HOME"],
        "PREFECT_API_URL": api_url,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TMPDIR": str(scratch),  # the renders' work folders, where this test can see them
    }
    worker_command = ["make", "-C", "deployments", "worker-local", f"PREFECT={BIN / 'prefect'}"]
    monkeypatch.setenv("VIDEO_DEPLOYMENT", "generate-video/local")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    reset_settings_cache()

    def run_states() -> dict[str, StateType]:
        with get_client(sync_client=True) as client:
            from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"creation:{creation_id}"])
                )
            )
        return {str(run.id): run.state.type for run in runs if run.state}

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with LiveServer(create_app()) as live:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=live.url, headers=headers, timeout=60) as api:
                # 1. A render under way, then its machine dies: worker and render at once.
                with running(worker_command, worker_env, tmp_path / "worker-1.log") as worker:
                    assert poll(api, trigger_path(creation_id))["status"] == "pending"
                    for _ in range(600):
                        answer = poll(api, status_path(creation_id))
                        if answer["status"] == "running" and list(scratch.glob("story-video-*")):
                            break
                        assert answer["status"] in ("pending", "running"), answer
                        time.sleep(0.5)
                    else:
                        raise AssertionError(f"never running:\n{tail(tmp_path / 'worker-1.log')}")
                    doomed = [worker.pid, *descendants(worker.pid)]
                    for pid in doomed:
                        with contextlib.suppress(ProcessLookupError):  # e.g. an espeak done
                            os.kill(pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                (killed_run,) = run_states()
                left_behind = list(scratch.glob("story-video-*"))
                assert left_behind, "the killed render left no work folder"

                # 2. The API gives the run up once the grace has passed, on its own.
                answers = []
                while time.monotonic() - killed_at < GRACE + 60:
                    answer = poll(api, status_path(creation_id))
                    answers.append((round(time.monotonic() - killed_at, 1), answer["status"]))
                    if answer["status"] == "failed":
                        break
                    assert answer["status"] == "running", answer
                    time.sleep(2)
                failed_after = answers[-1][0]
                print(f"\nAPI answered failed {failed_after:.0f} s after the kill")
                assert answers[-1][1] == "failed", answers
                assert answer["message"].startswith("The render stopped unexpectedly"), answer

                # 3. The automation marks the run Crashed within about two minutes.
                while time.monotonic() - killed_at < 150:
                    if run_states()[killed_run] == StateType.CRASHED:
                        break
                    time.sleep(2)
                crashed_after = time.monotonic() - killed_at
                print(f"the automation marked the run Crashed {crashed_after:.0f} s after the kill")
                assert run_states()[killed_run] == StateType.CRASHED

                # 4. A new worker, a new trigger: a new run renders, and the old folder goes.
                with running(worker_command, worker_env, tmp_path / "worker-2.log") as worker:
                    assert poll(api, trigger_path(creation_id))["status"] == "pending"
                    for _ in range(1200):
                        answer = poll(api, status_path(creation_id))
                        if answer["status"] in ("completed", "failed"):
                            break
                        assert worker.poll() is None, tail(tmp_path / "worker-2.log")
                        time.sleep(0.5)
                assert answer["status"] == "completed", (answer, tail(tmp_path / "worker-2.log"))
                states = run_states()
                assert len(states) == 2 and states[killed_run] == StateType.CRASHED
                assert not [folder for folder in left_behind if folder.exists()]
                assert httpx.get(answer["video_url"]).status_code == 200
