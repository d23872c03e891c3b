"""The core render through the generate-video flow, judged by what a viewer sees and hears.

One story with every awkward kind of input is rendered once per module and examined many ways:
streams, frame counts, narration length, caption files, which picture is on screen when, fades.
Expected narration is measured independently, by asking espeak-ng directly.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

from services import timeline
from services.media import caption_drawing, fonts
from services.settings import RenderOptions
from services.story.model import StoryError
from services.story.paging import wrap
from tasks.captions import page_caption
from tests import media
from tests.media import ParsedCue
from tests.stories import EXIF_LOWER_COLOUR, PartSpec, StorySpec, build_story, part_colour

pytestmark = pytest.mark.slow

WIDTH, HEIGHT, FPS = 240, 360, 10
OPTIONS = RenderOptions(width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast")
FRAME = 1 / FPS
CLOCK = 0.0015  # caption files round times to the millisecond

LONG_CAPTION = (
    "Once upon a time, in a quiet village by the sea, there lived a girl named Mira. "
    "She loved the waves more than anything; every morning she ran down to the shore, "
    "counted the boats, and waved at the fishermen. One day a storm came."
)
ACCENTED = "Zoë’s café — «déjà vu», said Ångström… naïve?"  # one page at 240x360

SHOWCASE = StorySpec(
    parts={
        1: PartSpec(
            ["The first caption.", "The second caption.", "The tenth caption."],
            caption_numbers=[1, 2, 10],
        ),
        2: PartSpec(["A picture you can see through."], variant="rgba"),
        3: PartSpec(["A picture with a palette."], variant="palette"),
        4: PartSpec(["A picture printed in CMYK."], image_name="image.jpg", variant="cmyk"),
        5: PartSpec(["A picture in WebP."], image_name="image.webp"),
        6: PartSpec(["A shouting file name."], image_name="image.JPG"),
        7: PartSpec(
            ["A photo taken sideways."],
            image_name="image.jpg",
            variant="exif-rotated",
            size=(240, 320),
        ),
        8: PartSpec(["A very wide picture."], size=(640, 200)),
        9: PartSpec(["A tiny picture."], size=(12, 16)),
        10: PartSpec(["A huge picture."], size=(2400, 3600)),
        11: PartSpec([LONG_CAPTION, ACCENTED]),
    }
)


@dataclass
class Rendered:
    story: Path
    video: Path
    result: dict
    info: media.MediaInfo
    cues: list[ParsedCue]
    vtt: list[ParsedCue]
    pages_by_part: dict[int, list[str]]
    narration: list[float]  # seconds espeak-ng speaks each page, in order
    fps: int = FPS
    frames: dict[int, media.Frame] = field(default_factory=dict)

    def part_cues(self, number: int) -> list[ParsedCue]:
        first = sum(len(p) for n, p in self.pages_by_part.items() if n < number)
        return self.cues[first : first + len(self.pages_by_part[number])]

    def part_span(self, number: int) -> tuple[int, int]:
        """First frame of the part and the frame after its last."""
        cues = self.part_cues(number)
        return round(cues[0].start * self.fps), round(cues[-1].end * self.fps)

    def frame(self, index: int) -> media.Frame:
        if index not in self.frames:
            self.frames[index] = media.frame_number(self.video, index, self.fps)
        return self.frames[index]

    def middle_of_part(self, number: int) -> media.Frame:
        start, end = self.part_span(number)
        return self.frame((start + end) // 2)


def expected_pages(spec: StorySpec, options: RenderOptions) -> dict[int, list[str]]:
    """Each part's caption pages as the viewer should read them, paged with the real font."""
    layout = caption_drawing.caption_layout(
        options.width, options.height, options.max_caption_lines
    )
    pages: dict[int, list[str]] = {}
    for number, part in sorted(spec.parts.items()):
        numbers = part.caption_numbers or list(range(1, len(part.captions) + 1))
        ordered = [text for _, text in sorted(zip(numbers, part.captions, strict=True))]
        pages[number] = [
            page.text for text in ordered for page in page_caption(text, layout, options.language)
        ]
    return pages


def render(story: Path, spec: StorySpec, options: RenderOptions, language: str = "en") -> Rendered:
    from flows.video import generate_video

    result = generate_video(assets_dir=str(story), options=options)
    video = Path(result["video"])
    pages = expected_pages(spec, options)
    return Rendered(
        story=story,
        video=video,
        result=result,
        info=media.inspect(video),
        cues=media.parse_srt(video.with_suffix(".srt").read_text(encoding="utf-8")),
        vtt=media.parse_vtt(video.with_suffix(".vtt").read_text(encoding="utf-8")),
        pages_by_part=pages,
        narration=[
            media.espeak_seconds(page, language, audible=True)
            for part in pages.values()
            for page in part
        ],
        fps=options.fps,
    )


@pytest.fixture(scope="module")
def showcase(prefect_harness, tmp_path_factory) -> Rendered:
    story = build_story(tmp_path_factory.mktemp("showcase") / "story", SHOWCASE)
    # Things in a story folder that are not parts: ignored, and the render still succeeds.
    (story / "notes").mkdir()
    (story / "notes" / "plan.txt").write_text("ideas for part 12", encoding="utf-8")
    (story / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (story / "video.mp4").write_bytes(b"an earlier, broken attempt")
    return render(story, SHOWCASE, OPTIONS)


# --- the file a player opens --------------------------------------------------------------------


def test_streams_are_h264_yuv420p_and_aac_at_the_asked_size_and_rate(showcase: Rendered) -> None:
    info = showcase.info
    # "data": the chapter titles, a QuickTime text track that players show as timeline marks.
    assert info.stream_kinds == ["audio", "data", "video"]
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert info.audio_codec == "aac"
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.frame_rate == FPS
    assert info.frames == round(info.video_seconds * FPS)


def test_moov_comes_before_mdat_so_playback_starts_at_once(showcase: Rendered) -> None:
    assert media.is_faststart(showcase.video), media.top_level_boxes(showcase.video)


def test_audio_is_as_long_as_the_video(showcase: Rendered) -> None:
    info = showcase.info
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.video_seconds) <= FRAME


def test_duration_is_the_narration_plus_the_reading_pauses(showcase: Rendered) -> None:
    """The speech, plus the opening, a pause between captions, a page turn between parts and the
    ending (services/timeline.py), with short captions held up to the floor, in whole frames."""
    pace = timeline.pace_of(OPTIONS.pace)
    pages, parts = len(showcase.narration), len(showcase.pages_by_part)
    spoken = sum(showcase.narration)
    gaps = (
        pace.opening
        + (pages - parts) * pace.caption_pause
        + (parts - 1) * pace.page_turn
        + pace.ending_hold
        + pace.ending_fade
    )
    held = sum(max(0.0, pace.min_caption - seconds) for seconds in showcase.narration)
    seconds = showcase.info.frames / FPS
    assert spoken + gaps - pages * FRAME <= seconds <= spoken + gaps + held + 3 * pages * FRAME
    assert showcase.result["duration_seconds"] == pytest.approx(seconds, abs=1e-6)


# --- captions -----------------------------------------------------------------------------------


def test_caption_cues_are_the_pages_in_story_order(showcase: Rendered) -> None:
    expected = [page for part in showcase.pages_by_part.values() for page in part]
    assert [cue.text for cue in showcase.cues] == expected
    assert [cue.index for cue in showcase.cues] == list(range(1, len(expected) + 1))
    assert showcase.result["pages"] == len(expected)
    assert showcase.result["parts"] == 11


def test_captions_1_2_10_are_read_in_numeric_order(showcase: Rendered) -> None:
    assert [cue.text for cue in showcase.part_cues(1)] == [
        "The first caption.",
        "The second caption.",
        "The tenth caption.",
    ]


def test_srt_and_vtt_say_the_same(showcase: Rendered) -> None:
    srt = [(c.start, c.end, c.text) for c in showcase.cues]
    vtt = [(c.start, c.end, c.text) for c in showcase.vtt]
    assert srt == vtt


def test_each_cue_lasts_its_narration_and_the_pauses_around_it(showcase: Rendered) -> None:
    pace = timeline.pace_of(OPTIONS.pace)
    cues = showcase.cues
    assert cues[0].start == 0
    for before, after in zip(cues, cues[1:], strict=False):
        assert after.start >= before.end, "cues must not overlap"
    for cue, spoken in zip(cues, showcase.narration, strict=True):
        length = cue.end - cue.start
        assert length >= max(spoken, pace.min_caption) - CLOCK, (cue.text, length, spoken)
        # At most the speech, the longest gaps before and after it, and a held short caption.
        most = max(spoken, pace.min_caption) + pace.opening + pace.page_turn + 4 * FRAME
        assert length <= most, (cue.text, length, spoken)
    # The last caption leaves before the picture fades out at the end.
    ending = showcase.info.frames / FPS - cues[-1].end
    assert ending == pytest.approx(pace.ending_fade, abs=FRAME + CLOCK)


def test_cue_times_land_on_frame_edges(showcase: Rendered) -> None:
    for cue in showcase.cues:
        assert abs(cue.start * FPS - round(cue.start * FPS)) < CLOCK * FPS
        assert abs(cue.end * FPS - round(cue.end * FPS)) < CLOCK * FPS


def test_speech_is_heard_during_every_cue(showcase: Rendered, tmp_path: Path) -> None:
    samples, rate = media.read_wav_mono(media.soundtrack(showcase.video, tmp_path / "a.wav"))
    assert len(samples) / rate == pytest.approx(showcase.info.video_seconds, abs=FRAME)
    for cue in showcase.cues:
        level = media.rms(samples, int(cue.start * rate), int(cue.end * rate))
        assert level > 300, f"silence while {cue.text!r} is on screen"


def test_long_caption_is_split_at_sentence_and_clause_ends(showcase: Rendered) -> None:
    layout = caption_drawing.caption_layout(WIDTH, HEIGHT, 3)
    lines_of = caption_drawing.caption_lines_of(layout, fonts.caption_text_font())
    long_pages = [cue.text for cue in showcase.part_cues(11)][:-1]
    assert len(long_pages) >= 3
    assert " ".join(long_pages) == LONG_CAPTION
    for page in long_pages:
        assert page.strip(), "empty page"
        assert re.search(r"[.!?;:,…]$", page), f"page breaks mid-clause: {page!r}"
        assert 1 <= len(wrap(page, lines_of)) <= 3, page


def test_accented_latin_and_typographic_punctuation_survive(showcase: Rendered) -> None:
    assert showcase.part_cues(11)[-1].text == ACCENTED


def _glyph(font: str, text: str) -> bytes:
    with Image(width=60, height=60, background=Color("black")) as canvas, Drawing() as draw:
        draw.font = font
        draw.font_size = 40
        draw.fill_color = Color("white")
        draw.text(10, 45, text)
        draw(canvas)
        return bytes(canvas.export_pixels(channel_map="R", storage="char"))


def test_caption_font_draws_real_glyphs_for_accents_and_punctuation() -> None:
    """No tofu: each character draws differently from a character the font lacks."""
    font = fonts.caption_font()
    missing = _glyph(font, "\ue000")  # private use: the font's "missing glyph" box
    for char in "ëéèêàâçîïôûüÅåßÖÄñ’‘“”«»„…—–":
        drawn = _glyph(font, char)
        assert any(drawn), f"{char!r} draws nothing"
        assert drawn != missing, f"{char!r} draws the missing-glyph box"


def test_captions_are_burned_into_the_picture(showcase: Rendered) -> None:
    layout = caption_drawing.caption_layout(WIDTH, HEIGHT, 3)
    cues = showcase.part_cues(1)
    bands = []
    for cue in cues:
        frame = showcase.frame(round((cue.start + cue.end) / 2 * FPS))
        band = frame.region(layout.band_top, HEIGHT)
        white = sum(1 for r, g, b in band if min(r, g, b) >= 225)
        assert white > 50, f"no caption text on screen for {cue.text!r}"
        bands.append(band)
    assert bands[0] != bands[1] != bands[2], "the caption text must change between pages"


# --- pictures -----------------------------------------------------------------------------------

PLAIN_PARTS = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]


def test_parts_play_in_numeric_order_with_their_own_picture(showcase: Rendered) -> None:
    colours = [part_colour(SHOWCASE, number) for number in SHOWCASE.parts]
    starts = [showcase.part_span(number)[0] for number in SHOWCASE.parts]
    assert starts == sorted(starts), "part 10 and 11 must come after part 9"
    for number in PLAIN_PARTS:
        seen = showcase.middle_of_part(number).centre()
        expected = part_colour(SHOWCASE, number)
        assert media.closest(seen, colours) == expected, f"part {number}: saw {seen}"
        assert media.distance(seen, expected) < 40, f"part {number}: saw {seen}, not {expected}"


def test_exif_rotated_photo_is_shown_upright(showcase: Rendered) -> None:
    frame = showcase.middle_of_part(7)
    upper, lower = part_colour(SHOWCASE, 7), EXIF_LOWER_COLOUR
    # The picture (240x320 upright) fills the width; sample left and right of the centre line.
    for fx in (0.3, 0.7):
        assert media.distance(frame.at(fx, 0.28), upper) < 40, frame.at(fx, 0.28)
        assert media.distance(frame.at(fx, 0.62), lower) < 40, frame.at(fx, 0.62)


def test_wide_picture_is_letterboxed_over_a_dark_blurred_fill(showcase: Rendered) -> None:
    frame = showcase.middle_of_part(8)
    picture = frame.centre()
    assert media.distance(picture, part_colour(SHOWCASE, 8)) < 40
    for fill in (frame.at(0.5, 0.05), frame.at(0.1, 0.2)):
        assert media.luma(fill) < 0.75 * media.luma(picture), (fill, picture)
        # A tint of the picture, not a flat black bar.
        red, green, blue = fill
        assert red > blue + 10 and media.luma(fill) > 8, fill


def test_transparent_border_of_an_rgba_picture_is_not_shown_as_garbage(
    showcase: Rendered,
) -> None:
    frame = showcase.middle_of_part(2)
    assert media.distance(frame.centre(), part_colour(SHOWCASE, 2)) < 40
    # The transparent border (outer sixth of the 320x240 picture) shows a dark fill.
    corner = frame.at(0.03, 0.3)
    assert media.luma(corner) < media.luma(frame.centre())


# --- fades --------------------------------------------------------------------------------------


def test_the_video_fades_in_from_black(showcase: Rendered) -> None:
    first = media.frame_at(showcase.video, 0)
    assert first.brightness() < 12, first.brightness()
    assert showcase.middle_of_part(1).brightness() > 40


def test_part_boundaries_dip_to_black(showcase: Rendered) -> None:
    for number in (2, 10):
        start, _ = showcase.part_span(number)
        boundary = showcase.frame(start)
        last_of_previous = showcase.frame(start - 1)
        middle = showcase.middle_of_part(number)
        middle_of_previous = showcase.middle_of_part(number - 1)
        assert boundary.brightness() < 0.3 * middle.brightness(), number
        assert last_of_previous.brightness() < 0.5 * middle_of_previous.brightness(), number


def test_a_caption_change_keeps_the_picture(showcase: Rendered) -> None:
    """Between pages of one part the picture stays: no dip to black, same colour at the centre."""
    colour = part_colour(SHOWCASE, 1)
    middle = showcase.middle_of_part(1)
    for cue in showcase.part_cues(1)[1:]:
        frame_index = round(cue.start * FPS)
        for index in (frame_index - 1, frame_index, frame_index + 1):
            frame = showcase.frame(index)
            assert media.distance(frame.centre(), colour) < 40, (cue.text, index)
            assert frame.brightness() > 0.85 * middle.brightness(), (cue.text, index)


# --- outputs beside the story -------------------------------------------------------------------


def test_outputs_and_record_are_written_beside_the_story(showcase: Rendered) -> None:
    story = showcase.story
    assert showcase.video == story / "video.mp4"
    assert (story / "video.mp4").read_bytes()[4:8] == b"ftyp"  # the loose file was replaced
    record = json.loads((story / "video.json").read_text(encoding="utf-8"))
    assert record["status"] == "completed"
    assert record["parts"] == 11 and record["parts_done"] == 11
    assert record["video"] == "video.mp4"
    assert record["error"] is None
    assert record["duration_seconds"] == pytest.approx(showcase.info.frames / FPS, abs=1e-6)
    # Ignored entries are left alone.
    assert (story / "notes" / "plan.txt").read_text(encoding="utf-8") == "ideas for part 12"
    leftovers = [p.name for p in story.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


# --- zoom ---------------------------------------------------------------------------------------

ZOOM_FPS = 12
ZOOM_STORY = StorySpec(
    parts={
        1: PartSpec(
            ["The picture grows slowly.", "And keeps growing while we read."],
            colour=(40, 80, 220),
            size=(320, 200),
        ),
        2: PartSpec(["Then the next one."], colour=(230, 200, 30), size=(320, 200)),
    }
)


@pytest.fixture(scope="module")
def zoomed(prefect_harness, tmp_path_factory) -> Rendered:
    story = build_story(tmp_path_factory.mktemp("zoom") / "story", ZOOM_STORY)
    options = RenderOptions(width=WIDTH, height=HEIGHT, fps=ZOOM_FPS, preset="ultrafast", zoom=True)
    return render(story, ZOOM_STORY, options)


def test_zoom_makes_the_picture_bigger_as_the_part_goes_on(zoomed: Rendered) -> None:
    colour = ZOOM_STORY.parts[1].colour
    assert colour is not None
    start, end = zoomed.part_span(1)
    fade = round(0.4 * ZOOM_FPS)
    early = zoomed.frame(start + fade + 1)
    late = zoomed.frame(end - fade - 2)
    assert media.picture_top(late, colour) <= media.picture_top(early, colour) - 4
    # Still the same picture, still centred.
    assert media.distance(late.centre(), colour) < 40


def test_zoom_keeps_every_frame_count_exact(zoomed: Rendered) -> None:
    info = zoomed.info
    assert info.frame_rate == ZOOM_FPS
    ending = round(timeline.pace_of(OPTIONS.pace).ending_fade * ZOOM_FPS)
    assert info.frames == round(zoomed.cues[-1].end * ZOOM_FPS) + ending
    assert info.audio_seconds is not None
    assert abs(info.audio_seconds - info.frames / ZOOM_FPS) <= 1 / ZOOM_FPS
    for cue, spoken in zip(zoomed.cues, zoomed.narration, strict=True):
        assert spoken - CLOCK <= cue.end - cue.start
    assert [cue.text for cue in zoomed.cues] == [
        "The picture grows slowly.",
        "And keeps growing while we read.",
        "Then the next one.",
    ]


# --- the narration cache, across parts and runs -------------------------------------------------


def test_same_caption_in_two_parts_is_synthesized_once_and_not_again(
    prefect_harness, make_story, monkeypatch, tmp_path
) -> None:
    from flows.video import generate_video
    from services.media.speech import EspeakEngine

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
    spoken: list[str] = []
    # Either way espeak-ng speaks: its command line, or (read-along on) its library with words.
    for name in ("synthesize", "synthesize_words"):
        real = getattr(EspeakEngine, name)

        def counting(self, text, language, target_dir, real=real):
            spoken.append(text)
            return real(self, text, language, target_dir)

        monkeypatch.setattr(EspeakEngine, name, counting)
    story = make_story({1: ["Said twice."], 2: ["Said twice.", "Said once."]})
    options = RenderOptions(width=160, height=240, fps=10, preset="ultrafast")
    generate_video(assets_dir=str(story), options=options)
    assert sorted(spoken) == ["Said once.", "Said twice."]

    spoken.clear()
    generate_video(assets_dir=str(story), options=options)
    assert spoken == []


# --- bad stories fail before rendering, and leave earlier outputs alone --------------------------


def _bad(make_story, breaker) -> Path:
    story = make_story({1: ["One."], 2: ["Two."], 3: ["Three."]})
    breaker(story)
    return story


def _two_images(story: Path) -> None:
    (story / "2" / "image.jpg").write_bytes((story / "2" / "image.png").read_bytes())


def _no_image(story: Path) -> None:
    (story / "2" / "image.png").unlink()


def _no_parts(story: Path) -> None:
    for number in (1, 2, 3):
        for child in (story / str(number)).iterdir():
            child.unlink()
        (story / str(number)).rmdir()
    (story / "notes").mkdir()
    (story / "notes" / "a.txt").write_text("x", encoding="utf-8")


def _empty_caption(story: Path) -> None:
    (story / "2" / "1.txt").write_text("", encoding="utf-8")


def _blank_caption(story: Path) -> None:
    (story / "2" / "1.txt").write_text(" \n\t\r\n ", encoding="utf-8")


def _undecodable_image(story: Path) -> None:
    (story / "2" / "image.png").write_bytes(random.Random(2).randbytes(3000))


def _latin1_caption(story: Path) -> None:
    (story / "2" / "1.txt").write_bytes("Déjà vu".encode("latin-1"))


def _several_listing_problems(story: Path) -> None:
    _no_image(story)
    (story / "3" / "image.webp").write_bytes((story / "3" / "image.png").read_bytes())


def _several_file_problems(story: Path) -> None:
    (story / "1" / "image.png").write_bytes(b"GIF89a nonsense")
    _latin1_caption(story)
    (story / "3" / "1.txt").write_text("   ", encoding="utf-8")


def _problems_of_both_kinds(story: Path) -> None:
    _no_image(story)
    (story / "3" / "1.txt").write_text("   ", encoding="utf-8")


def _odd_files(story: Path) -> None:
    """Files that are not files: each is a problem of its part, reported with the others."""
    (story / "1" / "image.png").unlink()
    (story / "1" / "image.png").symlink_to("/dev/zero")
    (story / "2" / "1.txt").unlink()
    os.mkfifo(story / "2" / "1.txt")
    (story / "3" / "1.txt").write_text("\u200b\u200d", encoding="utf-8")


BAD_STORIES = {
    "no parts": (_no_parts, [r"no story parts found"]),
    "part without image": (_no_image, [r"part 2: no image in 2/"]),
    "part with two images": (
        _two_images,
        [r"part 2: more than one image: 2/image\.jpg, 2/image\.png"],
    ),
    "empty caption": (_empty_caption, [r"part 2: 2/1\.txt is empty"]),
    "whitespace caption": (_blank_caption, [r"part 2: 2/1\.txt is empty"]),
    "image does not decode": (_undecodable_image, [r"part 2: 2/image\.png does not decode"]),
    "caption not utf-8": (_latin1_caption, [r"part 2: 2/1\.txt is not UTF-8"]),
    "several listing problems": (
        _several_listing_problems,
        [r"story has 2 problems", r"part 2: no image", r"part 3: more than one image"],
    ),
    "several file problems": (
        _several_file_problems,
        [
            r"story has 3 problems",
            r"part 1: 1/image\.png does not decode",
            r"part 2: 2/1\.txt is not UTF-8",
            r"part 3: 3/1\.txt is empty",
        ],
    ),
    "odd files": (
        _odd_files,
        [
            r"story has 3 problems",
            r"part 1: 1/image\.png is a link to /dev/zero, which is a device, not a file",
            r"part 2: 2/1\.txt is a pipe \(FIFO\), not a file",
            r"part 3: 3/1\.txt has no visible text",
        ],
    ),
    "problems of both kinds": (
        _problems_of_both_kinds,
        [r"story has 2 problems", r"part 2: no image", r"part 3: 3/1\.txt is empty"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_STORIES))
def test_bad_story_fails_before_rendering_and_leaves_the_old_video(
    prefect_harness, make_story, case: str
) -> None:
    from flows.video import generate_video

    breaker, messages = BAD_STORIES[case]
    story = _bad(make_story, breaker)
    earlier = random.Random(case).randbytes(5000)
    (story / "video.mp4").write_bytes(earlier)
    before = sorted(p.relative_to(story).as_posix() for p in story.rglob("*"))

    with pytest.raises(StoryError) as raised:
        generate_video(assets_dir=str(story), options=OPTIONS)
    message = str(raised.value)
    for pattern in messages:
        assert re.search(pattern, message), f"{pattern!r} not in {message!r}"

    assert (story / "video.mp4").read_bytes() == earlier
    after = sorted(p.relative_to(story).as_posix() for p in story.rglob("*"))
    assert after == before, "a failed run must not write any output"
