"""Read-along highlights drawn over a finished caption page: the words being spoken in a warm
colour, everything else as the page already shows it (words read and not yet read alike, at full
contrast; no size change).

Only the glyphs of the lit words change. They are found by laying the page out exactly as it was
drawn (the same Pango markup, so the same lines, line breaks, shaping and bidi order: right to
left in Arabic and Hebrew, the units espeak-ng speaks in Chinese, Japanese and Thai), with every
other character fully transparent (`fgalpha`, which changes no glyph's place), and that layer,
recoloured, is laid over the page's own text. Each variant is the page's image with that layer
over its band: a full frame (.ppm) or a band (.pam, zoom on).
"""

from __future__ import annotations

from pathlib import Path

from wand.image import Image

from services.media import caption_drawing, native, pango_text
from services.media.caption_drawing import CaptionLayout, CaptionStyle, CaptionText

HIGHLIGHT_COLOUR = "rgb(255,190,50)"  # warm amber, clear on the dark outline and on the box
_INVISIBLE = 1  # Pango's smallest fgalpha: a glyph that is laid out but not seen


def line_offsets(text: str, lines: list[str]) -> list[int | None]:
    """For each character of the page's `text`, its index in the drawn lines joined by the
    line separator (None for the spaces a line break took). Wrapping only removes spaces at line
    ends and direction marks only add characters: the rest come in the same order."""
    joined = caption_drawing.LINE_SEPARATOR.join(lines)
    offsets: list[int | None] = []
    cursor = 0
    for character in text:
        if character.isspace():
            found = joined.find(character, cursor)
            ahead = joined[cursor:found] if found >= 0 else ""
            if found >= 0 and not ahead.strip(caption_drawing.LINE_SEPARATOR + "\u200e\u200f"):
                offsets.append(found)
                cursor = found + 1
            else:
                offsets.append(None)
            continue
        found = joined.find(character, cursor)
        if found < 0:
            offsets.append(None)
            continue
        offsets.append(found)
        cursor = found + 1
    return offsets


def _markup(lines: list[str], line_height: int, lit: set[int]) -> str:
    """`caption_drawing.pango_markup` with every character not in `lit` (indexes into the joined
    lines) made invisible."""
    joined = caption_drawing.LINE_SEPARATOR.join(lines)
    pieces: list[str] = []
    for index, character in enumerate(joined):
        escaped = caption_drawing.markup_character(character)
        if escaped and index not in lit:
            escaped = f'<span fgalpha="{_INVISIBLE}">{escaped}</span>'
        pieces.append(escaped)
    return f'<span line_height="{line_height * native.PANGO_SCALE}">{"".join(pieces)}</span>'


def _lit_layer(page: CaptionText, layout: CaptionLayout, lit: set[int]) -> Image:
    padding = layout.font_size // 2
    drawn = pango_text.shared(page.font.description, layout.font_size, page.font.language)
    markup = _markup(list(page.lines), layout.line_height, lit)
    pixels = drawn.draw_pixels(markup, (1.0, 1.0, 1.0, 1.0), padding)
    alpha = pixels.argb32[3::4]  # drawn in white: the alpha byte says it all (little-endian)
    return caption_drawing.one_colour(alpha, HIGHLIGHT_COLOUR, pixels.width, pixels.height)


def _place(band: Image, page: CaptionText, layout: CaptionLayout, lit: set[int]) -> None:
    with _lit_layer(page, layout, lit) as layer:
        padding = layout.font_size // 2
        left = (layout.width - layer.width) // 2
        top = layout.text_top(layer.height, padding)
        band.composite(layer, left, top)


def draw_variants(
    page: CaptionText,
    text: str,
    layout: CaptionLayout,
    image: Path,
    lit_units: list[list[tuple[int, int]]],
    targets: list[Path],
    style: CaptionStyle,
) -> None:
    """One image per entry of `lit_units` (character spans of the page's `text`, lit
    together): the page's `image` with those spans highlighted, written to the target."""
    offsets = line_offsets(text, list(page.lines))
    del style  # the same colour reads on both looks: the outline's and the box's dark ground
    for spans, target in zip(lit_units, targets, strict=True):
        lit = {
            offset for start, end in spans for offset in offsets[start:end] if offset is not None
        }
        if image.suffix == ".pam":
            with Image(filename=str(image)) as band:
                band.type = "truecolormatte"  # a grey band (no colour glyphs) takes colour now
                _place(band, page, layout, lit)
                caption_drawing.save_pam(band, target)
            continue
        _variant_frame(page, layout, image, lit, target)


def bands_in_colour(bands: list[Path]) -> None:
    """Caption bands (.pam) saved grey rewritten in colour, the same pixels: a part's stills go
    to ffmpeg as one stream of images, and a stream whose pixel format changes from one image to
    the next (a grey band, then an amber-lit one) makes ffmpeg rebuild the filter graph, losing
    the frames already counted. Full frames (.ppm) are always colour."""
    for path in bands:
        if path.suffix != ".pam":
            continue
        with Image(filename=str(path)) as band:
            if band.type == "truecolormatte":
                continue
            band.type = "truecolormatte"
            band.format = "pam"
            band.save(filename=str(path))


def _variant_frame(
    page: CaptionText, layout: CaptionLayout, image: Path, lit: set[int], target: Path
) -> None:
    """A full frame (binary PPM, as `compose_pages` writes it) with the band's rows redrawn."""
    data = image.read_bytes()
    header = f"P6\n{layout.width} {layout.height}\n255\n".encode("ascii")
    if not data.startswith(header):
        raise ValueError(f"{image}: not a {layout.width}x{layout.height} page frame")
    row_bytes = 3 * layout.width
    body = memoryview(data)[len(header) :]
    start, end = layout.band_top * row_bytes, layout.band_bottom * row_bytes
    with Image(
        blob=bytes(body[start:end]),
        format="rgb",
        width=layout.width,
        height=layout.band_height,
        depth=8,
    ) as band:
        _place(band, page, layout, lit)
        band.depth = 8
        with target.open("wb") as out:
            out.write(header)
            out.write(body[:start])
            out.write(band.make_blob("rgb"))
            out.write(body[end:])
