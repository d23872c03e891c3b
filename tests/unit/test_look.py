"""The look's arithmetic: finding a drawing's subject, placing the picture toward it, choosing
where the captions go, aiming the zoom, darkening the fill, noting a small picture.

Pictures here are drawn with ImageMagick for each test (a character on a sky-and-meadow ground);
none of them was used to tune the saliency thresholds.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pytest
from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

from services.media import caption_drawing, framing, pictures, subject, zoom
from services.media.subject import Box
from tests.stories import draw_scene as scene


def thumbnail(image: Image) -> np.ndarray:
    with image.clone() as small:
        small.depth = 8
        scale = subject.THUMBNAIL_SIDE / max(image.width, image.height)
        small.resize(round(image.width * scale), round(image.height * scale), filter="triangle")
        pixels = np.frombuffer(small.make_blob("rgb"), dtype=np.uint8)
        return pixels.reshape(small.height, small.width, 3)


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    across = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    down = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    common = across * down
    area = (a.right - a.left) * (a.bottom - a.top) + (b.right - b.left) * (b.bottom - b.top)
    return common / (area - common)


@pytest.mark.parametrize(
    ("size", "box"),
    [
        ((600, 900), (200, 660, 420, 860)),  # portrait, at the bottom
        ((600, 900), (330, 40, 540, 230)),  # portrait, at the top right
        ((1200, 800), (80, 520, 400, 780)),  # landscape, bottom left
        ((1200, 800), (760, 260, 1000, 500)),  # landscape, right of centre
    ],
)
def test_the_subject_box_holds_the_drawn_animal(size, box) -> None:
    with scene(size, box) as image:
        found = subject.find_subject(thumbnail(image))
    width, height = size
    truth = Box(box[0] / width, box[1] / height, box[2] / width, box[3] / height)
    assert found.clear
    assert overlap(truth, found.box) >= 0.5, (found.box, truth)
    assert (
        truth.left <= found.focus[0] <= truth.right and truth.top <= found.focus[1] <= truth.bottom
    )


def test_a_picture_with_no_subject_gives_no_clear_answer() -> None:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, size=(43, 64, 3), dtype=np.uint8)
    flat = np.full((43, 64, 3), (120, 160, 200), dtype=np.uint8)
    with scene((640, 430), None) as empty:
        gradient = thumbnail(empty)
    for pixels in (noise, flat, gradient):
        assert not subject.find_subject(pixels).clear


def test_a_nearly_matching_picture_covers_the_frame_cut_toward_its_subject() -> None:
    # 3:4 in a 2:3 frame: covering cuts 11 % of the width, more than MAX_CROP: shown whole.
    whole = framing.place((600, 800), (480, 720))
    assert whole.scaled == (480, 640) and whole.offset == (0, 40)
    # 640x900 in 480x720: covering cuts 6 % of the width; the subject is at the far left.
    with scene((640, 900), (10, 500, 200, 700)) as image:
        found = subject.find_subject(thumbnail(image))
    placed = framing.place((640, 900), (480, 720), found)
    assert placed.scaled == (512, 720)
    assert placed.offset == (0, 0)  # as far left as the picture's edge allows, never past it
    centred = framing.place((640, 900), (480, 720))
    assert centred.offset == (-16, 0)


@pytest.mark.parametrize(
    ("box", "expected"),
    [((200, 660, 420, 860), "top"), ((330, 40, 540, 230), "bottom"), (None, "bottom")],
)
def test_auto_puts_the_captions_where_the_subject_is_not(box, expected) -> None:
    layout = caption_drawing.caption_layout(480, 720, 3)
    with scene((600, 900), box) as image:
        found = subject.find_subject(thumbnail(image))
    placement = framing.place((600, 900), (480, 720), found)
    assert caption_drawing.choose_position(layout, placement) == expected


def test_margins_and_line_length() -> None:
    for width, height in ((480, 720), (720, 1080), (1280, 720), (1920, 1080)):
        layout = caption_drawing.caption_layout(width, height, 3)
        assert 0.08 <= layout.bottom_margin / height <= 0.10
        assert (width - layout.text_width) / 2 >= 0.08 * width - 1
    landscape = caption_drawing.caption_layout(1280, 720, 3)
    # About 40 characters of running text (0.52 em each) and no more.
    assert landscape.text_width / (
        landscape.font_size * caption_drawing.AVERAGE_CHARACTER_EM
    ) == pytest.approx(caption_drawing.MAX_LINE_CHARACTERS, abs=1)


@pytest.mark.parametrize("size", [(480, 720), (1280, 720), (720, 1080)])
@pytest.mark.parametrize("focus", [(0.3, 0.8), (0.0, 1.0), (0.9, 0.15)])
def test_an_aimed_zoom_keeps_its_focus_in_place_and_stays_in_the_view(size, focus) -> None:
    width, height = size
    canvas = zoom.zoom_canvas(width, height, zoom.ZOOM_AMOUNT)
    steps = zoom.aimed_steps(canvas, 240, zoom.ZOOM_AMOUNT, focus)
    plain = zoom.zoom_steps(canvas, 240, zoom.ZOOM_AMOUNT)
    near = 0
    for step, centred in zip(steps, plain, strict=True):
        left, top, right, bottom = zoom.window(canvas, step)
        assert left >= 0 and top >= 0  # never past the view's (the picture's) edges
        assert right <= canvas.view_width + 1e-9 and bottom <= canvas.view_height + 1e-9
        # The zoom itself is as smooth as the centred one's.
        assert zoom.effective_zoom(canvas, step) == pytest.approx(
            zoom.effective_zoom(canvas, centred), abs=0.2 / min(width, height) * 2
        )
        wanted_left = focus[0] * (canvas.view_width - (right - left))
        wanted_top = focus[1] * (canvas.view_height - (bottom - top))
        error = max(
            abs(left - wanted_left) * width / (right - left),
            abs(top - wanted_top) * height / (bottom - top),
        )
        assert error < 1.5
        near += error <= zoom.AIM_TOLERANCE + 1e-9
        crop_x, crop_y, frame_x, frame_y = zoom.offsets(canvas, step)
        assert crop_x % 2 == crop_y % 2 == frame_x % 2 == frame_y % 2 == 0  # 4:2:0 chroma
    assert near >= 0.9 * len(steps)


def hsv_saturation(rgb: tuple[float, float, float]) -> float:
    return colorsys.rgb_to_hsv(*(value / 255 for value in rgb))[1]


@pytest.mark.parametrize(
    "colour", [(170, 205, 245), (220, 40, 40), (40, 170, 60), (250, 250, 250), (20, 30, 90)]
)
def test_the_fill_is_darker_and_never_more_saturated_than_the_picture(
    tmp_path: Path, colour
) -> None:
    picture = tmp_path / "wide.png"
    with Image(width=400, height=200, background=Color("rgb({},{},{})".format(*colour))) as image:
        image.save(filename=str(picture))
    with pictures.frame_background(picture, 240, 360) as frame:
        frame.depth = 8
        pixels = np.frombuffer(frame.make_blob("rgb"), dtype=np.uint8).reshape(360, 240, 3)
    red, green, blue = (float(v) for v in pixels[20, 120])  # above the picture
    fill = (red, green, blue)
    shown = tuple(float(v) for v in pixels[180, 120])
    assert max(abs(a - b) for a, b in zip(shown, colour, strict=True)) <= 2
    assert hsv_saturation(fill) <= hsv_saturation(colour) + 0.01, (fill, colour)
    assert max(fill) <= 0.5 * max(colour) + 2  # darkened toward black
    if colour == (170, 205, 245):  # the pale sky stays a muted blue, not royal blue
        assert hsv_saturation(fill) < 0.3 and fill[2] > fill[0]


def test_enlarging_a_small_drawing_leaves_no_halo(tmp_path: Path) -> None:
    """A dark outline on a light ground enlarged 4.8 times: Lanczos rang 21 levels brighter than
    the ground beside the line; the soft filter stays within 8."""
    source = tmp_path / "small.png"
    with Image(width=150, height=150, background=Color("rgb(200,200,200)")) as image:
        with Drawing() as draw:
            draw.fill_color = Color("rgb(20,20,20)")
            draw.rectangle(left=60, top=0, right=63, bottom=149)
            draw(image)
        image.save(filename=str(source))
    with pictures.frame_background(source, 720, 720) as frame:
        frame.depth = 8
        row = np.frombuffer(frame.make_blob("gray"), dtype=np.uint8).reshape(720, 720)[360]
    assert row.min() < 40  # the line is there
    assert int(row.max()) - 200 <= 8


def test_an_enlargement_over_twice_is_noted() -> None:
    assert framing.enlargement_note(3, 400, 600, 1.8) is None
    note = framing.enlargement_note(2, 200, 150, 4.8)
    assert note is not None
    assert "part 2" in note and "200x150" in note and "4.8x" in note and "960x720" in note
