"""Caption text as Pango lays it out: where it wraps, how wide a line is, what it cannot draw.

This module asks the Pango library in this process, through its C interface, the questions
paging needs answered before anything is drawn, and then draws the pages (with cairo):

- `lines`: the lines a text wraps into at a width. Pango breaks by each script's rules (UAX #14;
  Thai by dictionary through libthai; Chinese and Japanese between characters, not before a
  closing mark), never inside a grapheme cluster.
- `width`: a line's advance width, shaped (HarfBuzz) with the same fonts, per-character fallback
  included, that the drawing will use.
- `unknown_characters`: the characters no installed font has (Pango would draw a box).
- `draw_pixels` / `draw_png`: a page's lines drawn, with the font map that measured them
  (services/media/caption_drawing.py builds the caption band around them). One font map per font
  and size, kept for the process, so memory stays flat however long the story.

Measuring through ImageMagick instead would render an image per question (about 2 ms each, and it
still could not say where the lines break); here a question costs microseconds.
"""

from __future__ import annotations

import ctypes
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from services.media import native
from services.media.native import PANGO_SCALE
from services.story.model import is_invisible

# The resolution of the measuring and the drawing alike: at 72 dpi a
# font size in points is a size in pixels.
RESOLUTION = 72.0


@dataclass(frozen=True)
class DrawnPixels:
    """A drawn image as cairo holds it: rows of 32-bit native-endian ARGB pixels (on this
    little-endian machine blue, green, red, alpha bytes), colours premultiplied by alpha."""

    width: int
    height: int
    argb32: bytes


class PangoText:
    """One font at one pixel size (and, optionally, one language), as Pango lays text out.

    `font` is a Pango font description ("DejaVu Sans, Bold"); characters that font lacks come from
    other installed fonts, chosen per character by fontconfig, as in the drawing. The language
    (a BCP 47 tag) steers that choice where scripts share characters (Chinese vs Japanese forms).
    Safe to share between threads; answers are cached.
    """

    def __init__(self, font: str, pixel_size: int, language: str | None = None):
        self.font = font
        self.pixel_size = pixel_size
        self.language = language
        libs = native.text_libraries()
        self._libs = libs
        self._lock = threading.Lock()
        self._widths: dict[str, float] = {}
        self._lines: dict[tuple[str, int], list[str]] = {}
        self._font_map = libs.pangocairo.pango_cairo_font_map_new()
        libs.pangocairo.pango_cairo_font_map_set_resolution(self._font_map, RESOLUTION)
        self._context = libs.pango.pango_font_map_create_context(self._font_map)
        if language:
            libs.pango.pango_context_set_language(
                self._context, libs.pango.pango_language_from_string(language.encode())
            )
        self._layout = libs.pango.pango_layout_new(self._context)
        description = libs.pango.pango_font_description_from_string(font.encode())
        libs.pango.pango_font_description_set_size(description, pixel_size * PANGO_SCALE)
        libs.pango.pango_layout_set_font_description(self._layout, description)
        libs.pango.pango_font_description_free(description)
        libs.pango.pango_layout_set_wrap(self._layout, native.PANGO_WRAP_WORD_CHAR)

    def close(self) -> None:
        with self._lock:
            for handle in (self._layout, self._context, self._font_map):
                if handle:
                    self._libs.gobject.g_object_unref(handle)
            self._layout = self._context = self._font_map = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the libraries may be gone
            pass

    def _set(self, encoded: bytes, width: float | None) -> None:
        pango = self._libs.pango
        pango.pango_layout_set_width(
            self._layout, -1 if width is None else round(width * PANGO_SCALE)
        )
        pango.pango_layout_set_text(self._layout, encoded, len(encoded))

    def width(self, text: str) -> float:
        """Advance width of `text` on one line, in pixels (what the drawing's image is wide)."""
        cached = self._widths.get(text)
        if cached is not None:
            return cached
        with self._lock:
            self._set(text.encode("utf-8"), None)
            extents = native.PangoRectangle()
            self._libs.pango.pango_layout_get_extents(self._layout, None, ctypes.byref(extents))
        width = float(extents.x + extents.width) / PANGO_SCALE
        self._widths[text] = width
        return width

    def lines(self, text: str, max_width: float) -> list[str]:
        """The lines `text` wraps into at `max_width` pixels, in reading (logical) order, each
        without the spaces it broke at."""
        key = (text, round(max_width))
        cached = self._lines.get(key)
        if cached is not None:
            return list(cached)
        encoded = text.encode("utf-8")
        pango = self._libs.pango
        with self._lock:
            self._set(encoded, max_width)
            spans = []
            for index in range(pango.pango_layout_get_line_count(self._layout)):
                line = pango.pango_layout_get_line_readonly(self._layout, index).contents
                spans.append((line.start_index, line.length))
        found = [encoded[start : start + length].decode("utf-8").strip() for start, length in spans]
        found = [line for line in found if line]
        self._lines[key] = found
        return list(found)

    def _unknown_glyphs(self, text: str) -> int:
        with self._lock:
            self._set(text.encode("utf-8"), None)
            return int(self._libs.pango.pango_layout_get_unknown_glyphs_count(self._layout))

    def draw_png(
        self, markup: str, colour: tuple[float, float, float, float], margin: int
    ) -> bytes:
        """`markup` (Pango markup) drawn in `colour` (red, green, blue, alpha from 0 to 1), its
        lines centred under each other, on a transparent image as wide and high as the text plus
        `margin` pixels on every side: a PNG (straight, not premultiplied, alpha).

        Drawn with this object's own font map, the one that measured the lines."""
        chunks: list[bytes] = []

        def collect(
            _closure: int | None, data: ctypes._Pointer[ctypes.c_ubyte], length: int
        ) -> int:
            chunks.append(ctypes.string_at(data, length))
            return 0

        writer = native.CairoWriteFunc(collect)

        def write_png(surface: int) -> None:
            status = self._libs.cairo.cairo_surface_write_to_png_stream(surface, writer, None)
            if status:
                raise RuntimeError(f"cairo could not write the caption's image (status {status})")

        self._draw(markup, colour, margin, write_png)
        return b"".join(chunks)

    def draw_pixels(
        self, markup: str, colour: tuple[float, float, float, float], margin: int
    ) -> DrawnPixels:
        """As `draw_png`, but cairo's own pixels: no PNG to encode and decode again."""
        drawn: list[DrawnPixels] = []

        def copy_pixels(surface: int) -> None:
            cairo = self._libs.cairo
            width = cairo.cairo_image_surface_get_width(surface)
            height = cairo.cairo_image_surface_get_height(surface)
            stride = cairo.cairo_image_surface_get_stride(surface)
            data = ctypes.string_at(cairo.cairo_image_surface_get_data(surface), stride * height)
            if stride != 4 * width:
                data = b"".join(
                    data[row : row + 4 * width] for row in range(0, stride * height, stride)
                )
            drawn.append(DrawnPixels(width, height, data))

        self._draw(markup, colour, margin, copy_pixels)
        return drawn[0]

    def _draw(
        self,
        markup: str,
        colour: tuple[float, float, float, float],
        margin: int,
        finish: Callable[[int], None],
    ) -> None:
        """Draw `markup` on a new cairo image surface and hand the surface to `finish`."""
        libs = self._libs
        pango, cairo = libs.pango, libs.cairo
        encoded = markup.encode("utf-8")
        with self._lock:
            layout = pango.pango_layout_new(self._context)
            try:
                description = pango.pango_font_description_from_string(self.font.encode())
                pango.pango_font_description_set_size(description, self.pixel_size * PANGO_SCALE)
                pango.pango_layout_set_font_description(layout, description)
                pango.pango_font_description_free(description)
                pango.pango_layout_set_alignment(layout, native.PANGO_ALIGN_CENTER)
                pango.pango_layout_set_markup(layout, encoded, len(encoded))
                extents = native.PangoRectangle()
                pango.pango_layout_get_extents(layout, None, ctypes.byref(extents))
                width = (extents.x + extents.width + PANGO_SCALE // 2) // PANGO_SCALE
                height = (extents.y + extents.height + PANGO_SCALE // 2) // PANGO_SCALE
                surface = cairo.cairo_image_surface_create(
                    native.CAIRO_FORMAT_ARGB32,
                    max(1, width + 2 * margin),
                    max(1, height + 2 * margin),
                )
                try:
                    if cairo.cairo_surface_status(surface):
                        raise MemoryError("cairo could not make the caption's image")
                    context = cairo.cairo_create(surface)
                    try:
                        cairo.cairo_translate(context, float(margin), float(margin))
                        cairo.cairo_set_source_rgba(context, *colour)
                        libs.pangocairo.pango_cairo_show_layout(context, layout)
                    finally:
                        cairo.cairo_destroy(context)
                    cairo.cairo_surface_flush(surface)
                    finish(surface)
                finally:
                    cairo.cairo_surface_destroy(surface)
            finally:
                libs.gobject.g_object_unref(layout)

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of `text` that no installed font has, each once, in order of appearance.
        Invisible characters (direction marks, zero-width joiners, combining marks) never count."""
        if not self._unknown_glyphs(text):
            return []
        unknown: list[str] = []
        for character in dict.fromkeys(text):
            # Combining marks are drawn on their base, and checked with it (the text above).
            if is_invisible(character) or unicodedata.category(character)[0] == "M":
                continue
            if character in unknown:
                continue
            if self._unknown_glyphs(character):
                unknown.append(character)
        return unknown


@lru_cache(maxsize=16)
def shared(font: str, pixel_size: int, language: str | None = None) -> PangoText:
    """One `PangoText` per font, size and language for the whole process: its font lookups and
    answers are kept between parts and runs."""
    return PangoText(font, pixel_size, language)
