"""The operator's view of generate-video/local, read back through the Prefect API of a real
server with a real process worker (set up with the README's make targets):

- a run of a creation (in the GCS emulator) shows a progress bar that is below 100 % while the
  run works and at 100 % after, a link to the video and a summary with the run's figures;
- a run without parameters (the UI's Quick run) fails with one clear line, no traceback, and a
  summary that says why;
- the form (the deployment's parameter schema, as the server has it) describes every field,
  shows ranges and defaults, and asks for the creation id as a UUID;
- in a real browser (Debian's chromium, `-m browser`): the run page shows the artifacts.

The server, worker and the two runs are set up once for the module.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.test_deployment_worker import BIN, make, tail, wait_for_health
from tests.gcs_emulator import GcsEmulator, emulator_env, free_port
from tests.processes import running
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TINY = {"width": 160, "height": 240, "fps": 10, "preset": "ultrafast", "language": "de"}
CAPTIONS = [
    "Die Katze wacht auf und streckt sich lange in der Sonne.",
    "Sie klettert die alte Treppe zum Leuchtturm hinauf.",
    "Oben ist die Lampe warm, und das Meer glitzert.",
    "Am Abend schläft sie wieder ein.",
]


@dataclass
class Setup:
    api_url: str
    ui_url: str
    creation_id: str
    bucket: str
    emulator: GcsEmulator
    flow_run: Any
    quick_run: Any
    progress_seen: list[float] = field(default_factory=list)
    worker_log: Path | None = None


def api(api_url: str, coroutine_factory: Any) -> Any:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def call() -> Any:
        async with get_client() as client:
            return await coroutine_factory(client)

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        return run_coro_as_sync(call())


def artifacts_of(api_url: str, flow_run_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_filter = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    return api(api_url, lambda client: client.read_artifacts(artifact_filter=flow_filter))


def watch_progress(api_url: str, key: str, seen: list[float], stop: threading.Event) -> None:
    """Every 0.2 s: the current value of the progress artifact `key`, when it changed."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    key_filter = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
    while not stop.is_set():
        try:
            found = api(api_url, lambda client: client.read_artifacts(artifact_filter=key_filter))
        except Exception:  # noqa: BLE001 - the server is busy; try again
            found = []
        for artifact in found:
            value = float(artifact.data)
            if not seen or seen[-1] != value:
                seen.append(value)
        stop.wait(0.2)


@pytest.fixture(scope="module")
def operator(
    gcs_emulator: GcsEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("operator")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    home = str(tmp / "prefect-home")
    base = {
        **os.environ,
        "PREFECT_HOME": home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api_url,  # the UI's pages call this server, not the default port
    }
    cli_env = {**base, "DO_NOT_TRACK": "1", "PREFECT_API_URL": api_url}
    server_command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1"]
    gcs_emulator.start()
    bucket = gcs_emulator.create_bucket()
    story = build_story(
        tmp / "story",
        StorySpec(parts={n: PartSpec(captions=[text]) for n, text in enumerate(CAPTIONS, 1)}),
    )
    creation_id = gcs_emulator.upload_story(story, bucket)
    with running([*server_command, "--port", str(port)], base, tmp / "server.log") as server:
        wait_for_health(api_url, server, tmp / "server.log")
        make("local-pool", cli_env)
        make("deploy-local", cli_env)
        worker_env = {
            **emulator_env(gcs_emulator, bucket),
            "PREFECT_HOME": home,
            "PREFECT_API_URL": api_url,
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
            "PREFECT_LOGGING_TO_API_ENABLED": "true",  # the run's log, as the UI shows it
        }
        worker_log = tmp / "worker.log"
        make_worker = ["make", "-C", "deployments", "worker-local", f"PREFECT={BIN / 'prefect'}"]
        with running(make_worker, worker_env, worker_log):
            seen: list[float] = []
            stop = threading.Event()
            watcher = threading.Thread(
                target=watch_progress, args=(api_url, f"progress-{creation_id}", seen, stop)
            )
            watcher.start()
            try:
                with temporary_settings(updates={PREFECT_API_URL: api_url}):
                    flow_run = run_deployment(
                        "generate-video/local",
                        parameters={"creation_id": creation_id, "options": TINY},
                        timeout=420,
                    )
                    time.sleep(1.0)  # one more look after the end
                    quick_run = run_deployment("generate-video/local", timeout=300)
            finally:
                stop.set()
                watcher.join()
            yield Setup(
                api_url=api_url,
                ui_url=api_url.removesuffix("/api"),
                creation_id=creation_id,
                bucket=bucket,
                emulator=gcs_emulator,
                flow_run=flow_run,
                quick_run=quick_run,
                progress_seen=seen,
                worker_log=worker_log,
            )


def completed(setup: Setup) -> None:
    from prefect.client.schemas.objects import StateType

    state = setup.flow_run.state
    assert state is not None and state.type == StateType.COMPLETED, (
        f"{state!r}\n--- worker log ---\n{tail(setup.worker_log) if setup.worker_log else ''}"
    )


def test_progress_moves_during_the_run_and_ends_at_100(operator: Setup) -> None:
    completed(operator)
    seen = operator.progress_seen
    assert any(0 < value < 100 for value in seen), seen
    assert seen == sorted(seen), f"progress went back: {seen}"
    assert seen[-1] == 100.0, seen
    progress = [
        a for a in artifacts_of(operator.api_url, operator.flow_run.id) if a.type == "progress"
    ]
    assert [a.data for a in progress] == [100.0]
    assert progress[0].description == "published"


def test_run_name_and_tags_tell_runs_apart(operator: Setup) -> None:
    completed(operator)
    run = api(operator.api_url, lambda client: client.read_flow_run(operator.flow_run.id))
    assert run.name.startswith(f"video-{operator.creation_id}-de-"), run.name
    assert {"story-video", "local", f"creation:{operator.creation_id}", "language:de"} <= set(
        run.tags
    )


def test_result_artifacts_link_the_video_and_sum_the_run_up(operator: Setup) -> None:
    completed(operator)
    found = {a.key: a for a in artifacts_of(operator.api_url, operator.flow_run.id)}
    who = operator.creation_id
    assert set(found) == {f"progress-{who}", f"video-{who}", f"summary-{who}"}, found

    link = found[f"video-{who}"]  # Prefect stores a link as markdown
    url = link.data.rsplit("](", 1)[1].removesuffix(")")  # stored as markdown: [text](link)
    # Against the emulator a bucket link is the emulator's object URL (as the API answers):
    # it serves the video the run published.
    assert url.endswith(f"/{operator.bucket}/{operator.creation_id}/assets/video.mp4"), url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read(12)[4:8] == b"ftyp"

    text = found[f"summary-{who}"].data
    stored = operator.emulator.read_bytes(
        operator.bucket, f"{operator.creation_id}/assets/video.json"
    )
    assert stored is not None
    record = json.loads(stored)
    assert record["status"] == "completed"
    assert f"{record['duration_seconds']:.2f} s" in text
    assert "| Parts | 4: 4 rendered, 0 re-used |" in text
    assert "German ('de'), voice espeak-ng:de" in text
    assert f"{record['loudness_lufs']:.1f} LUFS integrated" in text
    assert f"true peak {record['true_peak_dbtp']:.1f} dBTP" in text
    assert "| Chapters | 4 |" in text
    assert "Die Katze wacht auf" in text  # the first chapter's title
    base = f"gs://{operator.bucket}/{operator.creation_id}/assets"
    assert f"{base}/video.srt, {base}/video.vtt" in text
    assert f"| Record | {base}/video.json |" in text
    assert "![poster](http" in text


def test_quick_run_fails_with_one_clear_line_and_says_why(operator: Setup) -> None:
    from prefect.client.schemas.objects import StateType

    quick = operator.quick_run
    assert quick.state is not None and quick.state.type == StateType.FAILED
    assert "nothing to render: give creation_id" in (quick.state.message or "")
    summary = [a for a in artifacts_of(operator.api_url, quick.id) if a.type == "markdown"]
    assert len(summary) == 1 and summary[0].key == "summary-no-story"
    assert "**Why:** nothing to render: give creation_id" in summary[0].data
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    only_quick = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[quick.id]))
    logs = api(operator.api_url, lambda client: client.read_logs(log_filter=only_quick))
    text = "\n".join(log.message for log in logs)
    assert "run stopped: nothing to render" in text, text
    assert "Traceback" not in text, text


def test_form_describes_every_field_with_ranges_and_a_uuid_creation_id(operator: Setup) -> None:
    deployment = api(
        operator.api_url, lambda client: client.read_deployment_by_name("generate-video/local")
    )
    schema = deployment.parameter_openapi_schema
    top = schema["properties"]
    assert set(top) == {"creation_id", "assets_dir", "out", "options"}
    for name, prop in top.items():
        assert prop.get("description"), f"{name} has no description"
        assert "anyOf" not in prop, f"{name} is still a choice of types: {prop}"
    assert top["creation_id"]["type"] == "string"
    assert top["options"]["default"]["crf"] == 23  # the form starts from every default
    assert top["creation_id"]["format"] == "uuid"

    options = schema["definitions"]["FormOptions"]
    assert "CLI" not in options["description"]
    for name, prop in options["properties"].items():
        assert prop.get("description"), f"options.{name} has no description"
        assert "default" in prop, f"options.{name} shows no default"
    fields = options["properties"]
    for name, low, high in [("width", 64, 3840), ("crf", 0, 51), ("fps", 1, 60)]:
        assert (fields[name]["minimum"], fields[name]["maximum"]) == (low, high)
        assert f"{low} to {high}" in fields[name]["description"]
    language = fields["language"]
    assert "de German" in language["description"]
    assert "espeak (local workers) cannot speak" in language["description"]
    assert "de" in language["enum"]
    # The deployment's own defaults are what the form starts with.
    assert deployment.parameters["options"]["width"] == 480


BROWSER = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


@pytest.mark.browser
@pytest.mark.skipif(
    BROWSER is None or DRIVER is None, reason="apt-get install chromium chromium-driver"
)
def test_run_page_in_a_browser_shows_progress_and_the_video_link(operator: Setup) -> None:
    """Debian's chromium, headless, through Selenium and Debian's chromedriver (nothing is
    downloaded): the run page's Artifacts tab lists the progress bar and the link."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    completed(operator)
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = str(BROWSER)
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000"):
        chrome.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=chrome)
    build = ROOT / "build"
    build.mkdir(exist_ok=True)
    keys = [f"{kind}-{operator.creation_id}" for kind in ("progress", "video", "summary")]
    body = ""
    try:
        driver.get(f"{operator.ui_url}/runs/flow-run/{operator.flow_run.id}")
        wait = WebDriverWait(driver, 90)
        tab = wait.until(lambda d: d.find_element(By.XPATH, "//*[normalize-space(.)='Artifacts']"))
        tab.click()
        wait.until(lambda d: all(key in d.find_element(By.TAG_NAME, "body").text for key in keys))
        body = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(build / "operator-run-page.png"))
        # The summary, as an operator opens it from the run page.
        driver.find_element(By.XPATH, f"//*[normalize-space(text())='{keys[2]}']").click()
        wait.until(lambda d: "The video is ready" in d.find_element(By.TAG_NAME, "body").text)
        summary = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(build / "operator-summary.png"))
    finally:
        if not body:
            driver.save_screenshot(str(build / "operator-run-page.png"))
        driver.quit()
    assert f"progress-{operator.creation_id}" in body
    assert f"video-{operator.creation_id}" in body
    assert f"summary-{operator.creation_id}" in body
    assert "4: 4 rendered, 0 re-used" in summary


def test_an_out_of_range_option_is_refused_naming_the_field(operator: Setup) -> None:
    """The server checks a run's parameters against the form: options is one object (not a
    choice between an object and None), so the refusal names the field."""
    from prefect.exceptions import PrefectHTTPStatusError

    async def start(client: Any) -> Any:
        deployment = await client.read_deployment_by_name("generate-video/local")
        return await client.create_flow_run_from_deployment(
            deployment.id, parameters={"options": {"width": 8}}
        )

    with pytest.raises(PrefectHTTPStatusError) as refused:
        api(operator.api_url, start)
    text = refused.value.response.text
    assert "options.width" in text or "'width'" in text, text
    assert "minimum of 64" in text, text
