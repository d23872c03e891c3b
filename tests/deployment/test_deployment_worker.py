"""End to end through a real worker, with the commands the README gives:

a `prefect server start` of its own (temporary PREFECT_HOME, analytics off) ->
`make -C deployments pools` (the process pool, and the Cloud Run pool from our template, which the
server validates) -> `make -C deployments deploy-local` (`prefect deploy` reading prefect.yaml) ->
`make -C deployments worker-local` (a process worker) -> `run_deployment` for a creation stored in
the GCS emulator -> the flow run is COMPLETED and the creation's video is in the bucket, showing
the story. Every process started here is stopped at the end, pass or fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.test_deployment_image import STORY, assert_video_shows_story, creation_outputs
from tests.gcs_emulator import emulator_env, free_port
from tests.processes import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TINY = {"width": 240, "height": 360, "fps": 12, "preset": "ultrafast"}


def tail(path: Path, characters: int = 4000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else ""


def wait_for_health(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 180  # 12-40 s on two busy cores
    while time.monotonic() < deadline:
        assert server.poll() is None, f"prefect server exited:\n{tail(log)}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"prefect server did not answer at {url}:\n{tail(log)}")


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real Prefect server on a free loopback port; yields its API URL and a CLI environment."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": api_url,
    }
    log = tmp_path / "server.log"
    server_env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}
    command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with running(command, server_env, log) as server:
        wait_for_health(api_url, server, log)
        yield api_url, env


def make(target: str, env: dict[str, str], *variables: str) -> str:
    """One step of the README's deploy section; its output, or a failure with the output."""
    tools = [f"PREFECT={BIN / 'prefect'}", f"PYTHON={sys.executable}"]
    answer = subprocess.run(
        ["make", "-C", "deployments", target, *tools, *variables],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, f"make {target} failed:\n{answer.stdout}\n{answer.stderr}"
    return answer.stdout


def test_local_deployment_renders_a_creation_through_a_process_worker(
    prefect_server, gcs_bucket, gcs_emulator, make_story, tmp_path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import FlowRun, StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    api_url, cli_env = prefect_server
    creation_id = gcs_emulator.upload_story(make_story(STORY), gcs_bucket)

    make("pools", cli_env, "GCP_PROJECT=demo-project", "CREATIONS_BUCKET=demo-creations")
    make("pools", cli_env, "GCP_PROJECT=demo-project", "CREATIONS_BUCKET=demo-creations")  # again
    make("deploy-local", cli_env)

    async def read_setup():
        async with get_client() as client:
            cloud_pool = await client.read_work_pool("story-video-cloud-run")
            local_pool = await client.read_work_pool("story-video-local")
            deployment = await client.read_deployment_by_name("generate-video/local")
            automations = await client.read_automations()
            return cloud_pool, local_pool, deployment, automations

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        setup = run_coro_as_sync(read_setup())
    assert setup is not None
    cloud_pool, local_pool, deployment, automations = setup
    assert (cloud_pool.type, local_pool.type) == ("cloud-run-v2", "process")
    cloud_defaults = cloud_pool.base_job_template["variables"]["properties"]
    assert cloud_defaults["timeout"]["default"] == 3600
    assert deployment.work_pool_name == "story-video-local"
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    ]
    # Two runs at once by the pool's limit (a deployment's limit re-schedules waiting runs
    # 30 s later each time), heartbeats every 30 s, and the crash automation beside the pools.
    assert local_pool.concurrency_limit == 2  # LOCAL_RUNS: a start overlaps a render
    assert deployment.global_concurrency_limit is None
    assert deployment.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert [a.name for a in automations] == ["story-video-crash-silent-runs"]

    worker_env = {
        **emulator_env(gcs_emulator, gcs_bucket),  # ENV=p, bucket, emulator, espeak
        "PREFECT_HOME": cli_env["PREFECT_HOME"],
        "PREFECT_API_URL": api_url,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PREFECT_WORKER_QUERY_SECONDS": "2",  # pick the run up quickly
    }
    worker_log = tmp_path / "worker.log"
    make_command = ["make", "-C", "deployments", "worker-local", f"PREFECT={BIN / 'prefect'}"]
    with running(make_command, worker_env, worker_log) as worker:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            flow_run = run_deployment(
                "generate-video/local",
                parameters={"creation_id": creation_id, "options": TINY},
                timeout=420,
            )
        assert worker.poll() is None, f"the worker stopped:\n{tail(worker_log)}"

    assert isinstance(flow_run, FlowRun)  # run_deployment, called from sync code
    assert flow_run.state is not None
    assert flow_run.state.type == StateType.COMPLETED, (
        f"{flow_run.state!r}\n--- worker log ---\n{tail(worker_log)}"
    )
    assert flow_run.name.startswith(f"video-{creation_id}-")  # then the language, the start
    assert f"creation:{creation_id}" in flow_run.tags
    assert {"story-video", "local"} <= set(flow_run.tags)

    found = creation_outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "out")
    assert found["record"]["flow_run_id"] == str(flow_run.id)
    assert found["record"]["creation_id"] == creation_id
    assert_video_shows_story(found, STORY, size=(240, 360), fps=12)
