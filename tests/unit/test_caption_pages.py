"""How caption pages are written: a full frame per page (no zoom), a band alone (zoom).

Each page is drawn on the band's region only and written around the background's own rows, and
a zoom band is an uncompressed PAM: these check that what ffmpeg reads is what it read before
(the background untouched outside the band, a band decoding to the pixels its PNG had).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.media import caption_drawing, ffmpeg, pictures
from tasks.captions import page_caption
from tests import media
from tests.stories import write_picture

WIDTH, HEIGHT = 160, 240
LAYOUT = caption_drawing.caption_layout(WIDTH, HEIGHT, 3)
TEXTS = {
    "latin": ("en", "Once upon a time a small cat lived by the sea."),
    "emoji": ("en", "The cat 🐱 loved the sea 🌊"),
}


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pages")
    write_picture(folder / "picture.png", (200, 120, 40), (320, 240))
    target = folder / "background.ppm"
    pictures.compose_background(folder / "picture.png", WIDTH, HEIGHT, target)
    return target


@pytest.mark.parametrize("position", ["bottom", "top", "middle"])
def test_a_page_is_the_background_outside_the_band_and_the_caption_inside(
    background: Path, tmp_path: Path, position: caption_drawing.Position
) -> None:
    layout = caption_drawing.caption_layout(WIDTH, HEIGHT, 3, position=position)
    [page, *_] = page_caption(TEXTS["latin"][1], layout, "en")
    target = tmp_path / "page.ppm"
    caption_drawing.compose_pages(background, [page.drawn], layout, [target])

    frame, ground = media.read_png(target), media.read_png(background)
    row = 3 * WIDTH
    top, bottom = layout.band_top * row, layout.band_bottom * row
    assert (frame.width, frame.height) == (WIDTH, HEIGHT)
    assert frame.pixels[:top] == ground.pixels[:top]
    assert frame.pixels[bottom:] == ground.pixels[bottom:]
    assert media.text_pixels(frame, layout.band_top, layout.band_bottom) > 100


@pytest.mark.parametrize("name", TEXTS)
def test_a_zoom_band_reads_in_ffmpeg_as_its_png(tmp_path: Path, name: str) -> None:
    language, text = TEXTS[name]
    [page, *_] = page_caption(text, LAYOUT, language)
    decoded = {}
    for suffix in ("pam", "png"):
        band = tmp_path / f"band.{suffix}"
        caption_drawing.draw_caption_band(page.drawn, LAYOUT, band)
        raw = tmp_path / f"{suffix}.rgba64"
        ffmpeg.ffmpeg("-i", str(band), "-f", "rawvideo", "-pix_fmt", "rgba64le", str(raw))
        decoded[suffix] = raw.read_bytes()
    assert len(decoded["pam"]) == WIDTH * LAYOUT.band_height * 8
    assert decoded["pam"] == decoded["png"]
    opaque = sum(1 for alpha in decoded["pam"][7::8] if alpha == 255)
    assert opaque > 100, "the band has no opaque caption pixels"
