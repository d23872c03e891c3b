"""Benchmark: caption lines drawn through our ctypes declarations (services/media/native.py)
against the maintained cffi bindings, pangocffi + pangocairocffi + cairocffi: the same pixels?
the time per page? (the two alternate; medians).

The cffi bindings are not dependencies of the project; to run this, put them beside it:

    .venv/bin/pip install --target build/cffi-libs --no-deps \\
        pangocffi==0.14.1 pangocairocffi==0.7.1 cairocffi==1.7.1
    PYTHONPATH=build/cffi-libs .venv/bin/python bench/native_bindings.py --rounds 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cairocffi
import pangocairocffi
import pangocffi

from services.media import fonts, pango_text
from services.media.caption_drawing import _pango_markup

TEXTS = {
    "latin": (["The lighthouse cat counted", "every ship that passed."], None),
    "arabic": (["كان القط يعد السفن", "التي تمر كل ليلة."], "ar"),
    "thai": (["แมวนับเรือทุกลำ", "ที่แล่นผ่านไป"], "th"),
    "chinese": (["灯塔上的猫数着", "每一艘经过的船。"], "zh"),
}
SIZE, MARGIN, SCALE = 40, 20, 1024
_CONTEXTS: dict[tuple[str, str | None], Any] = {}


def cffi_context(description: str, language: str | None) -> Any:
    """One font map and context per font, as the ctypes path keeps one per PangoText."""
    key = (description, language)
    if key not in _CONTEXTS:
        raw = pangocairocffi.pangocairo.pango_cairo_font_map_new()
        cairo_map = pangocairocffi.ffi.cast("PangoCairoFontMap *", raw)
        pangocairocffi.pangocairo.pango_cairo_font_map_set_resolution(cairo_map, 72.0)
        font_map = pangocffi.ffi.cast("PangoFontMap *", raw)
        context = pangocffi.Context.from_pointer(
            pangocffi.pango.pango_font_map_create_context(font_map)
        )
        if language:  # pangocffi wraps no language setter: its raw C declaration
            tag = pangocffi.pango.pango_language_from_string(language.encode())
            pangocffi.pango.pango_context_set_language(context.pointer, tag)
        _CONTEXTS[key] = context
    return _CONTEXTS[key]


def cffi_draw(description: str, language: str | None, markup: str) -> tuple[int, int, bytes]:
    layout = pangocffi.Layout(cffi_context(description, language))
    font = pangocffi.FontDescription.from_pointer(
        pangocffi.pango.pango_font_description_from_string(description.encode())
    )
    font.size = SIZE * SCALE
    layout.font_description = font
    layout.alignment = pangocffi.Alignment.CENTER
    layout.apply_markup(markup)
    _, logical = layout.get_extents()
    width = (logical.x + logical.width + SCALE // 2) // SCALE
    height = (logical.y + logical.height + SCALE // 2) // SCALE
    surface = cairocffi.ImageSurface(
        cairocffi.FORMAT_ARGB32, max(1, width + 2 * MARGIN), max(1, height + 2 * MARGIN)
    )
    context = cairocffi.Context(surface)
    context.translate(MARGIN, MARGIN)
    context.set_source_rgba(1, 1, 1, 1)
    pangocairocffi.show_layout(context, layout)
    surface.flush()
    data, stride = bytes(surface.get_data()), surface.get_stride()
    w, h = surface.get_width(), surface.get_height()
    if stride != 4 * w:
        data = b"".join(data[row : row + 4 * w] for row in range(0, stride * h, stride))
    return w, h, data


def rmse(a: bytes, b: bytes) -> float:
    return (sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) / len(a)) ** 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    print("script     same size RMSE/255 ctypes ms  cffi ms cffi/ctypes")
    for name, (lines, language) in TEXTS.items():
        font = fonts.caption_text_font("".join(lines), language)
        markup = _pango_markup(lines, round(SIZE * 1.25))
        ours = pango_text.shared(font.description, SIZE, font.language)
        drawn = ours.draw_pixels(markup, (1.0, 1.0, 1.0, 1.0), MARGIN)
        w, h, theirs = cffi_draw(font.description, font.language, markup)
        same = (drawn.width, drawn.height) == (w, h)
        error = rmse(drawn.argb32, theirs) if same else float("nan")
        ctypes_times, cffi_times = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            ours.draw_pixels(markup, (1.0, 1.0, 1.0, 1.0), MARGIN)
            ctypes_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            cffi_draw(font.description, font.language, markup)
            cffi_times.append(time.perf_counter() - start)
        ours_ms = statistics.median(ctypes_times) * 1000
        theirs_ms = statistics.median(cffi_times) * 1000
        ratio = theirs_ms / ours_ms
        print(f"{name:10} {same!s:9} {error:8.4f} {ours_ms:9.3f} {theirs_ms:8.3f} {ratio:11.2f}")


if __name__ == "__main__":
    main()
