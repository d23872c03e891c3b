"""Publishing the outputs as one set, in a local folder and in a bucket (the GCS emulator).

The promise: after any fault, and once the next run has started (`finish_publishing`, the first
thing a run does), the video, its captions and the record all come from the previous render or
all from the new one; while a switch is unfinished its journal says so; no staging file stays.

Faults are injected at the storage's own operations: the storage "dies" at its n-th write (upload
or file copy, journal, switch, clean-up) and does nothing after that, as a killed process or a
storage server that went away would. Every step of a publish is tried.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.storage.base import NoSpaceError, OutputFile, SetPublishing, holds_story, journal_name
from services.storage.bucket import GcsStorage
from services.storage.folder import LocalStorage
from services.storage.sources import OUTPUTS, OutputNames
from tests.gcs_emulator import GcsEmulator

NAMES = OutputNames()
JOURNAL = journal_name(NAMES.stem)
WRITES = ("publish", "write_text", "_promote", "delete")


class Killed(BaseException):
    """The process (or the storage server) is gone: nothing after this runs."""


def die_at(storage: SetPublishing, step: int) -> None:
    """Make `storage` fail for good at its `step`-th write operation (counting from 0)."""
    state = {"count": 0, "dead": False}

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def dying(*args: Any, **kwargs: Any) -> Any:
            if state["dead"] or state["count"] == step:
                state["dead"] = True
                raise Killed
            state["count"] += 1
            return original(*args, **kwargs)

        return dying

    for operation in WRITES:
        setattr(storage, operation, wrap(getattr(storage, operation)))


def render_set(folder: Path, label: str) -> list[OutputFile]:
    """A stand-in for one render's outputs: every file says which render it belongs to."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for output in OUTPUTS:
        name = NAMES.name_of(output)
        (folder / name).write_text(f"{label} {name}\n" * (50 if output.key == "video" else 1))
        files.append(OutputFile(folder / name, name, output.content_type))
    return files


def which_render(read: Callable[[str], str | None]) -> set[str]:
    """The renders the published outputs come from ({"old"}, {"new"}, or a mix)."""
    return {(read(name) or "missing").split(" ")[0] for name in NAMES.every}


# (Publishing 4 outputs is 11 write operations: 4 staging uploads, the journal, 4 switches,
# 2 clean-ups. Step 11 is a publish without a fault.)
STEPS = range(12)


@pytest.mark.parametrize("step", STEPS)
def test_local_publish_killed_at_any_step_is_all_old_or_all_new(tmp_path: Path, step: int) -> None:
    folder = tmp_path / "out"
    LocalStorage(folder).publish_together(render_set(tmp_path / "old", "old"), NAMES.stem)
    dying = LocalStorage(folder)
    die_at(dying, step)
    try:
        dying.publish_together(render_set(tmp_path / "new", "new"), NAMES.stem)
    except Killed:
        pass

    def read(name: str) -> str | None:
        return LocalStorage(folder).read_text(name)

    seen = which_render(read)
    assert len(seen) == 1 or (folder / JOURNAL).exists(), "a mixed set must be flagged"
    journal_written = step > len(OUTPUTS)
    LocalStorage(folder).finish_publishing(NAMES.stem)  # what the next run does first
    assert which_render(read) == ({"new"} if journal_written else {"old"})
    assert sorted(os.listdir(folder)) == sorted(NAMES.every), "no staging or journal left"


@pytest.mark.integration
@pytest.mark.parametrize("step", STEPS)
def test_bucket_publish_killed_at_any_step_is_all_old_or_all_new(
    gcs_bucket: str, gcs_emulator: GcsEmulator, tmp_path: Path, step: int
) -> None:
    prefix = f"c{step}/assets"
    GcsStorage(gcs_bucket, prefix).publish_together(render_set(tmp_path / "old", "old"), NAMES.stem)
    dying = GcsStorage(gcs_bucket, prefix)
    die_at(dying, step)
    try:
        dying.publish_together(render_set(tmp_path / "new", "new"), NAMES.stem)
    except Killed:
        pass

    def read(name: str) -> str | None:
        raw = gcs_emulator.read_bytes(gcs_bucket, f"{prefix}/{name}")
        return raw.decode() if raw is not None else None

    seen = which_render(read)
    assert len(seen) == 1 or read(JOURNAL) is not None, "a mixed set must be flagged"
    journal_written = step > len(OUTPUTS)
    GcsStorage(gcs_bucket, prefix).finish_publishing(NAMES.stem)
    assert which_render(read) == ({"new"} if journal_written else {"old"})
    assert gcs_emulator.names(gcs_bucket, f"{prefix}/") == sorted(
        f"{prefix}/{name}" for name in NAMES.every
    )


def test_a_journal_naming_files_outside_the_folder_moves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    (folder / ".staging-video-x").mkdir(parents=True)
    (folder / ".staging-video-x" / "video.mp4").write_text("staged")
    (tmp_path / "secret").write_text("keep")
    moves = [[".staging-video-x/video.mp4", "../secret"], ["../secret", "video.mp4"]]
    (folder / JOURNAL).write_text(json.dumps({"moves": moves}))
    LocalStorage(folder).finish_publishing(NAMES.stem)
    assert (tmp_path / "secret").read_text() == "keep"
    assert os.listdir(folder) == []


@pytest.mark.integration
def test_staging_left_by_earlier_versions_goes_and_outputs_stay(
    gcs_bucket: str, gcs_emulator: GcsEmulator
) -> None:
    # What the previous publisher left for ever after a crash: `.staging-<token>/` in assets/.
    for name in ("video.srt", "video.vtt", "video.mp4"):
        gcs_emulator.write_bytes(gcs_bucket, f"c/assets/.staging-0a1b2c3d4e5f/{name}", b"x")
    gcs_emulator.write_bytes(gcs_bucket, "c/assets/video.mp4", b"published")
    gcs_emulator.write_bytes(gcs_bucket, "c/assets/1/1.txt", b"A caption.")
    GcsStorage(gcs_bucket, "c/assets").finish_publishing(NAMES.stem)
    assert gcs_emulator.names(gcs_bucket, "c/") == ["c/assets/1/1.txt", "c/assets/video.mp4"]


@pytest.mark.integration
def test_a_creation_with_only_outputs_has_no_story(
    gcs_bucket: str, gcs_emulator: GcsEmulator
) -> None:
    gcs_emulator.write_bytes(gcs_bucket, "done/assets/video.mp4", b"an old video")
    gcs_emulator.write_bytes(gcs_bucket, "done/assets/video.json", b"{}")
    assert not GcsStorage(gcs_bucket, "done/assets").has_story()
    gcs_emulator.write_bytes(gcs_bucket, "done/assets/1/image.png", b"a picture")
    assert GcsStorage(gcs_bucket, "done/assets").has_story()


def test_a_story_is_a_file_in_a_numbered_part_folder() -> None:
    assert holds_story(["1/image.png"])
    assert holds_story(["video.mp4", "10/notes/a.txt"])
    assert not holds_story([])
    assert not holds_story(["video.mp4", "video.json", "video.srt", ".DS_Store"])
    assert not holds_story(["notes/1.txt", ".staging-video-abc/video.mp4", "１/image.png"])


# -- a full disk ----------------------------------------------------------------------------------


def mounted_tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), so the disk really fills up."""
    yield from mounted_tmpfs(tmp_path / "small-disk", "size=1m")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    yield from mounted_tmpfs(tmp_path / "read-only", "ro,size=1m")


def fill_leaving(disk: Path, free_bytes: int) -> None:
    """Fill the disk with a file so that about `free_bytes` stay free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - free_bytes))


def test_a_full_disk_leaves_the_old_set_whole_and_says_what_to_do(
    small_disk: Path, tmp_path: Path
) -> None:
    storage = LocalStorage(small_disk)
    storage.publish_together(render_set(tmp_path / "old", "old"), NAMES.stem)
    fill_leaving(small_disk, 16 * 1024)  # room for the new captions, not for the new video
    new = render_set(tmp_path / "new", "new")
    (tmp_path / "new" / "video.mp4").write_bytes(b"new video\n" * 40_000)  # 400 kB

    with pytest.raises(NoSpaceError) as error:
        storage.publish_together(new, NAMES.stem)
    assert str(error.value) == (
        f"no space left on the disk holding {small_disk} (the outputs need about 1 MB); "
        f"free some space and run it again"
    )
    assert which_render(storage.read_text) == {"old"}
    assert sorted(os.listdir(small_disk)) == sorted([*NAMES.every, "filler"])


def test_a_full_disk_while_publishing_a_render_keeps_the_previous_render_whole(
    prefect_harness, small_disk: Path, make_story
) -> None:
    """A real render to a nearly full disk: the new captions would fit, the new video does not.
    The previous video, its captions and its record stay, all three from the same render."""
    from flows.video import generate_video
    from services import timeline
    from services.settings import RenderOptions
    from services.storage.base import StorageError
    from tests import media

    tiny = RenderOptions(width=160, height=240, fps=10, preset="ultrafast")
    out = small_disk / "made" / "here" / "story.mp4"  # its folders are made when publishing
    first = make_story({1: ["The cat woke up."]}, "first")
    generate_video(assets_dir=str(first), out=str(out), options=tiny)
    kept = {path.name: path.read_bytes() for path in out.parent.iterdir()}
    assert sorted(kept) == ["story.jpg", "story.json", "story.mp4", "story.srt", "story.vtt"]

    fill_leaving(small_disk, 12 * 1024)
    second = make_story({1: ["The cat woke up."], 2: ["She climbed the stairs."]}, "second")
    with pytest.raises(StorageError) as error:
        generate_video(assets_dir=str(second), out=str(out), options=tiny)
    message = str(error.value)
    assert message.startswith(f"no space left on the disk holding {out.parent} (the outputs need")
    assert message.endswith("; free some space and run it again")
    assert "story-video-" not in message and ".partial" not in message and "staging" not in message

    assert {path.name: path.read_bytes() for path in out.parent.iterdir()} == kept
    cues = media.parse_srt(out.with_suffix(".srt").read_text())
    assert [cue.text for cue in cues] == ["The cat woke up."]
    seconds = media.inspect(out).video_seconds
    record = json.loads(out.with_suffix(".json").read_text())
    assert abs(cues[-1].end + timeline.pace_of("relaxed").ending_fade - seconds) <= 1 / 10
    assert record["status"] == "completed" and abs(record["duration_seconds"] - seconds) <= 1 / 10


# -- the destination, checked before anything renders ------------------------------------------


def test_a_destination_under_a_file_is_refused(tmp_path: Path) -> None:
    from services.settings import Settings
    from services.storage.sources import resolve_target

    (tmp_path / "notes.txt").write_text("a file")
    out = tmp_path / "notes.txt" / "film.mp4"
    with pytest.raises(ValueError) as error:
        resolve_target(Settings(), creation_id=None, assets_dir=str(tmp_path), out=str(out))
    assert str(error.value) == (
        f"cannot write the video into {out.parent}: {out.parent} is a file, not a folder"
    )


def test_missing_folders_of_out_are_fine_and_not_made_before_publishing(tmp_path: Path) -> None:
    from services.settings import Settings
    from services.storage.sources import resolve_target

    out = tmp_path / "new" / "folder" / "film.mp4"
    target = resolve_target(Settings(), creation_id=None, assets_dir=str(tmp_path), out=str(out))
    assert target.outputs.describe(target.names.record) == str(out.with_suffix(".json"))
    assert not (tmp_path / "new").exists()


def test_a_read_only_destination_is_refused(read_only_disk: Path, tmp_path: Path) -> None:
    from services.settings import Settings
    from services.storage.sources import resolve_target

    out = read_only_disk / "film.mp4"
    with pytest.raises(ValueError) as error:
        resolve_target(Settings(), creation_id=None, assets_dir=str(tmp_path), out=str(out))
    assert str(error.value) == (
        f"cannot write the video into {read_only_disk}: {read_only_disk} is on a read-only "
        f"disk; choose a folder you can write to"
    )
