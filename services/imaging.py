"""Every ImageMagick (Wand) call: checking images, frame backgrounds, and caption drawing.

A frame is the story image fitted without distortion over a blurred, darkened fill of itself.
A caption band is as wide as the frame and always the same height, so the text does not jump
between pages; it sits at the bottom (default), top or middle of the frame (`CaptionLayout`).
Its look (`CaptionStyle`): light text with a dark outline and soft shadow over a dark gradient
(default), or light text on a rounded translucent box.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from wand.color import Color
from wand.drawing import Drawing
from wand.exceptions import WandException
from wand.image import Image

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
)


# Colours by number, never by name: ImageMagick loads its table of colour names lazily, and
# two threads doing that at once have been seen to fail ("Unrecognized color string").
BLACK = "rgb(0,0,0)"
CLEAR = "rgba(0,0,0,0)"


class ImageProblem(ValueError):
    """The picture cannot be used; the message says why."""


@lru_cache(maxsize=4)
def caption_font(preferred: str | None = None) -> str:
    """Path of the caption font: CAPTION_FONT if set, else a bold sans with wide Latin coverage."""
    wanted = preferred or os.environ.get("CAPTION_FONT")
    if wanted:
        if Path(wanted).is_file():
            return wanted
        matcher = shutil.which("fc-match")
        if matcher:
            found = subprocess.run(
                [matcher, "-f", "%{file}", wanted], capture_output=True, text=True, check=False
            ).stdout.strip()
            if found and Path(found).is_file():
                return found
        raise ImageProblem(f"caption font {wanted!r} was not found")
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise ImageProblem("no caption font installed (fonts-dejavu-core; run scripts/setup.sh)")


def _read(path: Path, at_least: tuple[int, int]) -> Image:
    """Read an image. A JPEG much larger than needed is decoded at a reduced scale (libjpeg's
    DCT scaling still reads the whole stream), which keeps a 40-megapixel photo from costing
    hundreds of megabytes per worker."""
    image = Image()
    try:
        image.options["jpeg:size"] = f"{at_least[0]}x{at_least[1]}"
        image.read(filename=str(path))
    except BaseException:
        image.close()
        raise
    return image


def _jpeg_is_truncated(path: Path) -> bool:
    """libjpeg pads a cut-off JPEG with grey and only warns; ImageMagick does not report it.
    A complete JPEG has an end-of-image marker after its last start-of-scan marker."""
    data = path.read_bytes()
    if not data.startswith(b"\xff\xd8"):
        return False  # not a JPEG: the decoder judges it
    last_scan = data.rfind(b"\xff\xda")
    return last_scan == -1 or data.find(b"\xff\xd9", last_scan) == -1


def check_image(path: Path) -> tuple[int, int]:
    """Decode the whole image (not just its header); return the decoded width and height."""
    if _jpeg_is_truncated(path):
        raise ImageProblem("is cut off (the JPEG data ends early; upload it again)")
    try:
        with _read(path, (256, 256)) as image:
            image.auto_orient()
            if image.width < 1 or image.height < 1:
                raise ImageProblem("the image has no pixels")
            return image.width, image.height
    except WandException as error:
        raise ImageProblem(f"does not decode as an image ({_plain_reason(error)})") from None


def _plain_reason(error: Exception) -> str:
    """ImageMagick's reason without its source locations and Wand's internals."""
    text = str(error)
    if "MagickReadImage returns false" in text:
        return "the file is damaged or cut off"
    return text.split("`")[0].strip().rstrip("@ ").strip() or type(error).__name__


def _load_upright_rgb(path: Path, at_least: tuple[int, int]) -> Image:
    """Read any supported image as 8-bit sRGB, turned upright per its EXIF orientation."""
    image = _read(path, at_least)
    image.auto_orient()
    if image.colorspace in ("cmyk", "gray"):
        image.transform_colorspace("srgb")
    image.depth = 8
    return image


def _fit(width: int, height: int, box_width: int, box_height: int, cover: bool) -> tuple[int, int]:
    """Scaled size that fits inside (or, with cover, fills) the box, aspect ratio kept."""
    scale_w, scale_h = box_width / width, box_height / height
    scale = max(scale_w, scale_h) if cover else min(scale_w, scale_h)
    return max(1, round(width * scale)), max(1, round(height * scale))


def compose_background(source: Path, width: int, height: int, target: Path) -> None:
    """Write the frame background: the picture fitted, over a blurred and darkened fill of it."""
    # Ask for enough pixels to fill the frame whichever way the picture is turned.
    side = max(width, height)
    with _load_upright_rgb(source, (side, side)) as picture:
        with Image(width=width, height=height, background=Color(BLACK)) as frame:
            # Fill: scale down hard, blur the small copy, scale up. Cheap, and smooth.
            with picture.clone() as fill:
                fill.background_color = Color(BLACK)
                fill.alpha_channel = "remove"
                small_w, small_h = _fit(fill.width, fill.height, width // 12, height // 12, True)
                fill.resize(small_w, small_h, filter="triangle")
                fill.blur(radius=0, sigma=2.0)
                fill.resize(*_fit(small_w, small_h, width, height, True), filter="triangle")
                fill.modulate(brightness=45, saturation=80)
                frame.composite(
                    fill, left=(width - fill.width) // 2, top=(height - fill.height) // 2
                )
            fit_w, fit_h = _fit(picture.width, picture.height, width, height, cover=False)
            picture.resize(fit_w, fit_h, filter="lanczos")
            frame.composite(picture, left=(width - fit_w) // 2, top=(height - fit_h) // 2)
            frame.alpha_channel = "remove"
            _save_frame(frame, target)


def _save_frame(image: Image, target: Path) -> None:
    """An opaque frame for ffmpeg, uncompressed (.ppm) or PNG, by the target's suffix."""
    if target.suffix == ".ppm":
        image.format = "ppm"
        image.save(filename=str(target))
    else:
        _save_png(image, target)


def _save_png(image: Image, target: Path) -> None:
    image.format = "png"
    image.compression_quality = 10  # zlib level 1: these files live for seconds
    image.save(filename=str(target))


Position = Literal["bottom", "top", "middle"]


@dataclass(frozen=True)
class CaptionLayout:
    """Caption geometry for one frame size (pure arithmetic; see `caption_layout`)."""

    width: int
    height: int
    font_size: int
    line_height: int
    max_lines: int
    text_width: int
    band_height: int
    bottom_margin: int  # between the text and the frame's edge it is anchored to
    position: Position = "bottom"

    @property
    def band_top(self) -> int:
        if self.position == "top":
            return 0
        if self.position == "middle":
            middle = (self.height - self.band_height) // 2
            return middle - middle % 2
        return self.height - self.band_height

    def first_baseline(self, lines: int) -> int:
        """Baseline of the first of `lines` lines, in band pixels: the last line keeps its place
        at the bottom, the first at the top, the block its centre in the middle."""
        block = (lines - 1) * self.line_height
        ascent, descent = round(self.font_size * 0.95), round(self.font_size * 0.28)
        if self.position == "top":
            return self.bottom_margin + ascent
        if self.position == "middle":
            return (self.band_height - block - ascent - descent) // 2 + ascent
        return self.band_height - self.bottom_margin - descent - block


def caption_layout(
    width: int, height: int, max_lines: int, position: Position = "bottom", scale: float = 1.0
) -> CaptionLayout:
    """Sizes relative to the frame: legible on a phone, three lines in a third of it at most;
    `scale` makes the text larger or smaller."""
    font_size = max(12, round(min(width * 0.062, height * 0.042) * scale))
    line_height = round(font_size * 1.28)
    bottom_margin = round(height * 0.05)
    fade_room = round(font_size * 1.6)  # gradient ramps up above the text
    band_height = min(height, fade_room + max_lines * line_height + bottom_margin)
    band_height += band_height % 2
    return CaptionLayout(
        width=width,
        height=height,
        font_size=font_size,
        line_height=line_height,
        max_lines=max_lines,
        text_width=round(width * 0.86),
        band_height=band_height,
        bottom_margin=bottom_margin,
        position=position,
    )


@dataclass(frozen=True)
class CaptionStyle:
    """How a caption looks; where it sits and how big the text is are `CaptionLayout`'s."""

    look: Literal["outline", "box"] = "outline"
    box_colour: str = "rgba(0,0,0,0.62)"  # the box look's translucent box
    box_radius: float = 0.45  # its corner radius, per pixel of font size
    box_padding: float = 0.5  # room around the text inside it, per pixel of font size


DEFAULT_STYLE = CaptionStyle()


class TextMeasurer:
    """Pixel width of a line of caption text, as ImageMagick will draw it."""

    def __init__(self, font: str, font_size: int):
        self._font = font
        self._font_size = font_size
        self._lock = threading.Lock()
        self._cache: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        with self._lock, Drawing() as draw, Image(width=1, height=1) as canvas:
            draw.font = self._font
            draw.font_size = self._font_size
            width = float(draw.get_font_metrics(canvas, text, multiline=False).text_width)
        self._cache[text] = width
        return width


def _draw_lines(
    canvas: Image,
    lines: list[str],
    layout: CaptionLayout,
    font: str,
    colour: str,
    stroke: float,
) -> None:
    with Drawing() as draw:
        draw.font = font
        draw.font_size = layout.font_size
        draw.fill_color = Color(colour)
        draw.text_alignment = "center"
        draw.text_antialias = True
        if stroke > 0:
            draw.stroke_color = Color(colour)
            draw.stroke_width = stroke
            draw.stroke_antialias = True
        first = layout.first_baseline(len(lines))
        for index, line in enumerate(lines):
            draw.text(layout.width // 2, first + index * layout.line_height, line)
        draw(canvas)


def _gradient(layout: CaptionLayout) -> Image:
    """The outline look's darkening: strongest at the frame edge the band sits on (both edges
    of the band in the middle), full strength over the text."""
    width, band = layout.width, layout.band_height
    dark = "rgba(0,0,0,0.82)"
    if layout.position == "middle":
        half = band // 2
        canvas = Image(width=width, height=band, background=Color(CLEAR))
        with Image(width=width, height=half, pseudo=f"gradient:{CLEAR}-{dark}") as upper:
            upper.level(black=0.0, white=0.6, channel="alpha")
            canvas.composite(upper, 0, 0)
            upper.flip()
            canvas.composite(upper, 0, band - half)
        return canvas
    canvas = Image(width=width, height=band, pseudo=f"gradient:{CLEAR}-{dark}")
    # The gradient reaches full strength 60 % of the way down the band and stays there.
    canvas.level(black=0.0, white=0.6, channel="alpha")
    if layout.position == "top":
        canvas.flip()
    return canvas


def _outlined_band(lines: list[str], layout: CaptionLayout, font: str) -> Image:
    """Gradient, soft shadow, dark outline, light text."""
    width, band = layout.width, layout.band_height
    canvas = _gradient(layout)
    with Image(width=width, height=band, background=Color(CLEAR)) as outline:
        _draw_lines(outline, lines, layout, font, "rgb(20,20,20)", max(1.0, layout.font_size / 11))
        # The shadow is the outline, softened: blurred at half size (a quarter of the work).
        with outline.clone() as shadow:
            shadow.resize(max(1, width // 2), max(1, band // 2), filter="triangle")
            shadow.blur(radius=0, sigma=max(0.5, layout.font_size / 20))
            shadow.resize(width, band, filter="triangle")
            offset = max(1, layout.font_size // 14)
            canvas.composite(shadow, offset, offset)
        canvas.composite(outline, 0, 0)
    _draw_lines(canvas, lines, layout, font, "rgb(255,255,255)", 0)
    return canvas


def _boxed_band(lines: list[str], layout: CaptionLayout, font: str, style: CaptionStyle) -> Image:
    """Light text on a rounded translucent box just large enough for it."""
    canvas = Image(width=layout.width, height=layout.band_height, background=Color(CLEAR))
    if lines:
        measure = TextMeasurer(font, layout.font_size)
        padding = round(layout.font_size * style.box_padding)
        text_width = max(measure(line) for line in lines)
        first = layout.first_baseline(len(lines))
        top = first - round(layout.font_size * 0.95) - padding // 2
        bottom = first + (len(lines) - 1) * layout.line_height + round(layout.font_size * 0.28)
        left = round((layout.width - text_width) / 2) - padding
        radius = layout.font_size * style.box_radius
        with Drawing() as draw:
            draw.fill_color = Color(style.box_colour)
            draw.rectangle(
                left=max(0, left),
                top=max(0, top),
                right=min(layout.width - 1, layout.width - left),
                bottom=min(layout.band_height - 1, bottom + padding // 2),
                radius=radius,
            )
            draw(canvas)
    _draw_lines(canvas, lines, layout, font, "rgb(255,255,255)", 0)
    return canvas


def _caption_band(
    lines: list[str], layout: CaptionLayout, font: str, style: CaptionStyle = DEFAULT_STYLE
) -> Image:
    """A transparent band as wide as the frame with the page's caption in the chosen look."""
    if style.look == "box":
        return _boxed_band(lines, layout, font, style)
    return _outlined_band(lines, layout, font)


def draw_caption_band(
    lines: list[str],
    layout: CaptionLayout,
    font: str,
    target: Path,
    style: CaptionStyle = DEFAULT_STYLE,
) -> None:
    """The caption band alone, as a transparent PNG (laid over a moving picture by ffmpeg)."""
    with _caption_band(lines, layout, font, style) as band:
        _save_png(band, target)


def compose_pages(
    background: Path,
    pages: list[list[str]],
    layout: CaptionLayout,
    font: str,
    targets: list[Path],
    style: CaptionStyle = DEFAULT_STYLE,
) -> None:
    """Full frames, one per caption page: the background with the page's band over it.

    Written as uncompressed PPM: ffmpeg reads each once, so compressing them is wasted work."""
    with Image(filename=str(background)) as frame:
        for lines, target in zip(pages, targets, strict=True):
            with frame.clone() as page, _caption_band(lines, layout, font, style) as band:
                page.composite(band, left=0, top=layout.band_top)
                page.alpha_channel = "remove"
                _save_frame(page, target)
