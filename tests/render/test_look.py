"""The look as a viewer sees it, on real renders: captions that leave the picture's subject
visible, safe margins, true colours in the video and the poster, a fill that belongs to the
picture, and a word in the record about a small picture.

The pictures are drawn here (a small animal on a sky-and-meadow ground, flat colour patches) and
were not used to tune anything. Caption pixels are found by comparing a frame with the frame's
background made alone (services/media/pictures.py): where they differ, the caption was drawn.
"""

from __future__ import annotations

import colorsys
import json
import logging
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

from services.media import ffmpeg, pictures
from services.media.speech import EspeakEngine, Narrator
from services.settings import RenderOptions
from services.storage.folder import LocalStorage
from services.story.model import Part, plan_story
from tasks.captions import lay_out_part
from tasks.clips import render_part_clip
from tasks.fetch_assets import fetch_and_check_part
from tasks.narration import narrate_pages
from tests import media
from tests.stories import draw_scene as scene

pytestmark = pytest.mark.slow

FPS = 12
CAPTION = "Once upon a time, a little fox lived at the edge of the forest, where the river bends."
INK = 235  # every channel at least this: caption text (the pictures here are darker)
CAPTION_PIXEL = 16  # a luma difference larger than the encoder's: the caption changed the pixel
BODY = (150, 90, 50)  # the animal's body colour (tests/unit/test_look.py `scene`)

# name: picture size, the animal's box in the picture, frame size
SCENES = {
    "portrait-bottom": ((600, 900), (190, 640, 430, 880), (480, 720)),
    "portrait-top": ((600, 900), (300, 30, 560, 250), (480, 720)),
    "landscape-bottom": ((1280, 720), (420, 470, 760, 710), (1280, 720)),
}


def _part(folder: Path, picture: Path, text: str = CAPTION) -> Part:
    story = folder / "story"
    (story / "1").mkdir(parents=True)
    (story / "1" / f"image{picture.suffix}").write_bytes(picture.read_bytes())
    (story / "1" / "1.txt").write_text(text, encoding="utf-8")
    storage = LocalStorage(story)
    (files,) = plan_story(storage.list_names()).parts
    return fetch_and_check_part(files, storage, folder / "work")


def _render(folder: Path, picture: Path, frame: tuple[int, int], **changes) -> tuple[Path, int]:
    """A one-part clip of `picture` through the plain stage functions: its path and frames."""
    options = RenderOptions(
        width=frame[0],
        height=frame[1],
        fps=FPS,
        preset="ultrafast",
        crf=12,
        language="en",
        tts="espeak",
        **changes,
    )
    part = _part(folder, picture)
    pages = lay_out_part(part, options, folder / "work")
    narration = narrate_pages(pages, Narrator(EspeakEngine(), folder / "cache"), "en")
    clip = render_part_clip(pages, narration, options, folder / "work")
    return clip.video, clip.frames


def _array(frame: media.Frame) -> np.ndarray:
    return np.frombuffer(frame.pixels, dtype=np.uint8).reshape(frame.height, frame.width, 3)


def _background(picture: Path, frame: tuple[int, int]) -> np.ndarray:
    with pictures.frame_background(picture, *frame) as image:
        image.depth = 8
        pixels = np.frombuffer(image.make_blob("rgb"), dtype=np.uint8)
    return pixels.reshape(frame[1], frame[0], 3)


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(float) @ np.array([0.2126, 0.7152, 0.0722])


def _subject_in_frame(name: str) -> tuple[int, int, int, int]:
    """The animal's box in frame pixels (these pictures have the frame's shape)."""
    (width, _), box, (frame_w, _) = SCENES[name]
    scale = frame_w / width
    return tuple(round(value * scale) for value in box)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scenes")
    drawn = {}
    for name, (size, box, _) in SCENES.items():
        drawn[name] = folder / f"{name}.png"
        with scene(size, box) as image:
            image.save(filename=str(drawn[name]))
    return drawn


def _caption_pixels(video: Path, frames: int, background: np.ndarray) -> np.ndarray:
    """Where the middle frame differs from the bare background: the caption's pixels."""
    shown = _array(media.frame_number(video, frames // 2, FPS))
    return np.abs(_luma(shown) - _luma(background)) > CAPTION_PIXEL


@pytest.mark.parametrize(
    ("name", "style"),
    [
        ("portrait-bottom", "outline"),
        ("portrait-bottom", "box"),
        ("portrait-top", "outline"),
        ("landscape-bottom", "outline"),
        ("landscape-bottom", "box"),
    ],
)
def test_auto_captions_leave_the_subject_visible_within_safe_margins(
    scenes, tmp_path: Path, name: str, style: str
) -> None:
    frame = SCENES[name][2]
    video, frames = _render(tmp_path, scenes[name], frame, caption_style=style)
    caption = _caption_pixels(video, frames, _background(scenes[name], frame))
    assert caption.sum() > 500, "no caption seen"
    left, top, right, bottom = _subject_in_frame(name)
    covered = int(caption[top:bottom, left:right].sum())
    assert covered == 0, f"{covered} caption pixels on the subject"

    shown = _array(media.frame_number(video, frames // 2, FPS))
    ink_rows, ink_columns = np.nonzero(shown.min(axis=2) >= INK)
    width, height = frame
    margins = {
        "top": ink_rows.min() / height,
        "bottom": (height - 1 - ink_rows.max()) / height,
        "left": ink_columns.min() / width,
        "right": (width - 1 - ink_columns.max()) / width,
    }
    near_edge = "top" if ink_rows.mean() < height / 2 else "bottom"
    assert near_edge == ("bottom" if "top" in name else "top")
    assert 0.08 <= margins[near_edge] <= 0.12, margins
    assert margins["left"] >= 0.08 and margins["right"] >= 0.08, margins


def test_captions_asked_for_at_the_bottom_do_cover_that_subject(scenes, tmp_path: Path) -> None:
    """The check above can fail: placed at the bottom, the same caption covers the animal."""
    name = "portrait-bottom"
    frame = SCENES[name][2]
    video, frames = _render(tmp_path, scenes[name], frame, caption_position="bottom")
    caption = _caption_pixels(video, frames, _background(scenes[name], frame))
    left, top, right, bottom = _subject_in_frame(name)
    assert caption[top:bottom, left:right].sum() > 200


def _body_pixels(pixels: np.ndarray) -> int:
    return int((np.abs(pixels.astype(int) - np.array(BODY)).max(axis=2) <= 20).sum())


@pytest.mark.parametrize("name", ["portrait-bottom", "landscape-bottom"])
def test_with_zoom_the_subject_stays_visible_and_in_place(scenes, tmp_path: Path, name) -> None:
    frame = SCENES[name][2]
    video, frames = _render(tmp_path, scenes[name], frame, zoom=True)
    background = _background(scenes[name], frame)
    bare = _body_pixels(background)
    first = _array(media.frame_number(video, 6, FPS))  # after the fade in
    last = _array(media.frame_number(video, frames - 7, FPS))  # before the fade out
    for shown in (first, last):
        assert _body_pixels(shown) >= 0.97 * bare  # nothing laid over the animal

    def centre(pixels: np.ndarray) -> tuple[float, float]:
        rows, columns = np.nonzero(np.abs(pixels.astype(int) - np.array(BODY)).max(axis=2) <= 20)
        return float(columns.mean()), float(rows.mean())

    # The zoom heads for the animal: it grows where it is instead of sliding off toward the
    # frame's edge (a centred zoom moves it 2-4 % of the frame over a part).
    (x0, y0), (x1, y1) = centre(first), centre(last)
    assert math.dist((x0, y0), (x1, y1)) < 0.006 * frame[0] + 1.5, ((x0, y0), (x1, y1))


# --- colours ------------------------------------------------------------------------------------

PATCHES = [
    (200, 40, 40),
    (40, 160, 60),
    (170, 205, 245),
    (35, 91, 155),
    (240, 200, 60),
    (90, 60, 40),
]


def _patch_centre(index: int) -> tuple[int, int]:
    return (index % 2) * 240 + 120, (index // 2) * 130 + 110


def _draw_patches(target: Path) -> None:
    with Image(width=480, height=720, background=Color("rgb(128,128,128)")) as image:
        with Drawing() as draw:
            for index, colour in enumerate(PATCHES):
                draw.fill_color = Color("rgb({},{},{})".format(*colour))
                x, y = _patch_centre(index)
                draw.rectangle(left=x - 100, top=y - 55, right=x + 100, bottom=y + 55)
            draw(image)
        image.save(filename=str(target))


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""

    def linear(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(value) for value in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """CIE 1976 colour difference (stricter than CIEDE2000 for saturated colours)."""
    return math.dist(_lab(a), _lab(b))


def _patch_colours(pixels: np.ndarray) -> list[tuple[float, float, float]]:
    found = []
    for index in range(len(PATCHES)):
        x, y = _patch_centre(index)
        mean = pixels[y - 30 : y + 30, x - 60 : x + 60].reshape(-1, 3).mean(axis=0)
        found.append((float(mean[0]), float(mean[1]), float(mean[2])))
    return found


def _decode_as_a_browser(video: Path, seconds: float, target: Path) -> np.ndarray:
    """A frame converted to RGB with the BT.709 matrix from limited range, as browsers do for
    any H.264 (whatever ffmpeg would assume)."""
    ffmpeg.ffmpeg(
        *["-ss", f"{seconds:.3f}", "-i", str(video), "-frames:v", "1"],
        *["-vf", "scale=in_color_matrix=bt709:in_range=tv,format=rgb24", str(target)],
    )
    return _array(media.read_png(target))


@pytest.fixture(scope="module")
def colour_story(prefect_harness, tmp_path_factory: pytest.TempPathFactory):
    from flows.video import generate_video

    root = tmp_path_factory.mktemp("colours")
    story = root / "story"
    for number in (1, 2):
        (story / str(number)).mkdir(parents=True)
    _draw_patches(story / "1" / "image.png")
    (story / "1" / "1.txt").write_text("Six colours.", encoding="utf-8")
    with scene((200, 150), (60, 60, 140, 140)) as small:
        small.save(filename=str(story / "2" / "image.png"))
    (story / "2" / "1.txt").write_text("A small picture.", encoding="utf-8")
    options = RenderOptions(
        width=480, height=720, fps=FPS, preset="ultrafast", caption_position="bottom"
    )
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keeper = Keep(level=logging.WARNING)
    # The flow run's own logger: Prefect's logging set-up may stop it passing records up.
    flow_runs = logging.getLogger("prefect.flow_runs")
    # The command line silences Prefect's loggers for the rest of its process once it has failed
    # (flows/cli.py quiet_from_here), and the CLI tests run it in this process before this one.
    was_level, was_disabled = flow_runs.level, flow_runs.disabled
    flow_runs.setLevel(logging.INFO)
    flow_runs.disabled = False
    flow_runs.addHandler(keeper)
    try:
        result = generate_video(assets_dir=str(story), options=options)
    finally:
        flow_runs.removeHandler(keeper)
        flow_runs.setLevel(was_level)
        flow_runs.disabled = was_disabled
    return story, result, [record.getMessage() for record in records]


def test_the_video_is_tagged_bt709_and_decodes_to_the_pictures_colours(
    colour_story, tmp_path: Path
) -> None:
    story, result, _ = colour_story
    video = Path(result["video"])
    stream = next(s for s in ffmpeg.probe(video)["streams"] if s["codec_type"] == "video")
    tags = {key: stream.get(key) for key in ("color_space", "color_transfer", "color_primaries")}
    assert tags == {"color_space": "bt709", "color_transfer": "bt709", "color_primaries": "bt709"}
    assert stream.get("color_range") == "tv"
    seen = _decode_as_a_browser(video, 0.8, tmp_path / "browser.png")
    for found, wanted in zip(_patch_colours(seen), PATCHES, strict=True):
        assert delta_e(found, wanted) <= 3, (found, wanted)
    # A player that reads the tags (ffmpeg's own default here) sees the same.
    for found, wanted in zip(
        _patch_colours(_array(media.frame_at(video, 0.8))), PATCHES, strict=True
    ):
        assert delta_e(found, wanted) <= 3, (found, wanted)


def test_the_poster_is_an_srgb_jpeg_with_the_pictures_colours(colour_story) -> None:
    story, result, _ = colour_story
    poster = Path(result["poster"])
    probed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", poster],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probed.stdout.strip() == "mjpeg"
    shown = _array(media.read_png(poster))  # decoded by ImageMagick's libjpeg, as a viewer does
    for found, wanted in zip(_patch_colours(shown), PATCHES, strict=True):
        assert delta_e(found, wanted) <= 3, (found, wanted)


def test_a_picture_enlarged_over_twice_is_noted_in_the_log_and_the_record(colour_story) -> None:
    story, _, logged = colour_story
    record = json.loads((story / "video.json").read_text(encoding="utf-8"))
    notes = record["notes"]
    assert len(notes) == 1 and notes[0].startswith("part 2:"), notes
    assert "200x150" in notes[0] and "2.4x" in notes[0]
    assert any(message == notes[0] for message in logged), logged


# --- the fill -----------------------------------------------------------------------------------


def _saturation(pixels: np.ndarray) -> np.ndarray:
    rgb = pixels.reshape(-1, 3).astype(float) / 255
    return np.array(
        [colorsys.rgb_to_hsv(*colour)[1] for colour in rgb[:: max(1, len(rgb) // 4000)]]
    )


@pytest.mark.parametrize(
    ("name", "size", "colours"),
    [
        ("pale sky", (1200, 600), [(170, 205, 245), (150, 185, 140)]),
        ("tiny red and green", (200, 150), [(220, 40, 40), (40, 170, 60)]),
    ],
)
def test_the_fill_is_never_more_saturated_than_the_picture(
    tmp_path: Path, name: str, size: tuple[int, int], colours
) -> None:
    picture = tmp_path / "picture.png"
    width, height = size
    with Image(
        width=width, height=height, background=Color("rgb({},{},{})".format(*colours[0]))
    ) as image:
        with Drawing() as draw:
            draw.fill_color = Color("rgb({},{},{})".format(*colours[1]))
            draw.rectangle(left=0, top=height // 2, right=width - 1, bottom=height - 1)
            draw(image)
        image.save(filename=str(picture))
    video, frames = _render(tmp_path, picture, (480, 720), caption_position="bottom")
    shown = _array(media.frame_number(video, frames // 2, FPS))
    # The picture fills the width; above it, the fill (the caption is at the bottom).
    picture_top = round((720 - 480 * height / width) / 2)
    fill = shown[4 : picture_top - 4, 8:-8]
    seen = shown[picture_top + 4 : picture_top + 4 + round(480 * height / width) - 8]
    most_in_picture = float(np.percentile(_saturation(seen), 99))
    assert float(_saturation(fill).max()) <= most_in_picture + 0.02, name
    assert _luma(fill).mean() < 0.6 * _luma(seen).mean()  # darker: the picture stands out
