"""The API under faults, against a real Prefect server and a real GCS emulator (no worker):

- a run that says RUNNING but whose heartbeats stopped is answered `failed`, and a trigger moves
  it to Crashed and starts a new run; one that still beats stays `running`;
- a publish interrupted after its journal (at every step of the switch) is finished by the
  status call itself: every output the answer links is of the new set;
- a frozen bucket (the emulator SIGSTOPped) and a frozen or stopped Prefect server: status and
  trigger answer 503 within 5 s, and answer normally again once the service is back.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.record import VideoRecord
from services.storage.base import OutputFile, journal_name
from services.storage.bucket import GcsStorage
from tests.gcs_emulator import GcsEmulator, free_port
from tests.integration.test_api import (  # noqa: F401 - fixtures
    SMALL,
    TOKEN,
    LiveServer,
    api_deployment,
    api_env,
    creation,
    operators,
    runs_of,
    set_state,
    status_path,
    trigger_path,
)
from tests.processes import running

pytestmark = pytest.mark.integration

ANSWER_LIMIT = 5.0  # seconds: the promise for 503s during outages
GRACE = 3  # seconds without a heartbeat before the API gives a run up (production: 90)


LONGER_GRACE = 12  # for the run that beats: time enough to store a beat and ask on a busy machine


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's heartbeat grace, shortened (requested before `operators`, which reads it)."""
    monkeypatch.setenv("RUN_HEARTBEAT_GRACE_SECONDS", str(GRACE))


@pytest.fixture
def longer_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_HEARTBEAT_GRACE_SECONDS", str(LONGER_GRACE))


# -- runs whose machine is gone ------------------------------------------------------------------


def test_a_running_run_without_heartbeats_is_failed_and_a_trigger_replaces_it(
    short_grace: None,
    operators: httpx.Client,  # noqa: F811
    creation: str,  # noqa: F811
) -> None:
    from prefect import states
    from prefect.client.schemas.objects import StateType

    operators.get(trigger_path(creation))
    (stale,) = runs_of(creation)
    set_state(stale.id, states.Running())
    assert operators.get(status_path(creation)).json()["status"] == "running"  # just started
    # Not one heartbeat for longer than the grace: its machine died with its worker.
    time.sleep(GRACE + 0.5)

    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "failed", answer
    assert answer["message"].startswith("The render stopped unexpectedly")

    started = operators.get(trigger_path(creation)).json()
    assert started["status"] == "pending", started
    runs = {run.id: run for run in runs_of(creation)}
    assert len(runs) == 2
    assert runs[stale.id].state.type == StateType.CRASHED
    fresh = next(run for run in runs.values() if run.id != stale.id)
    assert fresh.idempotency_key == f"{creation}:{stale.id}"


def test_a_long_run_that_still_beats_stays_running(
    longer_grace: None,
    operators: httpx.Client,  # noqa: F811
    creation: str,  # noqa: F811
) -> None:
    from prefect import get_client, states
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    operators.get(trigger_path(creation))
    (run,) = runs_of(creation)
    set_state(run.id, states.Running())
    time.sleep(LONGER_GRACE + 0.5)  # running for longer than the grace...
    resource = f"prefect.flow-run.{run.id}"
    beat = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": "prefect.flow-run.heartbeat",
        "resource": {"prefect.resource.id": resource},
        "related": [],
        "payload": {},
    }
    with get_client(sync_client=True) as client:
        client.request("POST", "/events", json=[beat])  # what the flow engine's thread sends
        search = EventFilter(
            event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
            resource=EventResourceFilter(id=[resource]),
        )
        for _ in range(100):  # events are stored asynchronously
            if client.read_events(search, limit=1).events:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the heartbeat was not stored")

    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "running", answer
    assert operators.get(trigger_path(creation)).json()["status"] == "running"
    assert len(runs_of(creation)) == 1


# -- a publish interrupted after its journal ------------------------------------------------------


class CrashingSwitch(GcsStorage):
    """Dies (like a killed process) after `promotions` outputs of a switch were promoted."""

    def __init__(self, *args: Any, promotions: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.left = promotions

    def _promote(self, staged: str, name: str) -> None:
        if self.left == 0:
            raise KeyboardInterrupt("killed while switching")
        self.left -= 1
        super()._promote(staged, name)


def output_set(folder: Path, generation: str, creation_id: str) -> list[OutputFile]:
    """Small stand-ins of the five outputs, each saying which generation it belongs to."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in ["video.srt", "video.vtt", "video.jpg", "video.mp4"]:
        (folder / name).write_text(f"{generation} {name}")
        files.append(OutputFile(folder / name, name))
    record = VideoRecord(
        status="completed", creation_id=creation_id, video="video.mp4", poster="video.jpg"
    )
    text = record.model_dump(mode="json") | {"error": generation}  # marks the generation
    (folder / "video.json").write_text(json.dumps(text))
    files.append(OutputFile(folder / "video.json", "video.json", "application/json"))
    return files


@pytest.mark.parametrize("promotions", [0, 1, 2, 3, 4])
def test_a_publish_killed_after_its_journal_is_finished_before_the_answer(
    operators: httpx.Client,  # noqa: F811
    creation: str,  # noqa: F811
    api_env: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
    tmp_path: Path,
    promotions: int,
) -> None:
    bucket = api_env
    folder = GcsStorage(bucket, f"{creation}/assets")
    folder.publish_together(output_set(tmp_path / "old", "old", creation), "video")
    crashing = CrashingSwitch(bucket, f"{creation}/assets", promotions=promotions)
    with pytest.raises(KeyboardInterrupt):
        crashing.publish_together(output_set(tmp_path / "new", "new", creation), "video")
    names = gcs_emulator.names(bucket, f"{creation}/assets/")
    assert f"{creation}/assets/{journal_name('video')}" in names  # the crash left the journal

    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "completed", answer
    for link in (answer["video_url"], answer["poster_url"]):
        assert httpx.get(link).text.startswith("new "), link
    for name in ["video.srt", "video.vtt", "video.jpg", "video.mp4", "video.json"]:
        content = gcs_emulator.read_bytes(bucket, f"{creation}/assets/{name}")
        assert content is not None and b"new" in content, name
    left = gcs_emulator.names(bucket, f"{creation}/assets/")
    assert not [name for name in left if "/assets/." in name], left  # journal and staging gone


# -- outages: 503 within 5 s, and back by themselves ----------------------------------------------


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    answer = call()
    return answer, time.monotonic() - start


def test_a_frozen_bucket_is_503_within_5_s_and_recovers(
    operators: httpx.Client,  # noqa: F811
    creation: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
) -> None:
    assert gcs_emulator.process is not None
    assert operators.get(status_path(creation)).status_code == 200
    os.kill(gcs_emulator.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        for path in (status_path(creation), trigger_path(creation)):
            answer, seconds = timed(lambda path=path: operators.get(path))  # type: ignore[misc]
            assert answer.status_code == 503, answer.text
            assert seconds < ANSWER_LIMIT, (path, seconds)
            assert "CREATIONS_BUCKET" not in answer.text
    finally:
        os.kill(gcs_emulator.process.pid, signal.SIGCONT)
    assert operators.get(status_path(creation)).status_code == 200
    assert operators.get(trigger_path(creation)).json()["status"] == "pending"


@pytest.fixture
def own_prefect(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A `prefect server start` of this test's own, which it may freeze and stop; the factory
    starts it (again, on the same port and database) and returns the process."""
    from tests.deployment.test_deployment_worker import BIN, wait_for_health

    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-services"]
    servers: list[Any] = []

    def start() -> Any:
        log = tmp_path / f"server-{len(servers)}.log"
        context = running(command, env, log)
        process = context.__enter__()
        servers.append(context)
        wait_for_health(url, process, log)
        return process

    start.url = url  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for context in reversed(servers):
            context.__exit__(None, None, None)


def test_a_frozen_or_stopped_prefect_is_503_within_5_s_and_recovers(
    own_prefect: Any,
    api_env: str,  # noqa: F811
    gcs_emulator: GcsEmulator,
    make_story: Callable[..., Path],
) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from api.app import create_app
    from flows.video import generate_video
    from tests.integration.test_api import REPO

    server = own_prefect()
    creation_id = gcs_emulator.upload_story(make_story({1: ["Hello."]}), api_env)
    with temporary_settings(updates={PREFECT_API_URL: own_prefect.url}):
        with get_client(sync_client=True) as client:
            client.create_work_pool(WorkPoolCreate(name="faults-pool", type="process"))
        source = generate_video.from_source(
            source=str(REPO), entrypoint="flows/video.py:generate_video"
        )
        deployment = source.to_deployment(name="api-test", parameters={"options": SMALL})  # type: ignore[union-attr]
        deployment.apply(work_pool_name="faults-pool")  # type: ignore[union-attr]
        with LiveServer(create_app()) as live:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=live.url, headers=headers, timeout=60) as api:

                def both_503(why: str) -> None:
                    for path in (status_path(creation_id), trigger_path(creation_id)):
                        answer, seconds = timed(lambda path=path: api.get(path))  # type: ignore[misc]
                        assert answer.status_code == 503, (why, answer.text)
                        assert seconds < ANSWER_LIMIT, (why, path, seconds)
                        print(f"\n{why}: {path.rsplit('/', 1)[1]} 503 in {seconds:.2f} s")

                assert api.get(trigger_path(creation_id)).json()["status"] == "pending"
                os.killpg(server.pid, signal.SIGSTOP)
                try:
                    both_503("Prefect frozen")
                finally:
                    os.killpg(server.pid, signal.SIGCONT)
                assert api.get(status_path(creation_id)).json()["status"] == "pending"

                from tests.processes import stop

                stop(server)
                both_503("Prefect stopped")
                own_prefect()  # back, same port and database: the API recovers unrestarted
                for _ in range(50):
                    answer = api.get(status_path(creation_id))
                    if answer.status_code == 200:
                        break
                    time.sleep(0.2)
                assert answer.json()["status"] == "pending", answer.text
                assert api.get(trigger_path(creation_id)).json()["status"] == "pending"
