"""The title card (title.txt): shown large over the first picture and read aloud before part 1,
measured on real renders through the flow, from frames (OCR), sound and the caption files.

The same two-part story is rendered with and without a title.txt; the story after the title card
must be the untitled story, only later. A creation in the bucket (GCS emulator) with
`<id>/assets/title.txt` gets its title too.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from services import timeline
from services.settings import RenderOptions
from tests import media
from tests.stories import PartSpec, StorySpec, build_story, draw_scene

pytestmark = pytest.mark.slow

FPS = 12
WIDTH, HEIGHT = 320, 480
OPTIONS = RenderOptions(
    width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast", crf=18, language="en", tts="espeak"
)
PACE = timeline.pace_of(OPTIONS.pace)
TITLE = "The Brave Little Fox"
DARK = [(40, 50, 120), (30, 70, 50)]  # light text reads clearly over them
CAPTIONS = {1: ["A fox lived by the river.", "She liked to swim."], 2: ["Then she slept."]}
WINDOW = 0.01  # seconds of sound per envelope step
SPEECH_DB = -45.0


def _story(root: Path, title: str | None) -> Path:
    spec = StorySpec(
        parts={
            number: PartSpec(captions=texts, colour=DARK[index], size=(320, 480))
            for index, (number, texts) in enumerate(CAPTIONS.items())
        }
    )
    folder = build_story(root, spec)
    if title is not None:
        (folder / "title.txt").write_text(title + "\n", encoding="utf-8")
    return folder


def _outputs(folder: Path) -> dict:
    return {
        "video": folder / "video.mp4",
        "srt": media.parse_srt((folder / "video.srt").read_text(encoding="utf-8")),
        "record": json.loads((folder / "video.json").read_text(encoding="utf-8")),
        "poster": folder / "video.jpg",
    }


@pytest.fixture(scope="module")
def renders(prefect_harness, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    from flows.video import generate_video

    root = tmp_path_factory.mktemp("title-card")
    found = {}
    zoomed = OPTIONS.model_copy(update={"zoom": True})
    for name, title, options in (
        ("titled", TITLE, OPTIONS),
        ("plain", None, OPTIONS),
        ("zoomed", TITLE, zoomed),
    ):
        folder = _story(root / name, title)
        if options.zoom:  # a picture with detail, where a jump of the zoom would show
            with draw_scene((320, 480), (110, 260, 230, 380)) as scene:
                scene.save(filename=str(folder / "1" / "image.png"))
        generate_video(assets_dir=str(folder), options=options)
        found[name] = _outputs(folder)
    return found


def _envelope(video: Path, work: Path) -> list[float]:
    wav = media.soundtrack(video, work / "sound.wav")
    samples, rate = media.read_wav_mono(wav)
    step = round(rate * WINDOW)
    return [
        20 * math.log10(max(media.rms(samples, at, at + step), 1e-3) / 32768)
        for at in range(0, len(samples), step)
    ]


def _speaking(envelope: list[float], start: float, end: float) -> list[float]:
    first, last = max(0, math.floor(start / WINDOW)), min(len(envelope), math.ceil(end / WINDOW))
    return [index * WINDOW for index in range(first, last) if envelope[index] > SPEECH_DB]


def _read(frame: media.Frame) -> str:
    return " ".join(media.read_text(frame, 0, frame.height, "eng", scale=2).split())


def test_the_opening_shows_the_title_large_over_the_first_picture(renders):
    titled = renders["titled"]
    title_cue = titled["srt"][0]
    middle = (title_cue.start + title_cue.end) / 2
    frame = media.frame_at(titled["video"], middle)
    assert media.text_similarity(_read(frame), TITLE) >= 0.8, _read(frame)
    # Over the first part's picture, in the middle of the frame (not in the caption band).
    assert media.closest(frame.pixel(8, 8), DARK) == DARK[0]
    rows = [y for y in range(frame.height) if media.text_pixels(frame, y, y + 1) > 0]
    assert rows and HEIGHT * 0.25 < (rows[0] + rows[-1]) / 2 < HEIGHT * 0.75
    # Larger than a caption: a line of the title is taller than a line of the first caption
    # (the caption has descenders, the title none: 1.25, though its type is 1.7 times larger).
    caption = titled["srt"][1]
    shown = media.frame_at(titled["video"], (caption.start + caption.end) / 2)
    assert _tallest_line(frame) >= 1.25 * _tallest_line(shown) > 0
    assert "Brave" not in _read(shown)  # the title is gone once part 1 reads
    # The poster, what a parent picking a video sees, shows the title too.
    poster = media.read_png(titled["poster"])
    assert media.text_similarity(_read(poster), TITLE) >= 0.8, _read(poster)


def _tallest_line(frame: media.Frame) -> int:
    """Rows of the tallest run of rows with text in them: a line's ink height."""
    tallest = run = 0
    for y in range(frame.height):
        run = run + 1 if media.text_pixels(frame, y, y + 1) > 0 else 0
        tallest = max(tallest, run)
    return tallest


def test_the_title_is_read_before_part_one_and_a_page_turn_separates_them(renders, tmp_path: Path):
    titled = renders["titled"]
    title_cue, first_caption = titled["srt"][0], titled["srt"][1]
    envelope = _envelope(titled["video"], tmp_path)
    # Speech while the title is on screen, none during the opening's fade from black.
    spoken = _speaking(envelope, title_cue.start, title_cue.end)
    assert len(spoken) * WINDOW >= 0.5, "the title is not read aloud"
    assert spoken[0] >= OPTIONS.fade_seconds
    # Part 1's first word comes after its caption is on screen, a page turn after the title's
    # last sound.
    part_one = _speaking(envelope, first_caption.start, first_caption.end)
    assert part_one and part_one[0] > first_caption.start
    quiet = part_one[0] - spoken[-1]
    assert PACE.page_turn - 0.15 <= quiet <= PACE.page_turn + 0.3, quiet
    assert not _speaking(envelope, spoken[-1] + 2 * WINDOW, part_one[0] - WINDOW)


@pytest.mark.parametrize("name", ["titled", "zoomed"])
def test_the_story_begins_on_the_title_cards_picture_without_a_dip(renders, name: str):
    """From the title's fade-out to part 1's first caption the picture stays on screen (with
    zoom too): no frame darker than the picture, and the join of the two clips is no jump."""
    video = renders[name]
    width, height, frames = media.grey_frames(video["video"])
    title_cue, first_caption = video["srt"][0], video["srt"][1]
    join = round(media.chapters(video["video"])[1].start * FPS)
    picture = sum(frames[join]) / len(frames[join])
    for index in range(round(title_cue.end * FPS) - 1, round(first_caption.start * FPS) + 2):
        assert sum(frames[index]) / len(frames[index]) >= 0.95 * picture, index
    step = sum(abs(a - b) for a, b in zip(frames[join - 1], frames[join], strict=True))
    assert step / (width * height) < 2.0  # grey levels: the encoder's noise, not a cut


def test_the_captions_chapters_and_record_carry_the_title(renders):
    titled = renders["titled"]
    srt = titled["srt"]
    assert srt[0].text == TITLE and srt[0].start == 0.0
    assert srt[1].start >= srt[0].end  # part 1's first caption after the title has gone
    assert [cue.text for cue in srt[1:]] == [text for texts in CAPTIONS.values() for text in texts]
    chapters = media.chapters(titled["video"])
    assert [chapter.title for chapter in chapters] == [TITLE, CAPTIONS[1][0], CAPTIONS[2][0]]
    assert chapters[0].start == 0.0
    assert chapters[1].start <= srt[1].start
    record = titled["record"]
    assert record["title"] == TITLE
    assert record["chapters"] == 3
    assert renders["plain"]["record"]["title"] is None


def test_after_the_title_card_the_story_is_the_same_only_later(renders):
    """Without title.txt there is no title cue or chapter; with it, every caption after the
    first part's first keeps its length, all later by the same time."""
    plain, titled = renders["plain"]["srt"], renders["titled"]["srt"][1:]
    assert [cue.text for cue in plain] == [cue.text for cue in titled]
    shift = titled[1].start - plain[1].start
    assert shift > 2.0  # the title card (its opening, the title read, a page turn)
    for before, after in zip(plain[1:], titled[1:], strict=True):
        assert abs(after.start - before.start - shift) <= 1e-3
        assert abs(after.end - before.end - shift) <= 1e-3
    assert [c.title for c in media.chapters(renders["plain"]["video"])] == [
        CAPTIONS[1][0],
        CAPTIONS[2][0],
    ]


@pytest.mark.integration
def test_a_creation_in_the_bucket_gets_its_title(
    prefect_harness, gcs_bucket, gcs_emulator, tmp_path: Path
):
    from flows.video import generate_video

    folder = _story(tmp_path / "story", None)
    creation_id = gcs_emulator.upload_story(folder, gcs_bucket)
    gcs_emulator.write_bytes(
        gcs_bucket, f"{creation_id}/assets/title.txt", b"\xef\xbb\xbfThe Fox\r\n", "text/plain"
    )
    generate_video(creation_id=creation_id, options=OPTIONS)

    base = f"{creation_id}/assets"
    srt_bytes = gcs_emulator.read_bytes(gcs_bucket, f"{base}/video.srt") or b""
    srt = media.parse_srt(srt_bytes.decode())
    assert srt[0].text == "The Fox"
    assert srt[1].text == CAPTIONS[1][0] and srt[1].start >= srt[0].end
    record = json.loads(gcs_emulator.read_bytes(gcs_bucket, f"{base}/video.json") or b"{}")
    assert record["title"] == "The Fox"
    video = gcs_emulator.download(gcs_bucket, f"{base}/video.mp4", tmp_path / "video.mp4")
    frame = media.frame_at(video, (srt[0].start + srt[0].end) / 2)
    assert media.text_similarity(_read(frame), "The Fox") >= 0.8, _read(frame)
    shutil.rmtree(tmp_path / "story", ignore_errors=True)


def test_an_empty_title_fails_before_rendering_and_names_the_file(prefect_harness, tmp_path):
    from flows.video import generate_video

    folder = _story(tmp_path / "story", None)
    (folder / "title.txt").write_text(" \n\t\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        generate_video(assets_dir=str(folder), options=OPTIONS)
    assert "title.txt is empty" in str(error.value)
    assert not (folder / "video.mp4").exists()
