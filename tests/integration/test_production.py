"""Production mode against a real GCS emulator server: a creation in the bucket in, the video,
its captions and its record written back beside it; bad ids, missing things, broken stories;
re-use of finished parts on an unchanged or edited creation.

(The outage and crash scenarios, which run the command line as a separate process, are in
test_production_resilience.py.)
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from services import timeline
from services.settings import RenderOptions
from services.storage.base import StorageError
from tests import media
from tests.gcs_emulator import GcsEmulator, free_port
from tests.stories import PALETTE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = RenderOptions(width=240, height=360, fps=12, preset="ultrafast")
FPS = 12


def outputs(emulator: GcsEmulator, bucket: str, creation_id: str, into: Path) -> dict:
    """Download what a creation's reader gets: video, captions and the parsed record."""
    into.mkdir(parents=True, exist_ok=True)
    base = f"{creation_id}/assets"
    return {
        "video": emulator.download(bucket, f"{base}/video.mp4", into / "video.mp4"),
        "srt": (emulator.read_bytes(bucket, f"{base}/video.srt") or b"").decode(),
        "vtt": (emulator.read_bytes(bucket, f"{base}/video.vtt") or b"").decode(),
        "record": read_record(emulator, bucket, creation_id),
    }


def read_record(emulator: GcsEmulator, bucket: str, creation_id: str) -> dict | None:
    raw = emulator.read_bytes(bucket, f"{creation_id}/assets/video.json")
    return json.loads(raw) if raw is not None else None


def cache_keys(emulator: GcsEmulator, bucket: str, creation_id: str) -> set[str]:
    """Keys of the creation's finished stored parts (those with their part.json written)."""
    prefix = f"{creation_id}/render-cache/"
    return {
        name[len(prefix) :].split("/")[0]
        for name in emulator.names(bucket, prefix)
        if name.endswith("/part.json")
    }


def assert_shows_story(found: dict, parts: list[tuple[tuple[int, int, int], list[str]]]) -> None:
    """What a viewer gets: the streams, the captions in order with matching SRT/VTT times,
    each part's picture on screen while its captions are, and a record that agrees."""
    info = media.inspect(found["video"])
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height) == (240, 360)
    # (The joined stream's average rate can be off by a few timestamp ticks at 12 fps.)
    assert info.frame_rate == FPS
    assert info.frames == round(info.video_seconds * FPS)
    assert media.is_faststart(found["video"])
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= 2 / FPS

    srt = media.parse_srt(found["srt"])
    vtt = media.parse_vtt(found["vtt"])
    assert [(c.start, c.end, c.text) for c in srt] == [(c.start, c.end, c.text) for c in vtt]
    assert [" ".join(c.text.split()) for c in srt] == [text for _, texts in parts for text in texts]
    assert srt[0].start == 0.0
    # The last caption ends, then the picture fades out alone (the pace's ending).
    assert (
        abs(srt[-1].end + timeline.pace_of("relaxed").ending_fade - info.video_seconds) <= 1 / FPS
    )

    cue = iter(srt)
    for colour, texts in parts:
        for _ in texts:
            shown = next(cue)
            middle = (shown.start + shown.end) / 2
            seen = media.frame_at(found["video"], middle).centre()
            assert media.closest(seen, PALETTE) == colour, (shown.text, seen, colour)

    record = found["record"]
    assert record["status"] == "completed"
    assert record["error"] is None
    assert record["parts"] == len(parts) == record["parts_done"]
    assert record["progress"] == 1.0
    assert record["flow_run_id"]
    assert record["video"] == "video.mp4"
    assert abs(record["duration_seconds"] - info.video_seconds) <= 1 / FPS
    started = datetime.fromisoformat(record["started_at"])
    finished = datetime.fromisoformat(record["finished_at"])
    assert started <= finished


STORY = {
    1: ["The cat woke up."],
    2: ["She climbed the stairs.", "The lamp was warm."],
    3: ["Ships came home."],
}


def expected(story: dict[int, list[str]]) -> list[tuple[tuple[int, int, int], list[str]]]:
    return [(PALETTE[index], texts) for index, texts in enumerate(story.values())]


def test_round_trip_then_an_unchanged_rerun_reuses_every_part(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path, capsys
) -> None:
    from flows.video import generate_video

    creation_id = gcs_emulator.upload_story(make_story(STORY), gcs_bucket)
    before = set(gcs_emulator.names(gcs_bucket))

    started = time.monotonic()
    first = generate_video(creation_id=creation_id, options=TINY)
    first_seconds = time.monotonic() - started

    base = f"gs://{gcs_bucket}/{creation_id}/assets"
    assert first["video"] == f"{base}/video.mp4"
    assert (first["parts_rendered"], first["parts_reused"]) == (3, 0)
    found = outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "first")
    assert_shows_story(found, expected(STORY))
    assert found["record"]["creation_id"] == creation_id
    assert found["record"]["parts_reused"] == 0

    # Outputs went beside the assets, the finished parts beside the creation (not in assets/),
    # and nothing else: no staging copies, no intermediate files.
    written = set(gcs_emulator.names(gcs_bucket)) - before
    outputs_written = {name for name in written if "/render-cache/" not in name}
    assert outputs_written == {
        f"{creation_id}/assets/video.{kind}" for kind in ("mp4", "srt", "vtt", "jpg", "json")
    }
    keys = cache_keys(gcs_emulator, gcs_bucket, creation_id)
    assert len(keys) == 3
    # Each part's clip, narration and timing; and the assembled outputs, for an unchanged re-run.
    assert {name.rsplit("/", 1)[1] for name in written - outputs_written} == {
        "clip.mp4",
        "narration.wav",
        "part.json",
        "video.mp4",
        "srt.srt",
        "vtt.vtt",
        "poster.jpg",
        "story.json",
    }

    started = time.monotonic()
    again = generate_video(creation_id=creation_id, options=TINY)
    again_seconds = time.monotonic() - started

    assert (again["parts_rendered"], again["parts_reused"]) == (0, 3)
    found_again = outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "again")
    assert_shows_story(found_again, expected(STORY))
    assert found_again["record"]["parts_reused"] == 3
    assert found_again["srt"] == found["srt"]
    assert media.inspect(found_again["video"]).frames == media.inspect(found["video"]).frames
    assert cache_keys(gcs_emulator, gcs_bucket, creation_id) == keys
    with capsys.disabled():
        print(
            f"\n[timing] first render {first_seconds:.1f} s, unchanged re-run "
            f"{again_seconds:.1f} s ({again_seconds / first_seconds:.0%})"
        )


def test_one_edited_caption_re_renders_that_part_only(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, tmp_path, capsys
) -> None:
    from flows.video import generate_video

    creation_id = gcs_emulator.upload_story(make_story(STORY), gcs_bucket)
    started = time.monotonic()
    generate_video(creation_id=creation_id, options=TINY)
    first_seconds = time.monotonic() - started
    keys_before = cache_keys(gcs_emulator, gcs_bucket, creation_id)

    edited = {**STORY, 2: ["She ran up the winding stairs.", "The lamp was warm."]}
    gcs_emulator.write_bytes(
        gcs_bucket, f"{creation_id}/assets/2/1.txt", edited[2][0].encode(), "text/plain"
    )
    started = time.monotonic()
    result = generate_video(creation_id=creation_id, options=TINY)
    edit_seconds = time.monotonic() - started

    assert (result["parts_rendered"], result["parts_reused"]) == (1, 2)
    keys_after = cache_keys(gcs_emulator, gcs_bucket, creation_id)
    (new_key,) = keys_after - keys_before
    stored = json.loads(
        gcs_emulator.read_bytes(gcs_bucket, f"{creation_id}/render-cache/{new_key}/part.json")
    )
    assert stored["clip"]["part_number"] == 2  # the clip stage's own result, less its files
    assert stored["clip"]["page_texts"] == edited[2]
    # The entry of the old caption is gone: the store holds this story's parts only.
    assert len(keys_before - keys_after) == 1 and len(keys_after) == 3

    found = outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "edited")
    assert_shows_story(found, expected(edited))
    with capsys.disabled():
        print(
            f"\n[timing] first render {first_seconds:.1f} s, one caption edited "
            f"{edit_seconds:.1f} s ({edit_seconds / first_seconds:.0%})"
        )


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "../other-creation",
        "6d49a9c0-57ab-403d-af55-c02ad3dfcd70/../x",
        "",
        "6d49a9c0-57ab-403d-af55-c02ad3dfcd70\n",
        " 6d49a9c0-57ab-403d-af55-c02ad3dfcd70",
    ],
)
def test_an_id_that_is_not_a_uuid_is_rejected_before_storage_is_touched(
    prefect_harness, monkeypatch, bad_id
) -> None:
    from flows.video import generate_video

    # Storage points at a port where nothing listens: any storage call would fail differently.
    monkeypatch.setenv("ENV", "p")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CREATIONS_BUCKET", "some-bucket")
    with pytest.raises(ValueError, match="is not a UUID"):
        generate_video(creation_id=bad_id, options=TINY)


@pytest.mark.parametrize("uploaded", [[], ["video.mp4", "video.json"]])
def test_a_creation_without_a_story_is_not_found_and_nothing_is_written(
    prefect_harness, gcs_bucket, gcs_emulator, uploaded
) -> None:
    """No objects at all, or only the outputs of an earlier render (no part folders): the flow
    and the API agree there is no story, and the run writes nothing."""
    from flows.video import generate_video

    creation_id = str(uuid.uuid4())
    for name in uploaded:
        gcs_emulator.write_bytes(gcs_bucket, f"{creation_id}/assets/{name}", b"earlier")
    before = {
        name: gcs_emulator.read_bytes(gcs_bucket, name) for name in gcs_emulator.names(gcs_bucket)
    }
    with pytest.raises(StorageError) as error:
        generate_video(creation_id=creation_id, options=TINY)
    assert str(error.value).startswith(f"creation {creation_id} not found: ")
    assert f"gs://{gcs_bucket}/{creation_id}/assets/" in str(error.value)
    assert not error.value.transient
    after = {
        name: gcs_emulator.read_bytes(gcs_bucket, name) for name in gcs_emulator.names(gcs_bucket)
    }
    assert after == before


def test_a_missing_bucket_fails_at_once_naming_the_bucket(
    prefect_harness, gcs_bucket, gcs_emulator, monkeypatch
) -> None:
    from flows.video import generate_video
    from services.settings import reset_settings_cache

    monkeypatch.setenv("CREATIONS_BUCKET", "no-such-creations-bucket")
    reset_settings_cache()
    with pytest.raises(StorageError) as error:
        generate_video(creation_id=str(uuid.uuid4()), options=TINY)
    assert "bucket no-such-creations-bucket does not exist" in str(error.value)
    assert not error.value.transient  # so nothing retries it


def test_a_broken_creation_fails_naming_the_parts_and_leaves_no_video(
    prefect_harness, gcs_bucket, gcs_emulator, make_story
) -> None:
    from flows.video import generate_video

    folder = make_story({1: ["Fine."], 2: ["Also fine."], 3: ["Third."]})
    (folder / "2" / "image.png").write_bytes(b"this is not a picture")
    (folder / "3" / "1.txt").write_text("   \n", encoding="utf-8")
    creation_id = gcs_emulator.upload_story(folder, gcs_bucket)

    with pytest.raises(ValueError) as error:
        generate_video(creation_id=creation_id, options=TINY)
    message = str(error.value)
    assert "part 2: 2/image.png" in message
    assert "part 3: 3/1.txt is empty" in message

    record = read_record(gcs_emulator, gcs_bucket, creation_id)
    assert record is not None
    assert record["status"] == "failed"
    assert "part 2: 2/image.png" in record["error"] and "part 3: 3/1.txt" in record["error"]
    assert record["finished_at"] is not None
    names = gcs_emulator.names(gcs_bucket, f"{creation_id}/")
    assert not [name for name in names if "/video." in name and not name.endswith(".json")]
    assert not [name for name in names if "/render-cache/" in name]


def test_storage_failing_between_the_copies_of_a_publish_is_finished_by_the_next_run(
    prefect_harness, gcs_bucket, gcs_emulator, make_story, monkeypatch, tmp_path
) -> None:
    """The bucket stops taking writes after the new captions were copied into place, before the
    video: the journal flags the unfinished switch, and the next run, before anything else
    (here: a run that then fails on a bad part), completes it and removes every staging object,
    also those an earlier version left behind."""
    from flows.video import generate_video
    from services.storage.bucket import GcsStorage

    old = {1: ["The cat woke up."]}
    new = {1: ["The cat woke up."], 2: ["She climbed the stairs.", "The lamp was warm."]}
    creation_id = gcs_emulator.upload_story(make_story(old, "old"), gcs_bucket)
    generate_video(creation_id=creation_id, options=TINY)
    gcs_emulator.upload_story(make_story(new, "new"), gcs_bucket, creation_id)

    copy = GcsStorage._promote
    copies: list[str] = []

    def failing_copy(self: GcsStorage, staged: str, name: str) -> None:
        if copies:
            raise StorageError("the bucket went away", transient=False)
        copies.append(name)
        copy(self, staged, name)

    monkeypatch.setattr(GcsStorage, "_promote", failing_copy)
    with pytest.raises(StorageError, match="the bucket went away"):
        generate_video(creation_id=creation_id, options=TINY)
    monkeypatch.setattr(GcsStorage, "_promote", copy)
    base = f"{creation_id}/assets"
    assert copies == ["video.srt"]
    assert gcs_emulator.read_bytes(gcs_bucket, f"{base}/.video.publishing.json") is not None
    gcs_emulator.write_bytes(gcs_bucket, f"{base}/.staging-0a1b2c3d4e5f/video.srt", b"old junk")

    gcs_emulator.write_bytes(gcs_bucket, f"{base}/3/image.png", b"not a picture")
    with pytest.raises(ValueError, match="part 3"):
        generate_video(creation_id=creation_id, options=TINY)

    found = outputs(gcs_emulator, gcs_bucket, creation_id, tmp_path / "found")
    srt = media.parse_srt(found["srt"])
    assert [cue.text for cue in srt] == [text for texts in new.values() for text in texts]
    assert [(c.start, c.end, c.text) for c in media.parse_vtt(found["vtt"])] == [
        (c.start, c.end, c.text) for c in srt
    ]
    video_seconds = media.inspect(found["video"]).video_seconds
    assert abs(srt[-1].end + timeline.pace_of("relaxed").ending_fade - video_seconds) <= 1 / FPS
    for cue, colour in zip(srt, [PALETTE[0], PALETTE[1], PALETTE[1]], strict=True):
        seen = media.frame_at(found["video"], (cue.start + cue.end) / 2).centre()
        assert media.closest(seen, PALETTE) == colour
    assert found["record"]["status"] == "failed"  # the latest run's own record
    published = [name for name in gcs_emulator.names(gcs_bucket, f"{base}/") if "/video." in name]
    assert published == [f"{base}/video.{kind}" for kind in ("jpg", "json", "mp4", "srt", "vtt")]
    assert not [name for name in gcs_emulator.names(gcs_bucket, f"{base}/") if "/." in name]
