"""The trigger and status API against a real Prefect server and a real GCS emulator.

No worker here: runs stay queued unless a test moves them through Prefect's states itself (on
the real server, as a worker or an operator would), which covers every state type quickly.
tests/integration/test_api_render.py renders for real through a process worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from services.record import VideoRecord, now
from tests.gcs_emulator import GcsEmulator, free_port

pytestmark = pytest.mark.integration

TOKEN = "operators-token-for-the-tests-0123"
POOL = "api-test-pool"
DEPLOYMENT = "generate-video/api-test"
SMALL = {"width": 240, "height": 360, "fps": 12, "preset": "ultrafast"}
REPO = Path(__file__).resolve().parents[2]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def api_deployment(prefect_harness: None) -> str:
    """`generate-video/api-test` on a process work pool, tiny render options by default."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.video import generate_video

    with get_client(sync_client=True) as client:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    # From this checkout as its source, so a process worker runs the code here (a plain
    # to_deployment would record "." and the worker would look in a temporary folder).
    source = generate_video.from_source(
        source=str(REPO), entrypoint="flows/video.py:generate_video"
    )
    # Called from sync code, these return their results, not coroutines.
    deployment = source.to_deployment(  # type: ignore[union-attr]
        name="api-test",
        parameters={"options": SMALL},
        job_variables={"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}},  # as prefect.yaml
    )
    deployment.apply(work_pool_name=POOL)  # type: ignore[union-attr]
    return DEPLOYMENT


@pytest.fixture
def api_env(api_deployment: str, gcs_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This process configured like the API service; returns the creations bucket."""
    from services.settings import reset_settings_cache

    monkeypatch.setenv("VIDEO_DEPLOYMENT", api_deployment)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    reset_settings_cache()
    return gcs_bucket


class LiveServer:
    """An ASGI app served by uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        # The thread sees this test's Prefect settings (a context variable), like the code here.
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self.server.run,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the API server did not start (see the log above)")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextlib.contextmanager
def live_operators_app(emulator: GcsEmulator, bucket: str, deployment: str) -> Iterator[str]:
    """The operators' app on a loopback port, configured for `bucket` and `deployment`."""
    from api.app import create_app
    from services.settings import reset_settings_cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", emulator.endpoint)
        patch.setenv("CREATIONS_BUCKET", bucket)
        patch.setenv("VIDEO_DEPLOYMENT", deployment)
        patch.setenv("API_TOKEN", TOKEN)
        reset_settings_cache()
        try:
            with LiveServer(create_app()) as live:
                yield live.url
        finally:
            reset_settings_cache()


@pytest.fixture
def operators(api_env: str) -> Iterator[httpx.Client]:
    """The standalone operators' app, live, and a client that sends the token."""
    from api.app import create_app

    with LiveServer(create_app()) as live:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
            yield client


# A host app like the story app: users by header, and who owns which creation.
OWNERS: dict[str, str] = {}


def host_app() -> FastAPI:
    from api import create_router

    def current_user(x_user: str | None = Header(default=None)) -> str:
        if not x_user:
            raise HTTPException(401, "Sign in first.")
        return x_user

    async def owns(user: str, creation_id: str) -> bool:
        return OWNERS.get(creation_id) == user

    app = FastAPI(title="story app")
    app.include_router(create_router(current_user=current_user, may_act=owns))
    return app


@pytest.fixture
def story_app(api_env: str) -> Iterator[str]:
    with LiveServer(host_app()) as live:
        yield live.url


def trigger_path(creation_id: str) -> str:
    return f"/me/creation/{creation_id}/generate_video"


def status_path(creation_id: str) -> str:
    return f"/me/creation/{creation_id}/generate_video_status"


def post_at_once(
    operators: httpx.Client, path: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    """POST every body to `path` at once, with the operators' headers; the answers in order."""

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=str(operators.base_url), headers=operators.headers, timeout=120
        ) as client:
            return await asyncio.gather(*(client.post(path, json=body) for body in bodies))

    return asyncio.run(fire())


def runs_of(creation_id: str) -> list[Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"creation:{creation_id}"]))
        )


def set_state(flow_run_id: Any, state: Any) -> None:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, state, force=True)


def write_record(emulator: GcsEmulator, bucket: str, creation_id: str, **fields: Any) -> None:
    record = VideoRecord(creation_id=creation_id, **fields)
    emulator.write_bytes(
        bucket, f"{creation_id}/assets/video.json", record.to_json().encode(), "application/json"
    )


@pytest.fixture
def creation(api_env: str, gcs_emulator: GcsEmulator, make_story: Callable[..., Path]) -> str:
    """A two-part story uploaded to the bucket; returns its id."""
    folder = make_story({1: ["Once upon a time."], 2: ["The end."]})
    return gcs_emulator.upload_story(folder, api_env)


# -- trigger: one run per render ------------------------------------------------------------------


def test_trigger_starts_a_tagged_run_of_the_deployment_and_repeats_return_it(
    operators: httpx.Client, creation: str
) -> None:
    first = operators.get(trigger_path(creation))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "status": "pending",
        "message": "The render is queued and will start shortly.",
        "progress": 0.0,
        "video_url": None,
        "poster_url": None,
    }
    assert first.headers["cache-control"] == "no-store"
    runs = runs_of(creation)
    assert len(runs) == 1
    assert runs[0].parameters == {"creation_id": creation, "options": SMALL}  # + its defaults
    assert runs[0].idempotency_key == f"{creation}:first"

    again = operators.get(trigger_path(creation))
    assert again.json()["status"] == "pending"
    assert [run.id for run in runs_of(creation)] == [runs[0].id]
    assert operators.get(status_path(creation)).json()["status"] == "pending"


def test_twenty_concurrent_triggers_to_two_api_processes_start_exactly_one_run(
    api_env: str, creation: str
) -> None:
    from prefect.settings import PREFECT_API_URL

    port = free_port()
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--workers", "2", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=REPO, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, server)

        async def fire() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=20)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(
                base_url=base, headers=headers, limits=limits, timeout=120
            ) as client:
                return await asyncio.gather(
                    *(client.get(trigger_path(creation)) for _ in range(20))
                )

        answers = asyncio.run(fire())
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [answer.status_code for answer in answers] == [200] * 20, answers[0].text
    assert {answer.json()["status"] for answer in answers} == {"pending"}
    assert len(runs_of(creation)) == 1


def wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            # Any answer (401: no token) means both lifespans ran and the port is served.
            httpx.get(base + status_path(str(uuid.uuid4())), timeout=5)
            return
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not start serving")


@pytest.mark.parametrize("ending", ["Completed", "Failed", "Crashed", "Cancelled"])
def test_after_a_run_ends_the_next_trigger_starts_a_new_one(
    operators: httpx.Client, creation: str, ending: str
) -> None:
    from prefect import states

    operators.get(trigger_path(creation))
    (first,) = runs_of(creation)
    set_state(first.id, getattr(states, ending)())

    assert operators.get(trigger_path(creation)).json()["status"] == "pending"
    runs = runs_of(creation)
    assert len(runs) == 2
    second = next(run for run in runs if run.id != first.id)
    assert second.idempotency_key == f"{creation}:{first.id}"
    # ...and while that one is pending, triggers return it.
    operators.get(trigger_path(creation))
    assert len(runs_of(creation)) == 2


def test_trigger_of_a_creation_with_nothing_uploaded_is_404_and_starts_nothing(
    operators: httpx.Client,
) -> None:
    missing = str(uuid.uuid4())
    answer = operators.get(trigger_path(missing))
    assert answer.status_code == 404
    assert answer.json() == {"detail": f"Creation {missing} was not found."}
    assert runs_of(missing) == []
    status = operators.get(status_path(missing))
    assert status.status_code == 200
    assert status.json()["status"] == "not_found"


def test_trigger_of_a_creation_holding_only_an_old_video_is_404_like_the_flow_says(
    operators: httpx.Client, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    """Only video.mp4 and video.json, no part folders: the render would fail at once with
    "not found", so the trigger answers 404 and starts nothing; the old video stays linked."""
    creation = str(uuid.uuid4())
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.mp4", b"an old video")
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/notes/1.txt", b"not a part")
    answer = operators.get(trigger_path(creation))
    assert answer.status_code == 404
    assert runs_of(creation) == []
    status = operators.get(status_path(creation)).json()
    assert status["status"] == "completed" and status["video_url"].endswith("/assets/video.mp4")


# -- trigger with options (POST) ------------------------------------------------------------------


def options_tag_of(**story: Any) -> str:
    from api.runs import options_tag
    from services.settings import StoryOptions

    return options_tag(StoryOptions(**story))


def test_post_starts_a_run_with_the_options_chosen_on_top_of_the_deployments(
    operators: httpx.Client, creation: str
) -> None:
    answer = operators.post(trigger_path(creation), json={"language": "ZH-tw"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending"
    assert answer.headers["cache-control"] == "no-store"
    (run,) = runs_of(creation)
    # The deployment's own options (size, encoder) stay; the caller's, normalized, go on top.
    assert run.parameters == {"creation_id": creation, "options": {**SMALL, "language": "zh-TW"}}
    assert run.idempotency_key == f"{creation}:first"
    assert options_tag_of(language="zh-TW") in run.tags
    assert f"creation:{creation}" in run.tags

    # The same options again, spelt differently or with a default made explicit: that render.
    for body in ({"language": "zh-TW"}, {"language": "zh_tw", "zoom": False}):
        again = operators.post(trigger_path(creation), json=body)
        assert (again.status_code, again.json()["status"]) == (200, "pending"), again.text
    assert [r.id for r in runs_of(creation)] == [run.id]


def test_other_options_while_a_render_is_under_way_get_409_naming_its_options(
    operators: httpx.Client, creation: str
) -> None:
    from prefect import states

    operators.post(trigger_path(creation), json={"language": "de"})
    (run,) = runs_of(creation)
    expected = (
        "A render of this creation with other options (language de, zoom off) is already under "
        "way; ask again with {} once it has ended."
    )
    for method, body, wanted in [
        ("POST", {"language": "fr"}, "language fr, zoom off"),
        ("POST", {"language": "de", "zoom": True}, "language de, zoom on"),
        ("POST", {}, "language auto, zoom off"),
        ("GET", None, "language auto, zoom off"),  # the GET asks for the defaults
    ]:
        answer = operators.request(method, trigger_path(creation), json=body)
        assert answer.status_code == 409, (body, answer.text)
        assert answer.json() == {"detail": expected.format(wanted)}
    set_state(run.id, states.Running())
    assert operators.post(trigger_path(creation), json={"language": "fr"}).status_code == 409
    assert [r.id for r in runs_of(creation)] == [run.id]

    # Once it has ended, other options start a new render.
    set_state(run.id, states.Completed())
    answer = operators.post(trigger_path(creation), json={"language": "fr"})
    assert (answer.status_code, answer.json()["status"]) == (200, "pending")
    runs = runs_of(creation)
    assert len(runs) == 2
    second = next(r for r in runs if r.id != run.id)
    assert second.parameters["options"] == {**SMALL, "language": "fr"}
    assert second.idempotency_key == f"{creation}:{run.id}"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"language": "xx"}, "language", "no narration engine speaks 'xx'"),
        ({"language": "english"}, "language", "'english' is not a language tag"),
        ({"language": 7}, "language", "valid string"),
        ({"zoom": "maybe"}, "zoom", "valid boolean"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"width": 4000}, "width", "Extra inputs are not permitted"),  # operators' option
    ],
)
def test_post_with_a_bad_option_is_422_naming_it_and_starts_nothing(
    operators: httpx.Client, creation: str, body: dict[str, Any], field: str, words: str
) -> None:
    answer = operators.post(trigger_path(creation), json=body)
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", field]
    assert words in problem["msg"]
    assert runs_of(creation) == []


def test_post_with_no_body_or_not_json(operators: httpx.Client, creation: str) -> None:
    bad = operators.post(
        trigger_path(creation), content=b"language=de", headers={"content-type": "text/plain"}
    )
    assert bad.status_code == 422
    assert runs_of(creation) == []
    # No body at all: the defaults, like the GET.
    empty = operators.post(trigger_path(creation))
    assert (empty.status_code, empty.json()["status"]) == (200, "pending"), empty.text
    (run,) = runs_of(creation)
    assert run.parameters == {"creation_id": creation, "options": SMALL}
    assert options_tag_of() in run.tags
    assert operators.get(trigger_path(creation)).status_code == 200  # the same render


def test_concurrent_posts_start_one_run_and_only_its_options_are_answered_200(
    operators: httpx.Client, creation: str
) -> None:
    answers = post_at_once(
        operators, trigger_path(creation), [{"language": lang} for lang in ["de"] * 4 + ["fr"] * 4]
    )
    (run,) = runs_of(creation)
    chosen = run.parameters["options"]["language"]
    for answer, language in zip(answers, ["de"] * 4 + ["fr"] * 4, strict=True):
        if language == chosen:
            assert (answer.status_code, answer.json()["status"]) == (200, "pending"), answer.text
        else:
            assert answer.status_code == 409, answer.text
            assert f"(language {chosen}, zoom off)" in answer.json()["detail"]


def test_identical_concurrent_posts_start_exactly_one_run(
    operators: httpx.Client, creation: str
) -> None:
    answers = post_at_once(
        operators, trigger_path(creation), [{"language": "ar", "zoom": True}] * 8
    )
    assert [answer.status_code for answer in answers] == [200] * 8, answers[0].text
    (run,) = runs_of(creation)
    assert run.parameters["options"] == {**SMALL, "language": "ar", "zoom": True}


# -- status: every Prefect state, with the record -------------------------------------------------


def test_every_prefect_state_maps_to_a_contract_status(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    from prefect import states
    from prefect.client.schemas.objects import State

    operators.get(trigger_path(creation))
    (run,) = runs_of(creation)

    def status() -> dict[str, Any]:
        answer = operators.get(status_path(creation))
        assert answer.status_code == 200, answer.text
        return answer.json()

    expected: list[tuple[State, str, str]] = [
        (states.Scheduled(), "pending", "queued"),
        (states.Late(), "pending", "waiting for a free machine"),
        (states.AwaitingRetry(), "pending", "try again shortly"),
        (states.Pending(), "pending", "queued"),
        (states.Paused(), "pending", "paused"),
        (states.Running(), "running", "reading the story"),
        (states.Cancelling(), "running", "being cancelled"),
        (states.Cancelled(), "failed", "cancelled"),
        (
            states.Crashed(message="Flow run infrastructure exited with code 137"),
            "failed",
            "stopped unexpectedly",
        ),
        (
            states.Failed(message="Flow run encountered an exception: RuntimeError: disk full"),
            "failed",
            "The render failed: disk full",
        ),
        (states.Completed(), "completed", "ready"),
    ]
    for state, status_value, words in expected:
        set_state(run.id, state)
        answer = status()
        assert (state.name, answer["status"]) == (state.name, status_value)
        assert words in answer["message"], (state.name, answer["message"])
        assert "Traceback" not in answer["message"]

    # Running with the flow's record: progress per finished part.
    set_state(run.id, states.Running())
    write_record(
        gcs_emulator,
        api_env,
        creation,
        status="running",
        flow_run_id=str(run.id),
        started_at=now(),
        parts=4,
        parts_done=3,
        progress=0.75,
    )
    answer = status()
    assert (answer["status"], answer["progress"]) == ("running", 0.75)
    assert answer["message"] == "Rendering: 3 of 4 parts done."

    # The flow recorded its failure: its words, which name the part and file, are the message.
    set_state(run.id, states.Failed(message="Flow run encountered an exception: StoryError"))
    write_record(
        gcs_emulator,
        api_env,
        creation,
        status="failed",
        flow_run_id=str(run.id),
        parts=4,
        parts_done=3,
        progress=0.75,
        error="part 2: 1.txt is empty (write the caption, or delete the file)",
    )
    answer = status()
    assert answer["status"] == "failed"
    assert answer["message"] == (
        "The render failed: part 2: 1.txt is empty (write the caption, or delete the file)"
    )
    assert answer["video_url"] is None


def test_a_record_from_an_older_run_does_not_speak_for_a_new_one(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    write_record(
        gcs_emulator,
        api_env,
        creation,
        status="failed",
        flow_run_id=str(uuid.uuid4()),
        started_at=now(),
        error="part 1: image.png does not decode",
    )
    answer = operators.get(trigger_path(creation)).json()
    assert answer["status"] == "pending"
    assert "decode" not in answer["message"]


def test_failed_rerender_answers_failed_with_the_previous_video(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    from prefect import states

    video = b"\x00\x00\x00\x18ftypmp42-the-previous-video"
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.mp4", video, "video/mp4")
    operators.get(trigger_path(creation))
    (run,) = runs_of(creation)
    set_state(run.id, states.Failed(message="boom"))
    write_record(
        gcs_emulator,
        api_env,
        creation,
        status="failed",
        flow_run_id=str(run.id),
        error="part 3: image.webp does not decode",
    )

    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "failed"
    assert answer["message"] == (
        "The render failed: part 3: image.webp does not decode "
        "The previous video is still available."
    )
    assert httpx.get(answer["video_url"]).content == video


def test_a_run_started_outside_the_api_is_followed_through_its_record(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    """E.g. `python flows/video.py CREATION_ID`: no tag, but the record names the run."""
    from prefect import get_client, states

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        untagged = client.create_flow_run_from_deployment(deployment.id, state=states.Running())
    write_record(
        gcs_emulator,
        api_env,
        creation,
        status="running",
        flow_run_id=str(untagged.id),
        started_at=now(),
        parts=2,
        parts_done=1,
        progress=0.5,
    )
    assert operators.get(status_path(creation)).json()["progress"] == 0.5
    # A trigger meanwhile returns that run rather than start a second render.
    assert operators.get(trigger_path(creation)).json()["status"] == "running"
    assert runs_of(creation) == []

    # It crashed: the record still says running, Prefect knows better.
    set_state(untagged.id, states.Crashed())
    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "failed"
    assert "stopped unexpectedly" in answer["message"]


def test_a_video_without_record_or_run_is_completed(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    """Creations rendered by the predecessor system have a video.mp4 and nothing else."""
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.mp4", b"old video", "video/mp4")
    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "completed"
    assert httpx.get(answer["video_url"]).content == b"old video"


def test_a_completed_video_comes_with_its_poster_and_an_older_one_without(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    poster = b"\xff\xd8\xff\xe0 a poster"
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.mp4", b"new video", "video/mp4")
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.jpg", poster, "image/jpeg")
    write_record(gcs_emulator, api_env, creation, status="completed", poster="video.jpg")
    answer = operators.get(status_path(creation)).json()
    assert answer["status"] == "completed"
    assert httpx.get(answer["poster_url"]).content == poster

    # A record from before posters (or a run that never made one): no link to a missing file.
    write_record(gcs_emulator, api_env, creation, status="completed")
    assert operators.get(status_path(creation)).json()["poster_url"] is None


# -- security ------------------------------------------------------------------------------------


def test_another_users_creation_is_indistinguishable_from_a_missing_one(
    story_app: str, creation: str, gcs_emulator: GcsEmulator, api_env: str
) -> None:
    OWNERS[creation] = "alice"
    gcs_emulator.write_bytes(api_env, f"{creation}/assets/video.mp4", b"alice's", "video/mp4")
    missing = str(uuid.uuid4())
    with httpx.Client(base_url=story_app, headers={"X-User": "bob"}) as bob:
        bob_answers = {
            (path.__name__, which): bob.get(path(which))
            for path in (trigger_path, status_path)
            for which in (creation, missing)
        }
        bob_posts = {
            which: bob.post(trigger_path(which), json={"language": "de"})
            for which in (creation, missing)
        }
        # A bad body is refused before anyone's creation is looked at: it tells nothing.
        assert bob.post(trigger_path(creation), json={"language": "xx"}).status_code == 422
    assert bob_posts[creation].status_code == bob_posts[missing].status_code == 404
    assert bob_posts[creation].json() == {"detail": f"Creation {creation} was not found."}

    for path in (trigger_path, status_path):
        theirs = bob_answers[(path.__name__, creation)]
        nobodys = bob_answers[(path.__name__, missing)]
        assert theirs.status_code == nobodys.status_code
        assert theirs.json() == {
            key: value.replace(missing, creation) if isinstance(value, str) else value
            for key, value in nobodys.json().items()
        }
        assert "alice" not in theirs.text and 'video_url":"' not in theirs.text
    assert bob_answers[("trigger_path", creation)].status_code == 404
    assert runs_of(creation) == []

    with httpx.Client(base_url=story_app, headers={"X-User": "alice"}) as alice:
        assert alice.get(status_path(creation)).json()["status"] == "completed"
        answer = alice.post(trigger_path(creation), json={"language": "de"})
        assert (answer.status_code, answer.json()["status"]) == (200, "pending"), answer.text
    (run,) = runs_of(creation)
    assert run.parameters["options"]["language"] == "de"
    # Nobody signed in: the host's own answer, before anything else is looked at.
    assert httpx.get(story_app + trigger_path(creation)).status_code == 401
    assert httpx.post(story_app + trigger_path(creation), json={}).status_code == 401


BAD_IDS = [
    "not-a-uuid",
    "123",
    "6d49a9c057ab403daf55c02ad3dfcd70",  # a UUID without its hyphens: not how the bucket names it
    "6d49a9c0-57ab-403d-af55-c02ad3dfcd70x",
    "6d49a9c0-57ab-403d-af55-c02ad3dfcd7g",
    "..%5Csecrets",
    "%206d49a9c0-57ab-403d-af55-c02ad3dfcd70",
    "6d49a9c0-57ab-403d-af55-c02ad3dfcd70%0A",
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_bad_ids_get_422(operators: httpx.Client, bad_id: str) -> None:
    for path in (trigger_path, status_path):
        answer = operators.get(path(bad_id))
        assert answer.status_code == 422, (bad_id, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["path", "creation_id"]


def test_operators_app_needs_its_token(operators: httpx.Client, creation: str) -> None:
    base = str(operators.base_url)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = httpx.get(base + status_path(creation), headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
    answer = httpx.get(base + trigger_path(creation))
    assert answer.status_code == 401
    assert runs_of(creation) == []
    assert operators.get(status_path(creation)).status_code == 200


@pytest.mark.parametrize("token", [None, "short"])
def test_operators_app_refuses_to_start_without_a_usable_token(
    api_env: str, token: str | None
) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env.pop("API_TOKEN", None)
    if token:
        env["API_TOKEN"] = token
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "api.app:app", "--port", str(port)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "API_TOKEN" in done.stderr
    assert "Application startup failed" in done.stderr


# -- failures of what the API depends on ----------------------------------------------------------


def test_an_unknown_deployment_is_503_with_a_sentence(
    creation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import create_app
    from services.settings import reset_settings_cache

    monkeypatch.setenv("VIDEO_DEPLOYMENT", "generate-video/nowhere")
    reset_settings_cache()
    with LiveServer(create_app()) as live:
        answer = httpx.get(
            live.url + trigger_path(creation), headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert answer.status_code == 503
    assert answer.json() == {
        "detail": "Video rendering is not set up on this server; tell an operator."
    }


def test_bucket_outage_is_503_not_500(
    operators: httpx.Client, creation: str, gcs_emulator: GcsEmulator
) -> None:
    gcs_emulator.stop()
    try:
        answer = operators.get(status_path(creation))
    finally:
        gcs_emulator.start()
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("The video store cannot be reached")


def test_prefect_outage_is_503_not_500(api_env: str, creation: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from api.app import create_app

    dead = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: dead}):
        with LiveServer(create_app()) as live:
            start = time.monotonic()
            answer = httpx.get(
                live.url + status_path(creation),
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            )
            seconds = time.monotonic() - start
    assert answer.status_code == 503
    # Refused connections: Prefect's client would retry for a minute; the answer's deadline
    # (4 s) comes first, or the refusal itself.
    assert answer.json()["detail"].startswith("The render service")
    assert seconds < 5, seconds


# -- the schema ----------------------------------------------------------------------------------


def test_openapi_schema_describes_every_answer() -> None:
    from api.app import create_app

    schema = create_app().openapi()
    operations = {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("/me/creation/{creation_id}/generate_video", "get"),
        ("/me/creation/{creation_id}/generate_video", "post"),
        ("/me/creation/{creation_id}/generate_video_status", "get"),
    }
    for (path, _method), operation in operations.items():
        assert operation["summary"] and operation["description"] and operation["operationId"]
        (parameter,) = operation["parameters"]
        assert parameter["schema"]["pattern"].startswith("^[0-9a-fA-F]{8}-")
        assert parameter["description"]
        codes = set(operation["responses"])
        assert {"200", "401", "422", "503"} <= codes
        if path.endswith("/generate_video"):
            assert {"404", "409"} <= codes
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/VideoStatus"}
        assert operation["security"] == [{"OperatorToken": []}]
    status = schema["components"]["schemas"]["VideoStatus"]
    assert status["properties"]["status"]["enum"] == [
        "not_found",
        "pending",
        "running",
        "completed",
        "failed",
    ]
    assert status["required"] == ["status", "message", "progress", "video_url"]
    assert schema["components"]["securitySchemes"]["OperatorToken"]["scheme"] == "bearer"
    body = operations[("/me/creation/{creation_id}/generate_video", "post")]["requestBody"]
    assert {"$ref": "#/components/schemas/StoryOptions"} in body["content"]["application/json"][
        "schema"
    ]["anyOf"]
    options = schema["components"]["schemas"]["StoryOptions"]
    assert set(options["properties"]) == {
        "language",
        "zoom",
        "caption_position",
        "caption_size",
        "caption_style",
        "pace",
        "speech_rate",
        "read_along",
        "music",
        "music_volume",
    }  # never music_file: a path on the server is not the end user's to choose
    assert options["additionalProperties"] is False
    assert options["properties"]["language"]["default"] == "auto"
    assert options["properties"]["read_along"]["default"] is True
    assert "BCP 47" in options["properties"]["language"]["description"]


def test_the_api_imports_no_render_code() -> None:
    code = (
        "import sys, api, api.app; "
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('tasks', 'flows', 'wand', 'gtts', 'py3langid') or m.startswith('services.media') "
        "or m in ('services.story.paging', 'services.story.language_id')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == []


def test_options_in_words_name_the_look_and_music_only_when_chosen() -> None:
    from api.service import describe_options
    from services.settings import StoryOptions

    assert describe_options(StoryOptions(language="de")) == "language de, zoom off"
    chosen = StoryOptions(caption_style="box", music=False, music_volume=-6)
    assert describe_options(chosen) == (
        "language auto, zoom off, caption_style box, music off, music_volume -6.0"
    )
