"""Small guards of issue 20 and 16 that need no server: the record refuses what video.json
cannot hold, no bucket is assumed, work folders of dead runs go (real processes, killed), the
crash automation is a valid Prefect automation."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from flows.run_record import RunRecord
from services.record import VideoRecord
from services.settings import Settings
from services.storage.folder import LocalStorage
from services.storage.sources import OutputNames, RenderTarget, is_story_input, resolve_target
from services.work_area import LOCK_NAME, remove_abandoned, work_folder

ROOT = Path(__file__).resolve().parents[2]


# -- the record -----------------------------------------------------------------------------------


def local_run(folder: Path) -> RunRecord:
    storage = LocalStorage(folder)
    target = RenderTarget(storage, storage, OutputNames(), record_from_start=True)
    return RunRecord(target, VideoRecord(status="running"), logging.getLogger("test"))


def test_a_misspelt_record_field_is_an_error_not_dropped(tmp_path: Path) -> None:
    run = local_run(tmp_path)
    with pytest.raises(ValueError, match="no field parts_dnoe"):
        run.update(parts_dnoe=3)
    assert not (tmp_path / "video.json").exists()


@pytest.mark.parametrize(
    "change", [{"progress": "lots"}, {"progress": 1.5}, {"parts_done": "two"}, {"status": "done"}]
)
def test_a_value_of_the_wrong_type_is_an_error_never_written(
    tmp_path: Path, change: dict[str, object]
) -> None:
    run = local_run(tmp_path)
    run.update(parts=2)  # a good one is written
    with pytest.raises(ValidationError):
        run.update(**change)
    written = VideoRecord.from_json((tmp_path / "video.json").read_text())
    assert (written.parts, written.progress, written.status) == (2, 0.0, "running")


def test_a_failed_rerender_keeps_the_last_good_facts_beside_the_failure(tmp_path: Path) -> None:
    good = VideoRecord(
        status="completed", flow_run_id="run-1", duration_seconds=12.5, language="de", parts=3
    )
    (tmp_path / "video.json").write_text(good.to_json())
    run = local_run(tmp_path)
    run.start()
    run.fail(RuntimeError("part 2: 1.txt is empty"))
    written = VideoRecord.from_json((tmp_path / "video.json").read_text())
    assert written.status == "failed" and written.error == "part 2: 1.txt is empty"
    assert written.last_completed is not None
    assert (written.last_completed.flow_run_id, written.last_completed.duration_seconds) == (
        "run-1",
        12.5,
    )
    # ...and a second failure still carries the same facts.
    again = local_run(tmp_path)
    again.start()
    again.fail(RuntimeError("still broken"))
    kept = VideoRecord.from_json((tmp_path / "video.json").read_text()).last_completed
    assert kept is not None and kept.flow_run_id == "run-1" and kept.last_completed is None


# -- no production bucket by default ------------------------------------------------------------


def test_production_needs_a_bucket_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREATIONS_BUCKET", raising=False)
    with pytest.raises(ValidationError, match="ENV=p needs CREATIONS_BUCKET"):
        Settings(env="p", _env_file=None)
    assert Settings(env="p", creations_bucket="b", _env_file=None).creations_bucket == "b"


def test_a_creation_in_development_needs_a_bucket_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREATIONS_BUCKET", raising=False)
    settings = Settings(env="d", _env_file=None)
    assert settings.creations_bucket is None
    with pytest.raises(ValueError, match="set CREATIONS_BUCKET"):
        resolve_target(
            settings, creation_id="6d49a9c0-57ab-403d-af55-c02ad3dfcd70", assets_dir=None, out=None
        )


def test_story_inputs_are_the_users_files_not_our_outputs() -> None:
    assert is_story_input("1/image.png") and is_story_input("music.mp3")
    assert is_story_input("title.txt")
    outputs = ["video.mp4", "video.json", ".video.publishing.json", ".staging-video-ab/video.mp4"]
    assert not [name for name in outputs if is_story_input(name)]


# -- work folders of runs that died -------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from services.work_area import work_folder
with work_folder(Path(sys.argv[1])) as folder:
    (folder / "clip.mp4").write_bytes(b"x" * 1000)
    print(folder, flush=True)
    time.sleep(600)
"""


def start_holder(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(parent)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    folder = Path(process.stdout.readline().strip())
    process.stdout.close()
    return process, folder


def test_a_run_removes_the_work_folders_of_killed_runs_and_only_those(tmp_path: Path) -> None:
    killed, killed_folder = start_holder(tmp_path)
    alive, alive_folder = start_holder(tmp_path)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert (killed_folder / "clip.mp4").exists()  # SIGKILL: nothing cleaned up
        young_unlocked = Path(tempfile.mkdtemp(prefix="story-video-", dir=tmp_path))
        old_unlocked = Path(tempfile.mkdtemp(prefix="story-video-", dir=tmp_path))
        day_ago = time.time() - 2 * 24 * 3600
        os.utime(old_unlocked, (day_ago, day_ago))
        tests_folder = tmp_path / "story-video-tests-abc"
        tests_folder.mkdir()
        os.utime(tests_folder, (day_ago, day_ago))

        with work_folder(tmp_path) as mine:
            assert (mine / LOCK_NAME).exists()
            assert not killed_folder.exists()
            assert not old_unlocked.exists()
            assert alive_folder.exists() and young_unlocked.exists() and tests_folder.exists()
            assert mine not in remove_abandoned(tmp_path)  # our own is held
        assert not mine.exists()
    finally:
        alive.kill()
        alive.wait()
    assert remove_abandoned(tmp_path) == [alive_folder]


# -- the automation shipped with the deployments -----------------------------------------------


def test_the_crash_automation_is_valid_and_knows_gone_within_two_minutes() -> None:
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    (entry,) = yaml.safe_load((ROOT / "deployments" / "automations.yaml").read_text())[
        "automations"
    ]
    automation = AutomationCore.model_validate(entry)
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == "Proactive"
    assert trigger.within.total_seconds() + 30 <= 120  # the grace plus one heartbeat's slack
    assert [action.type for action in automation.actions] == ["change-flow-run-state"]
    env = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    local = next(d for d in env if d["name"] == "local")
    assert local["work_pool"]["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert not [d["name"] for d in env if "concurrency_limit" in d]  # pools' limits instead
