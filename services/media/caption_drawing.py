"""Caption drawing
A frame is the story image fitted without distortion over a blurred, darkened fill of itself.
A caption band is as wide as the frame and always the same height, so the text does not jump
between pages; it sits at the bottom, top or middle of the frame (`CaptionLayout`), or, with
`auto`, at the top or bottom, whichever covers less of the picture's subject (`choose_position`).
The text keeps 8.5 % of the frame's height from its edge and 8 % of its width from the sides
(phone players put their controls there), and a line holds about 40 characters at most.
Its look (`CaptionStyle`): light text with a dark outline and soft shadow over a soft, light scrim
that follows the lines (default), or light text on a rounded translucent box. The text is
drawn by Pango through cairo (services/media/pango_text.py), which shapes every script, lays
right-to-left text out right to left and takes each character from an installed font that has
it; where its lines break is decided beforehand with the same Pango font map.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from wand.color import Color
from wand.drawing import Drawing
from wand.image import Image

from services.media import native, pango_text
from services.media.fonts import CaptionFont, caption_text_font
from services.media.framing import Placement
from services.media.pictures import BLACK, CLEAR, resize, save_png
from services.media.subject import Box

Position = Literal["bottom", "top", "middle"]

SAFE_MARGIN_DOWN = 0.085  # of the frame's height, between the text and the edge it sits on
SAFE_MARGIN_ACROSS = 0.08  # of the frame's width, on each side of the text
MAX_LINE_CHARACTERS = 40  # children's captions: short lines (matters in landscape frames)
# Average advance of a character of running text, per pixel of font size (DejaVu Sans, measured
# with Pango on English and German captions: 0.50-0.56; the higher keeps lines near 40).
AVERAGE_CHARACTER_EM = 0.56


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

    @property
    def band_bottom(self) -> int:
        return self.band_top + self.band_height

    def text_top(self, text_height: int, padding: int) -> int:
        """Where a text layer `text_height` high (lines plus `padding` above and below) goes in
        the band: its last line keeps its place at the bottom, its first at the top, the block
        its centre in the middle, whatever the number of lines."""
        if self.position == "top":
            return self.bottom_margin - padding
        if self.position == "middle":
            return (self.band_height - text_height) // 2
        return self.band_height - self.bottom_margin - (text_height - padding)


def caption_layout(
    width: int, height: int, max_lines: int, position: Position = "bottom", scale: float = 1.0
) -> CaptionLayout:
    """Sizes relative to the frame: legible on a phone, three lines in a third of it at most,
    lines of about `MAX_LINE_CHARACTERS` at most; `scale` makes the text larger or smaller."""
    font_size = max(12, round(min(width * 0.062, height * 0.042) * scale))
    line_height = round(font_size * 1.28)
    bottom_margin = round(height * SAFE_MARGIN_DOWN)
    text_width = min(
        round(width * (1 - 2 * SAFE_MARGIN_ACROSS)),
        round(MAX_LINE_CHARACTERS * AVERAGE_CHARACTER_EM * font_size),
    )
    fade_room = round(font_size * 1.6)  # room above the text for its scrim
    band_height = min(height, fade_room + max_lines * line_height + bottom_margin)
    band_height += band_height % 2
    return CaptionLayout(
        width=width,
        height=height,
        font_size=font_size,
        line_height=line_height,
        max_lines=max_lines,
        text_width=text_width,
        band_height=band_height,
        bottom_margin=bottom_margin,
        position=position,
    )


@dataclass(frozen=True)
class CaptionStyle:
    """How a caption band looks; where it sits and how big the text is are `CaptionLayout`'s."""

    look: Literal["outline", "box"] = "outline"
    text_colour: str = "rgb(255,255,255)"
    outline_colour: str = "rgb(20,20,20)"
    outline_ratio: float = 1 / 22  # outline thickness per pixel of font size
    shadow: bool = True  # a soft copy of the outline, offset down and right
    scrim_opacity: float = 0.45  # darkness of the soft scrim behind the lines (outline look)
    scrim_reach: float = 0.55  # how far it reaches beyond the letters, per pixel of font size
    box_colour: str = "rgba(0,0,0,0.62)"  # the box look's translucent box
    box_radius: float = 0.45  # its corner radius, per pixel of font size
    box_padding: float = 0.5  # room around the text inside it, per pixel of font size


DEFAULT_STYLE = CaptionStyle()


@dataclass(frozen=True)
class CaptionText:
    """One page of a caption as drawn: its lines in reading order, and its font."""

    lines: tuple[str, ...]
    font: CaptionFont


def caption_lines_of(layout: CaptionLayout, font: CaptionFont) -> Callable[[str], list[str]]:
    """How caption text wraps in this layout: Pango's own lines at the layout's text width."""
    measurer = pango_text.shared(font.description, layout.font_size, font.language)

    def lines_of(text: str) -> list[str]:
        return measurer.lines(text, layout.text_width)

    return lines_of


def unknown_characters(text: str) -> list[str]:
    """Characters of `text` that neither the caption font nor any other installed font has."""
    font = caption_text_font()
    return pango_text.shared(font.description, 24).unknown_characters(text)


# U+2028 breaks a line inside one paragraph: the lines of a page are laid out as one paragraph,
# so right-to-left text keeps one direction across its lines (Unicode bidi reorders per line).
LINE_SEPARATOR = "\u2028"
_MARKUP_ESCAPES = {character: f"&#{ord(character)};" for character in "&<>%\\"}


def markup_character(character: str) -> str:
    """One character as `_pango_markup` puts it in (escaped, or nothing for a control)."""
    if unicodedata.category(character) == "Cc":
        return ""
    return _MARKUP_ESCAPES.get(character, character)


def _pango_markup(lines: list[str], line_height: int) -> str:
    """The page as Pango markup, every line exactly `line_height` pixels high whichever fonts its
    characters come from. ImageMagick expands % escapes, backslashes and the entities &lt; &gt;
    &amp; in the text before Pango parses it (and invalid markup can crash it), so those
    characters go in as numeric references, and control characters not at all."""
    body = "".join(markup_character(character) for character in LINE_SEPARATOR.join(lines))
    return f'<span line_height="{line_height * native.PANGO_SCALE}">{body}</span>'


@dataclass
class _TextLayer:
    """A page's drawn lines (see `_text_layer`) and, when every pixel of them is the text colour
    (no colour glyphs), their alpha alone: then a copy in another colour is made from it."""

    image: Image
    alpha: bytes | None

    def in_colour(self, colour: str) -> Image:
        """A copy of the lines with every pixel `colour`, the alpha kept (glyph shapes, emoji
        included)."""
        if self.alpha is not None:
            return one_colour(self.alpha, colour, self.image.width, self.image.height)
        copy = self.image.clone()
        _recolour(copy, colour)
        return copy


def _text_layer(page: CaptionText, layout: CaptionLayout, colour: str) -> _TextLayer:
    """The lines, centred under each other, shaped and drawn by Pango on a transparent image as
    wide as the longest line, padded by half a line above and below for marks that reach out of
    the line (Thai and Devanagari vowel signs, Arabic diacritics)."""
    padding = layout.font_size // 2
    fill = Color(colour)
    drawn = pango_text.shared(page.font.description, layout.font_size, page.font.language)
    markup = _pango_markup(list(page.lines), layout.line_height)
    # Drawn in white, every byte of cairo's premultiplied pixels is their alpha (whatever the
    # byte order), unless a glyph has colours of its own.
    pixels = drawn.draw_pixels(markup, (1.0, 1.0, 1.0, 1.0), padding)
    alpha, *others = (pixels.argb32[byte::4] for byte in range(4))
    if fill.alpha == 1.0 and all(plane == alpha for plane in others):
        return _TextLayer(one_colour(alpha, colour, pixels.width, pixels.height), alpha)
    # Colour glyphs (emoji): drawn again, and cairo's PNG writer undoes the premultiplying.
    rgba = (fill.red, fill.green, fill.blue, fill.alpha)
    return _TextLayer(Image(blob=drawn.draw_png(markup, rgba, padding), format="png"), None)


def one_colour(alpha: bytes, colour: str, width: int, height: int) -> Image:
    """An image all `colour` (its red, green and blue) whose alpha is `alpha`, a byte a pixel,
    row by row: the same pixels as `_recolour` gives."""
    wanted = Color(colour)
    pixels = bytearray(bytes((wanted.red_int8, wanted.green_int8, wanted.blue_int8, 0)))
    pixels *= len(alpha)
    pixels[3::4] = alpha
    return Image(blob=bytes(pixels), format="rgba", width=width, height=height, depth=8)


def _recolour(image: Image, colour: str) -> None:
    """Every pixel `colour`, the alpha channel kept (glyph shapes, emoji included)."""
    wanted = Color(colour)
    for channel, value in (("red", wanted.red), ("green", wanted.green), ("blue", wanted.blue)):
        image.evaluate(operator="set", value=value * image.quantum_range, channel=channel)


def _scrim(
    canvas: Image,
    layer: _TextLayer,
    layout: CaptionLayout,
    style: CaptionStyle,
    left: int,
    top: int,
) -> None:
    """The outline look's scrim: a soft dark cloud just behind the lines, the letters' shape grown
    by `scrim_reach` and blurred, so the picture stays visible around and between short lines
    (a band darkened across the frame hid the bottom quarter of every picture). Made at a
    quarter of the size: a sixteenth of the work, and the blur hides the coarser grid."""
    shrink = 4
    reach = max(1, round(layout.font_size * style.scrim_reach / shrink))
    room = 2 * reach
    with layer.in_colour(BLACK) as text:
        small_w, small_h = max(1, text.width // shrink), max(1, text.height // shrink)
        with Image(
            width=small_w + 2 * room, height=small_h + 2 * room, background=Color(CLEAR)
        ) as cloud:
            resize(text, small_w, small_h, filter="triangle")
            cloud.composite(text, room, room)
            # Thin strokes shrunk 4 times are faint: any letter there counts in full.
            cloud.level(black=0.0, white=0.25, channel="alpha")
            cloud.morphology(method="dilate", kernel=f"disk:{reach}", channel="alpha")
            cloud.blur(radius=0, sigma=reach * 0.6)
            cloud.evaluate(operator="multiply", value=style.scrim_opacity, channel="alpha")
            resize(cloud, cloud.width * shrink, cloud.height * shrink, filter="triangle")
            canvas.composite(cloud, left - room * shrink, top - room * shrink)


def _box(canvas: Image, layout: CaptionLayout, style: CaptionStyle, text: Image, top: int) -> None:
    """The box look's rounded translucent box, just around the lines of a text layer."""
    padding = layout.font_size // 2  # the text layer's own, above and below the lines
    room = round(layout.font_size * style.box_padding)
    left = (layout.width - text.width) // 2
    with Drawing() as draw:
        draw.fill_color = Color(style.box_colour)
        draw.rectangle(
            left=max(0, left - room // 2),
            top=max(0, top + padding - room // 2),
            right=min(layout.width - 1, left + text.width + room // 2),
            bottom=min(layout.band_height - 1, top + text.height - padding + room // 2),
            radius=layout.font_size * style.box_radius,
        )
        draw(canvas)


def _caption_band(page: CaptionText, layout: CaptionLayout, style: CaptionStyle) -> Image:
    """A transparent band as wide as the frame with the page drawn on it (`_draw_caption`)."""
    canvas = Image(width=layout.width, height=layout.band_height, background=Color(CLEAR))
    try:
        _draw_caption(canvas, page, layout, style)
    except BaseException:
        canvas.close()
        raise
    return canvas


def _draw_caption(
    canvas: Image, page: CaptionText, layout: CaptionLayout, style: CaptionStyle
) -> None:
    """The page's lines drawn on a band (`canvas`, as wide as the frame and band high): a soft
    scrim, soft shadow, dark outline, light text; or (the box look) light text on a rounded
    translucent box.

    The last line sits `bottom_margin` above the bottom of the band (at the top: the first line
    below its top), whatever the number of lines. Outline and shadow are made from the drawn text
    (its shape grown by a disc), so they follow every glyph, whichever font it came from."""
    if not page.lines:
        return
    boxed = style.look == "box"
    layer = _text_layer(page, layout, style.text_colour)
    with layer.image as text:
        padding = layout.font_size // 2
        left = (layout.width - text.width) // 2
        top = layout.text_top(text.height, padding)
        if boxed:
            _box(canvas, layout, style, text, top)
        elif style.scrim_opacity > 0:
            _scrim(canvas, layer, layout, style, left, top)
        radius = 0.0 if boxed else layout.font_size * style.outline_ratio
        if radius > 0:
            with layer.in_colour(style.outline_colour) as outline:
                disc = f"disk:{max(1.0, radius):.2f}"
                outline.morphology(method="dilate", kernel=disc, channel="alpha")
                if style.shadow:
                    _soft_shadow(canvas, outline, layout, left, top)
                canvas.composite(outline, left, top)
        canvas.composite(text, left, top)


def _soft_shadow(canvas: Image, outline: Image, layout: CaptionLayout, left: int, top: int) -> None:
    """The outline blurred (sigma a tenth of the font size) and offset down and right. The blur
    is done on a copy scaled down, by 2, or by 4 when the blur there is still a pixel or more
    wide (a font of 40 pixels or more): a quarter or a sixteenth of the work."""
    full_sigma = layout.font_size / 10
    shrink = 4 if full_sigma / 4 >= 1 else 2
    with outline.clone() as shadow:
        resize(
            shadow,
            max(1, shadow.width // shrink),
            max(1, shadow.height // shrink),
            filter="triangle",
        )
        shadow.blur(radius=0, sigma=max(1 / shrink, full_sigma / shrink))
        resize(shadow, outline.width, outline.height, filter="triangle")
        offset = max(1, layout.font_size // 14)
        canvas.composite(shadow, left + offset, top + offset)


def draw_caption_band(
    page: CaptionText, layout: CaptionLayout, target: Path, style: CaptionStyle = DEFAULT_STYLE
) -> None:
    """The caption band alone, transparent (laid over a moving picture by ffmpeg): a .pam
    (uncompressed, as ffmpeg reads it once) or a .png, by the target's suffix."""
    with _caption_band(page, layout, style) as drawn:
        # Made 8-bit here, as ffmpeg's overlay takes it: ImageMagick's PNG and PAM writers round
        # the scrim's in-between levels differently, and ffmpeg must get the same from either.
        drawn.depth = 8
        rgba = drawn.make_blob("rgba")
    with Image(
        blob=rgba, format="rgba", width=layout.width, height=layout.band_height, depth=8
    ) as band:
        if target.suffix == ".pam":
            save_pam(band, target)
        else:
            save_png(band, target)


def _is_grey(image: Image) -> bool:
    """Whether every pixel is grey: ImageMagick's own check (the PNG encoder's), which Wand
    lacks (its `type` is whatever the image was made as)."""
    magick = native.magick_libraries()
    collected = magick.core.AcquireExceptionInfo()
    try:
        grey = magick.core.IdentifyImageGray(
            magick.wand.GetImageFromMagickWand(image.wand), collected
        )
        return bool(grey)
    finally:
        magick.core.DestroyExceptionInfo(collected)


def save_pam(band: Image, target: Path) -> None:
    """At the band's depth, grey and alpha only when every pixel is grey (no colour glyphs):
    what the PNG encoder chose, so ffmpeg gets the very same pixels, without the 12 ms a band
    of compressing them."""
    if _is_grey(band):
        band.type = "grayscalematte"
    band.format = "pam"
    band.save(filename=str(target))


def compose_pages(
    background: Path | Image,
    pages: list[CaptionText],
    layout: CaptionLayout,
    targets: list[Path],
    style: CaptionStyle = DEFAULT_STYLE,
) -> None:
    """Full frames, one per caption page: the background (a file, or `frame_background`'s image)
    with the page's band over it, written as uncompressed PPM: ffmpeg reads each once, so
    compressing them is wasted work.

    Only the band changes from page to page: the band's ground (the background there) is made
    once, each page is drawn on a copy of it, and the file is the background's rows above and
    below the band around the band's rows."""
    if isinstance(background, Image):
        _compose_pages(background, pages, layout, targets, style)
        return
    with Image(filename=str(background)) as frame:
        _compose_pages(frame, pages, layout, targets, style)


def _compose_pages(
    frame: Image,
    pages: list[CaptionText],
    layout: CaptionLayout,
    targets: list[Path],
    style: CaptionStyle,
) -> None:
    if frame.size != (layout.width, layout.height):
        raise ValueError(f"background is {frame.size}, the layout {layout.width}x{layout.height}")
    frame.depth = 8
    rows = frame.make_blob("rgb")
    row_bytes = 3 * layout.width
    band_start, band_end = layout.band_top * row_bytes, layout.band_bottom * row_bytes
    above, under, below = rows[:band_start], rows[band_start:band_end], rows[band_end:]
    header = f"P6\n{layout.width} {layout.height}\n255\n".encode("ascii")
    with _band_ground(under, layout, style) as ground:
        for page, target in zip(pages, targets, strict=True):
            with ground.clone() as band:
                _draw_caption(band, page, layout, style)
                band.depth = 8
                with target.open("wb") as out:
                    out.write(header)
                    out.write(above)
                    out.write(band.make_blob("rgb"))
                    out.write(below)


def _band_ground(under: bytes, layout: CaptionLayout, style: CaptionStyle) -> Image:
    """The band's ground: the background's 8-bit pixels `under` it (as the frame file has them)."""
    return Image(blob=under, format="rgb", width=layout.width, height=layout.band_height, depth=8)


# --- where the captions go ---------------------------------------------------------------------
#
# `auto` puts a part's captions at the top or the bottom of the frame, whichever covers less of
# the picture's subject (services/media/subject.py): the share of the picture's saliency in the
# rectangle the text and its scrim can take. Bottom, where viewers look for captions, unless
# the top clearly covers less: the bottom holds TOP_WHEN times as much, and at least LEAST_MASS
# of the picture's saliency; and bottom whenever the picture has no clear subject.
TOP_WHEN = 1.5
LEAST_MASS = 0.04


def text_area(layout: CaptionLayout, position: Position) -> Box:
    """Where a page of `max_lines` lines and its scrim can be, in fractions of the frame."""
    placed = replace(layout, position=position)
    reach = round(layout.font_size * 1.1)  # the scrim's reach, and the half-line padding
    block = layout.max_lines * layout.line_height
    if position == "top":
        top = placed.band_top + layout.bottom_margin
    elif position == "middle":
        top = placed.band_top + (layout.band_height - block) // 2
    else:
        top = placed.band_bottom - layout.bottom_margin - block
    side = (layout.width - layout.text_width) / 2
    return Box(
        left=max(0.0, side - reach) / layout.width,
        top=max(0, top - reach) / layout.height,
        right=min(layout.width, layout.width - side + reach) / layout.width,
        bottom=min(layout.height, top + block + reach) / layout.height,
    )


def choose_position(layout: CaptionLayout, placement: Placement) -> Position:
    """Top or bottom for `auto`, from the picture (see above)."""
    if not placement.subject.clear:
        return "bottom"
    bottom = placement.saliency_in(text_area(layout, "bottom"))
    top = placement.saliency_in(text_area(layout, "top"))
    if bottom >= LEAST_MASS and bottom > TOP_WHEN * top:
        return "top"
    return "bottom"
