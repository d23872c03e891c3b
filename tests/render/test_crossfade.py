"""Pages cross-fade evenly: in a cross-fade of F frames, its frame i shows i/F of the next page,
on full pages and on the transparent caption bands laid over the zoom's background alike.

Measured on the encoded clip (lossless, so the encoder's rounding does not blur it): the mean
brightness of the picture (or of the band) on every frame, against the straight line from the
first page's level to the next one's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.media import clip_graph, zoom
from services.media.clip_graph import ClipPlan, StillSegment
from services.settings import RenderOptions
from tests import media

WIDTH, HEIGHT, FPS = 160, 240, 10
PAGE_FRAMES, FADE = 24, 8
FIRST_FADED = PAGE_FRAMES - FADE // 2  # the cross-fade is centred on the pages' boundary
BAND_TOP = HEIGHT - 40


def _still(target: Path, width: int, height: int, grey: int, alpha: int | None = None) -> Path:
    """A flat grey still, as PPM, or with `alpha` as PAM (RGBA)."""
    if alpha is None:
        target.write_bytes(
            f"P6 {width} {height} 255\n".encode() + bytes([grey]) * width * height * 3
        )
    else:
        header = f"P7\nWIDTH {width}\nHEIGHT {height}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\n"
        pixel = bytes([grey, grey, grey, alpha])
        target.write_bytes((header + "ENDHDR\n").encode() + pixel * width * height)
    return target


def _mean(pixels: bytes, top: int, bottom: int) -> float:
    rows = pixels[top * WIDTH : bottom * WIDTH]
    return sum(rows) / len(rows)


def _assert_even_fade(levels: list[float]) -> None:
    before, after = levels[FIRST_FADED - 1], levels[FIRST_FADED + FADE]
    assert abs(after - before) > 100  # the two pages really differ
    for frame, level in enumerate(levels):
        share = min(max(frame - FIRST_FADED, 0) / FADE, 1.0)
        assert level == pytest.approx(before + (after - before) * share, abs=1.5), frame


@pytest.mark.parametrize("zoomed", [False, True], ids=["pages", "bands"])
def test_each_cross_fade_frame_shows_its_share_of_the_next_page(
    tmp_path: Path, zoomed: bool
) -> None:
    options = RenderOptions(width=WIDTH, height=HEIGHT, fps=FPS, preset="ultrafast", crf=0)
    extra: dict = {}
    if zoomed:
        # An opaque light band gives way to a fully transparent one: the dark background shows.
        canvas = zoom.zoom_canvas(WIDTH, HEIGHT, zoom.ZOOM_AMOUNT)
        background = _still(tmp_path / "bg.ppm", canvas.canvas_width, canvas.canvas_height, 40)
        extra = {"background": background, "band_top": BAND_TOP, "zoom_amount": 0.08}
        band_height = HEIGHT - BAND_TOP
        first = _still(tmp_path / "a.pam", WIDTH, band_height, 220, alpha=255)
        second = _still(tmp_path / "b.pam", WIDTH, band_height, 220, alpha=0)
    else:
        first = _still(tmp_path / "a.ppm", WIDTH, HEIGHT, 30)
        second = _still(tmp_path / "b.ppm", WIDTH, HEIGHT, 210)
    plan = ClipPlan(
        pages=[StillSegment(first, PAGE_FRAMES), StillSegment(second, PAGE_FRAMES)],
        crossfades=[FADE],
        fade_frames=0,
        **extra,
    )
    clip = tmp_path / "clip.mp4"
    clip_graph.encode_clip(plan, options, clip, what="cross-fade test clip")

    width, height, frames = media.grey_frames(clip)
    assert (width, height, len(frames)) == (WIDTH, HEIGHT, 2 * PAGE_FRAMES)
    top = BAND_TOP + 4 if zoomed else 0
    _assert_even_fade([_mean(pixels, top, HEIGHT - 4) for pixels in frames])
    if zoomed:  # above the band, only the flat background, all along
        above = [_mean(pixels, 40, BAND_TOP - 40) for pixels in frames]
        assert max(above) - min(above) < 1
