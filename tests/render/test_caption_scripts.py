"""Captions in every script a story may be written in, read back from the drawn pixels with OCR.

Pages are drawn with the plain functions the caption stage uses (no video) at 720x1080, where the
caption font is 45 px and tesseract reads every script reliably; one story with three scripts goes
through the whole flow at 480x720 and is read back from frames of the MP4 at each cue's middle.
OCR is fuzzy, so texts are compared by similarity; the old drawing (ImageMagick's freetype path,
which neither shapes nor reorders text) is held to the same check and fails it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

from services import timeline
from services.media import caption_drawing, fonts, pictures
from services.settings import RenderOptions
from services.storage.folder import LocalStorage
from services.story.model import PartFiles, StoryError
from tasks.captions import page_caption
from tasks.fetch_assets import fetch_and_check_part
from tests import media
from tests.stories import PartSpec, StorySpec, build_story, write_picture

WIDTH, HEIGHT = 720, 1080
LAYOUT = caption_drawing.caption_layout(WIDTH, HEIGHT, 3)
BAND = (LAYOUT.band_top, HEIGHT)
ALIKE = 0.8  # OCR similarity a correctly drawn caption reaches (measured: 0.9 to 1.0)

# name: (language tag, tesseract language, caption)
SCRIPTS = {
    "german": ("de", "deu", "Über den Bäumen flog die Möwe."),
    "russian": ("ru", "rus", "Жила-была маленькая кошка."),
    "greek": ("el", "ell", "Μια φορά κι έναν καιρό."),
    "arabic": ("ar", "ara", "ذهب الولد إلى المدرسة مع أخيه الصغير."),
    "hebrew": ("he", "heb", "פעם אחת חתול קטן גר במגדלור ליד הים."),
    "hindi": ("hi", "hin", "एक छोटी बिल्ली समुद्र के किनारे रहती थी।"),
    "thai": ("th", "tha", "กาลครั้งหนึ่งมีแมวตัวเล็กอาศัยอยู่ริมทะเล"),
    "chinese": ("zh", "chi_sim", "从前有一只小猫住在海边的灯塔里。"),
    "traditional": ("zh-TW", "chi_tra", "從前有一隻小貓住在海邊的燈塔裡。"),
    "japanese": ("ja", "jpn", "むかしむかし、小さな猫が住んでいました。"),
    "korean": ("ko", "kor", "옛날 옛적에 작은 고양이가 살았어요."),
}


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    write_picture(folder / "picture.png", (60, 90, 140), (320, 480))
    target = folder / "background.ppm"
    pictures.compose_background(folder / "picture.png", WIDTH, HEIGHT, target)
    return target


def draw_page(background: Path, text: str, language: str | None, target: Path) -> media.Frame:
    """The first page of `text`, drawn over the background as the caption stage draws it."""
    [page, *_] = page_caption(text, LAYOUT, language)
    caption_drawing.compose_pages(background, [page.drawn], LAYOUT, [target])
    return media.read_png(target)


def draw_the_old_way(background: Path, text: str, target: Path) -> media.Frame:
    """What captions looked like before: ImageMagick's freetype drawing with the caption font."""
    with Image(filename=str(background)) as frame, Drawing() as draw:
        draw.font = fonts.caption_font()
        draw.font_size = LAYOUT.font_size
        draw.fill_color = Color("rgb(255,255,255)")
        draw.text_alignment = "center"
        draw.text(WIDTH // 2, HEIGHT - LAYOUT.bottom_margin - LAYOUT.font_size // 3, text)
        draw(frame)
        frame.format = "png"
        frame.save(filename=str(target))
    return media.read_png(target)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_is_drawn_and_reads_back(background: Path, tmp_path: Path, name: str) -> None:
    language, ocr_language, text = SCRIPTS[name]
    frame = draw_page(background, text, language, tmp_path / "page.png")
    assert media.text_pixels(frame, *BAND) > 2000, f"{name}: the caption band is empty"
    seen = media.read_text(frame, *BAND, ocr_language)
    assert media.text_similarity(seen, text) >= ALIKE, f"{name}: drew {seen!r}, not {text!r}"


@pytest.mark.parametrize("name", ["arabic", "hebrew", "hindi", "thai", "chinese"])
def test_the_old_drawing_fails_the_same_check(background: Path, tmp_path: Path, name: str) -> None:
    """The check can fail: unshaped, unreordered or missing glyphs do not read back."""
    language, ocr_language, text = SCRIPTS[name]
    frame = draw_the_old_way(background, text, tmp_path / "old.png")
    seen = media.read_text(frame, *BAND, ocr_language)
    assert media.text_similarity(seen, text) < ALIKE - 0.2, f"{name}: old drawing read {seen!r}"


def test_mixed_right_to_left_line_keeps_latin_words_and_numbers_in_order(
    background: Path, tmp_path: Path
) -> None:
    """An Arabic line runs right to left; a Latin name and a number inside it read left to
    right, in their places: "Tom" (said second) right of "2024" (said fifth). (One line: the
    longer "... 2024 كان جميلا." now breaks before "2024", so no word is alone on its last line.)"""
    text = "قال Tom إن عام 2024 جميل."
    frame = draw_page(background, text, "ar", tmp_path / "mixed.png")
    words = media.read_words(frame, *BAND, "ara+eng")
    found = {
        media.visible(word).strip("."): left
        for word, left in words
        if media.visible(word).strip(".") in ("Tom", "2024")
    }
    assert set(found) == {"Tom", "2024"}, words
    assert found["Tom"] > found["2024"], f"left to right instead of right to left: {words}"
    assert media.text_similarity(" ".join(w for w, _ in words), text) >= 0.6, words


def test_emoji_are_drawn_in_colour_and_flagged_as_nothing_missing(
    background: Path, tmp_path: Path
) -> None:
    text = "The cat 😺 waved 👋🏽 at the ship 🚢."
    assert caption_drawing.unknown_characters(text) == []
    frame = draw_page(background, text, "en", tmp_path / "emoji.png")
    colourful = [
        colour
        for colour in frame.region(*BAND)
        if max(colour) - min(colour) > 120 and max(colour) > 180
    ]
    assert len(colourful) > 300, "emoji are not drawn in colour"
    seen = media.read_text(frame, *BAND, "eng")
    for word in ("The cat", "waved", "the ship"):
        assert word in seen, seen


def test_direction_marks_zero_width_and_combining_characters_draw_as_their_text(
    background: Path, tmp_path: Path
) -> None:
    plain = "Zoë sat by the sea."
    marked = "\u200eZoe\u0308 sat\u200b by\u2066 the\u2069 \ufeffsea\u200d.\u200f"
    assert caption_drawing.unknown_characters(marked) == []
    frame = draw_page(background, marked, "en", tmp_path / "marked.png")
    seen = media.read_text(frame, *BAND, "eng")
    assert media.text_similarity(seen, plain) >= 0.9, seen


@pytest.mark.parametrize(
    ("text", "language", "drawn_as"),
    [
        ("从前有一只小猫", "zh", "zh-CN"),
        ("從前有一隻小貓", "zh-TW", "zh-TW"),
        ("從前有一隻小貓", "zh-Hant", "zh-Hant"),
        ("从前有一只小猫", "en", "zh-CN"),  # a run in another language: the script decides
        ("むかし、小さな猫", "en", "ja"),
        ("옛날 옛적에", None, "ko"),
        ("Über den Bäumen", "de", "de"),
    ],
)
def test_ideographs_take_the_forms_of_their_language(
    text: str, language: str | None, drawn_as: str
) -> None:
    assert fonts.caption_text_font(text, language).language == drawn_as


def test_arabic_and_hebrew_captions_put_their_noto_family_first() -> None:
    assert fonts.caption_text_font("قال Tom").description.startswith("Noto Sans Arabic, ")
    assert fonts.caption_text_font("שלום").description.startswith("Noto Sans Hebrew, ")
    assert fonts.caption_text_font("Hello").description == fonts.caption_text_font().description


def test_markup_and_imagemagick_escapes_in_a_caption_are_drawn_as_written(
    background: Path, tmp_path: Path
) -> None:
    """Pango markup, ImageMagick's % and backslash escapes and its &amp; &lt; entities are text
    like any other (and never crash the drawing)."""
    text = "<b>Tom</b> & Jerry: 100% %w \\n &amp; &lt; @home"
    frame = draw_page(background, text, "en", tmp_path / "escapes.png")
    seen = media.read_text(frame, *BAND, "eng")
    assert media.text_similarity(seen, text) >= 0.85, seen


def test_characters_no_font_has_stop_the_story_naming_part_file_and_characters(
    tmp_path: Path,
) -> None:
    story = build_story(
        tmp_path / "story",
        StorySpec(parts={2: PartSpec(["Fine text \ue000 and Toto \U0001e290 here.", "Fine."])}),
    )
    files = PartFiles(number=2, image="2/image.png", captions=["2/1.txt", "2/2.txt"])
    with pytest.raises(StoryError) as raised:
        fetch_and_check_part(files, LocalStorage(story), tmp_path / "work")
    message = str(raised.value)
    assert "part 2: 2/1.txt has characters no installed font can draw" in message
    assert "U+E000 (private use)" in message
    assert "U+1E290" in message
    assert "2/2.txt" not in message


# --- through the flow ---------------------------------------------------------------------------

FLOW_WIDTH, FLOW_HEIGHT, FLOW_FPS = 480, 720, 10  # 30 px captions: OCR still reads them
FLOW_PARTS = {
    1: ("ara+eng", "قال Tom إن عمره 12 سنة."),
    2: ("chi_sim", "从前有一只小猫住在海边的灯塔里。"),
    3: ("hin", "एक छोटी बिल्ली समुद्र के किनारे रहती थी।"),
}


@pytest.mark.slow
def test_a_story_in_three_scripts_renders_readable_captions_at_their_times(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.video import generate_video

    story = build_story(
        tmp_path / "story",
        StorySpec(parts={n: PartSpec([text]) for n, (_, text) in FLOW_PARTS.items()}),
    )
    # The drawing of each script, not the read-along (tests/render/test_read_along.py): the
    # English voice reads the Chinese page as one unit, which would light it all amber for its
    # whole time, and this test reads the white ink.
    options = RenderOptions(
        width=FLOW_WIDTH,
        height=FLOW_HEIGHT,
        fps=FLOW_FPS,
        preset="ultrafast",
        language="en",
        read_along=False,
    )
    video = Path(generate_video(assets_dir=str(story), options=options)["video"])
    cues = media.parse_srt(video.with_suffix(".srt").read_text(encoding="utf-8"))
    vtt = media.parse_vtt(video.with_suffix(".vtt").read_text(encoding="utf-8"))
    expected = [text for _, text in FLOW_PARTS.values()]
    assert [cue.text for cue in cues] == expected
    assert [cue.text for cue in vtt] == expected
    # Cue times stay exact: on frame edges, one cue after the other, the last before the ending
    # (the picture alone, fading out).
    for cue in cues:
        for edge in (cue.start, cue.end):
            assert abs(edge * FLOW_FPS - round(edge * FLOW_FPS)) < 0.02, cue
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False)), cues
    ending = media.inspect(video).video_seconds - cues[-1].end
    assert abs(ending - timeline.pace_of(options.pace).ending_fade) < 1 / FLOW_FPS
    band_top = caption_drawing.caption_layout(FLOW_WIDTH, FLOW_HEIGHT, 3).band_top
    for cue, (ocr_language, text) in zip(cues, FLOW_PARTS.values(), strict=True):
        frame = media.frame_at(video, (cue.start + cue.end) / 2)
        assert media.text_pixels(frame, band_top, FLOW_HEIGHT) > 500, f"empty band for {text!r}"
        seen = media.read_text(frame, band_top, FLOW_HEIGHT, ocr_language, scale=2)
        assert media.text_similarity(seen, text) >= 0.7, f"{text!r} on screen read as {seen!r}"


@pytest.mark.slow
def test_a_caption_no_font_can_draw_fails_the_run_before_anything_renders(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.video import generate_video

    story = build_story(
        tmp_path / "story",
        StorySpec(parts={1: PartSpec(["A fine caption."]), 2: PartSpec(["Boxes \ue000\ue001."])}),
    )
    options = RenderOptions(width=160, height=240, fps=10, preset="ultrafast", language="en")
    with pytest.raises(StoryError, match=r"part 2: 2/1\.txt has .*U\+E000 .*U\+E001"):
        generate_video(assets_dir=str(story), options=options)
    assert not (story / "video.mp4").exists()
    assert not (story / "video.srt").exists()
