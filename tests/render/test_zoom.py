"""The slow centre zoom is smooth: the picture grows a little on every frame, along the eased
path, centred, never back and forth and never in whole-pixel jumps.

Measured on what a viewer sees: three soft dots on the zoom's background are tracked frame by
frame in the encoded clip (lossless, so the encoder's rounding does not blur the measurement),
and their spread is compared with the zoom the part should have at that frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from services.media import clip_graph, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.settings import RenderOptions
from tests import media

WIDTH, HEIGHT, FPS, FRAMES = 160, 240, 12, 48
AMOUNT = zoom.ZOOM_AMOUNT
SPREAD = 0.28  # dots sit this fraction of the view's size away from its centre


@pytest.mark.parametrize(
    ("width", "height", "frames"),
    [(720, 1080, 240), (720, 1080, 31), (480, 720, 600), (160, 240, 48), (1080, 1920, 120)],
)
def test_every_frame_is_within_a_fifth_of_a_pixel_of_the_eased_zoom(
    width: int, height: int, frames: int
) -> None:
    canvas = zoom.zoom_canvas(width, height, AMOUNT)
    steps = zoom.zoom_steps(canvas, frames, AMOUNT)
    assert len(steps) == frames
    previous = (0.0, 0.0)
    for frame, step in enumerate(steps):
        wanted = zoom.eased_zoom(frame, frames, AMOUNT)
        across, down = zoom.effective_zoom(canvas, step)
        # Off by at most a fifth of a pixel where it shows most: at the frame's edges.
        assert abs(across - wanted) * width / 2 <= 0.2
        assert abs(down - wanted) * height / 2 <= 0.2
        assert across >= previous[0] and down >= previous[1]  # never shrinks back
        previous = (across, down)
        # Whole-sample offsets for 4:2:0 chroma, inside the canvas, covering the frame.
        assert (canvas.canvas_width - step.crop_width) % 4 == 0
        assert (canvas.canvas_height - step.crop_height) % 4 == 0
        assert (step.scale_width - width) % 4 == 0 and (step.scale_height - height) % 4 == 0
        assert step.crop_width <= canvas.canvas_width and step.scale_width >= width
        assert step.crop_height <= canvas.canvas_height and step.scale_height >= height


def _dots_background(canvas: zoom.ZoomCanvas, target: Path) -> list[tuple[float, float]]:
    """A black canvas with three soft white dots (left, right and above the centre), as PPM;
    returns where they sit relative to the centre, in view pixels."""
    centre_x, centre_y = (canvas.canvas_width - 1) / 2, (canvas.canvas_height - 1) / 2
    offsets = [
        (-SPREAD * canvas.view_width, 0.0),
        (SPREAD * canvas.view_width, 0.0),
        (0.0, -SPREAD * canvas.view_height),
    ]
    sigma = 2.5
    pixels = bytearray(canvas.canvas_width * canvas.canvas_height)
    for dx, dy in offsets:
        cx, cy = centre_x + dx, centre_y + dy
        for y in range(int(cy) - 10, int(cy) + 12):
            for x in range(int(cx) - 10, int(cx) + 12):
                value = 235 * math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))
                at = y * canvas.canvas_width + x
                pixels[at] = min(255, pixels[at] + round(value))
    rgb = bytes(value for grey in pixels for value in (grey, grey, grey))
    header = f"P6 {canvas.canvas_width} {canvas.canvas_height} 255\n".encode()
    target.write_bytes(header + rgb)
    return offsets


def _opaque_band(target: Path, width: int, height: int) -> None:
    target.write_bytes(f"P6 {width} {height} 255\n".encode() + bytes(width * height * 3))


def test_rendered_zoom_grows_the_picture_smoothly_about_its_centre(tmp_path: Path) -> None:
    canvas = zoom.zoom_canvas(WIDTH, HEIGHT, AMOUNT)
    background = tmp_path / "background.ppm"
    offsets = _dots_background(canvas, background)
    band_top = HEIGHT - 30
    band = tmp_path / "band.ppm"
    _opaque_band(band, WIDTH, HEIGHT - band_top)
    plan = ClipPlan(
        pages=[StillSegment(image=band, frames=FRAMES)],
        crossfades=[],
        fade_frames=0,
        background=background,
        band_top=band_top,
        zoom_amount=AMOUNT,
    )
    options = RenderOptions(width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast", crf=0)
    clip = tmp_path / "clip.mp4"
    clip_graph.encode_clip(plan, options, clip, what="zoom test clip")

    width, height, frames = media.grey_frames(clip)
    assert (width, height, len(frames)) == (WIDTH, HEIGHT, FRAMES)
    view_to_frame = WIDTH / canvas.view_width
    mid_x, mid_y = (WIDTH - 1) / 2, (HEIGHT - 1) / 2
    spreads = []
    for index, pixels in enumerate(frames):
        left = media.bright_centroid(pixels, width, (0, 100, 80, 140))
        right = media.bright_centroid(pixels, width, (80, 100, 160, 140))
        top = media.bright_centroid(pixels, width, (60, 20, 100, 90))
        wanted = zoom.eased_zoom(index, FRAMES, AMOUNT) * view_to_frame
        across = right[0] - left[0]
        down = (left[1] + right[1]) / 2 - top[1]
        spreads.append(across)
        # Where the dots should be, to a fifth of a pixel: the zoom and its centre.
        assert across == pytest.approx((offsets[1][0] - offsets[0][0]) * wanted, abs=0.2)
        assert down == pytest.approx(-offsets[2][1] * wanted, abs=0.2)
        assert (left[0] + right[0]) / 2 == pytest.approx(mid_x, abs=0.2)
        assert top[0] == pytest.approx(mid_x, abs=0.2)
        assert (left[1] + right[1]) / 2 == pytest.approx(mid_y, abs=0.2)
    steps = [after - before for before, after in zip(spreads, spreads[1:], strict=False)]
    assert min(steps) > -0.05  # never back (beyond what measuring a dot can tell)
    # Never a whole-pixel jump: the largest step is the eased path's fastest, give or take.
    fastest = 1.5 * AMOUNT * (offsets[1][0] - offsets[0][0]) * view_to_frame / (FRAMES - 1)
    assert max(steps) < fastest + 0.25
