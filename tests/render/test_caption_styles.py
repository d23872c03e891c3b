"""Caption styles as a viewer sees them: where the text sits, how big it is, outline or box.

A one-part story whose picture fills the frame with one flat colour, rendered to a clip per style
through the plain stage functions; the middle frame of each clip is examined. Text is the only
near-white ink on the frame, so its rows tell where the caption sits and how tall its letters are.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.media import caption_drawing, fonts
from services.media.speech import EspeakEngine, Narrator
from services.settings import RenderOptions
from services.storage.folder import LocalStorage
from services.storage.part_store import part_key
from services.story.model import Part, plan_story
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_part
from tasks.narration import narrate_pages
from tests import media
from tests.stories import PartSpec, StorySpec, build_story

pytestmark = pytest.mark.slow

WIDTH, HEIGHT, FPS = 160, 240, 10
PICTURE = (40, 80, 220)
BASE = RenderOptions(
    width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast", language="en", tts="espeak"
)
STYLES: dict[str, dict[str, Any]] = {
    "top outline": {"caption_position": "top"},
    "middle box large": {"caption_position": "middle", "caption_style": "box", "caption_size": 2.0},
    "bottom outline": {},
    "bottom box": {"caption_style": "box"},
}


@pytest.fixture(scope="module")
def part(tmp_path_factory: pytest.TempPathFactory) -> Part:
    root = tmp_path_factory.mktemp("styles")
    story = build_story(
        root / "story",
        StorySpec(
            parts={1: PartSpec(captions=["Hello you."], colour=PICTURE, size=(WIDTH, HEIGHT))}
        ),
    )
    storage = LocalStorage(story)
    (files,) = plan_story(storage.list_names()).parts
    return fetch_and_check_part(files, storage, root / "work")


@pytest.fixture(scope="module")
def frames(part: Part, tmp_path_factory: pytest.TempPathFactory) -> dict[str, media.Frame]:
    root = tmp_path_factory.mktemp("style-frames")
    narrator = Narrator(EspeakEngine(), root / "cache")
    seen = {}
    for name, changes in STYLES.items():
        options = BASE.model_copy(update=changes)
        work = root / name.replace(" ", "-")
        pages = lay_out_part(part, options, work)
        clip = render_part_clip(pages, narrate_pages(pages, narrator, "en"), options, work)
        seen[name] = media.frame_number(clip.video, clip.frames // 2, FPS)
    return seen


def ink_rows(frame: media.Frame) -> list[int]:
    """Rows with near-white pixels: the caption's letters."""
    return [
        y
        for y in range(frame.height)
        if any(media.luma(frame.pixel(x, y)) > 200 for x in range(frame.width))
    ]


def picture_luma() -> float:
    return media.luma(PICTURE)


@pytest.mark.parametrize(
    ("name", "third"), [("top outline", 0), ("middle box large", 1), ("bottom outline", 2)]
)
def test_caption_sits_where_asked(frames, name: str, third: int) -> None:
    rows = ink_rows(frames[name])
    assert rows, f"no caption text seen ({name})"
    centre = (rows[0] + rows[-1]) / 2
    assert third * HEIGHT / 3 <= centre < (third + 1) * HEIGHT / 3, (name, rows[0], rows[-1])


def test_caption_size_scales_the_letters(frames) -> None:
    default = ink_rows(frames["top outline"])
    large = ink_rows(frames["middle box large"])
    ratio = (large[-1] - large[0] + 1) / (default[-1] - default[0] + 1)
    sizes = [
        caption_drawing.caption_layout(WIDTH, HEIGHT, 3, scale=scale).font_size
        for scale in (1.0, 2.0)
    ]
    assert sizes[1] / sizes[0] > 1.5  # (the default is the smallest legible size here)
    assert ratio == pytest.approx(sizes[1] / sizes[0], rel=0.15)


@pytest.mark.parametrize("name", ["bottom box", "middle box large"])
def test_box_look_is_a_translucent_box_around_the_text_only(frames, name: str) -> None:
    frame = frames[name]
    rows = ink_rows(frame)
    # Just above the letters, inside the box: the picture darkened, but still seen through it.
    inside = media.luma(frame.mean(WIDTH // 2, rows[0] - 3, radius=1))
    assert 0.15 * picture_luma() < inside < 0.65 * picture_luma(), inside
    # Above the box, a line's height over the letters: the picture as it is, no band or gradient.
    scale = float(STYLES[name].get("caption_size", 1.0))
    font_size = caption_drawing.caption_layout(WIDTH, HEIGHT, 3, scale=scale).font_size
    above = frame.mean(WIDTH // 2, rows[0] - round(1.3 * font_size), radius=1)
    assert media.distance(above, PICTURE) < 30, above


def test_outline_look_darkens_only_just_behind_the_lines(frames) -> None:
    """A soft scrim behind the letters, not a band across the frame: the picture is untouched
    at the band's corner, and darker just above the letters."""
    boxed, outlined = frames["bottom box"], frames["bottom outline"]
    corner = (2, HEIGHT - 3)
    for frame in (boxed, outlined):
        assert media.distance(frame.mean(*corner, radius=1), PICTURE) < 30
    rows = ink_rows(outlined)
    above = media.luma(outlined.mean(WIDTH // 2, rows[0] - 3, radius=1))
    assert above < 0.8 * picture_luma(), above


def test_caption_style_is_in_the_part_key_and_music_is_not(part: Part) -> None:
    def key(**changes: Any) -> str:
        options = BASE.model_copy(update=changes)
        return part_key(part, options, "espeak-ng:en:165wpm", 48_000, fonts.caption_font())

    plain = key()
    styled = {key(**changes) for changes in STYLES.values() if changes}
    assert plain not in styled and len(styled) == len(STYLES) - 1
    assert key(music=False) == key(music_volume=-12.0) == key(music_file="/x.mp3") == plain
