"""Every C function the render calls directly, declared once, in one place.

Pango, PangoCairo, cairo, GObject and HarfBuzz lay out and draw the captions
(services/media/pango_text.py); ImageMagick's own functions do what Wand does not: read a
decoder's warning and resize without Wand's per-call checks (services/media/pictures.py), and
tell whether a band is all grey (services/media/caption_drawing.py). A wrong declaration here
crashes the process without a traceback, so each function is declared once, below, and
tests/unit/test_native.py calls every one of them.
libespeak-ng's few functions are the exception: services/media/espeak_library.py declares them,
as it runs as a process of its own (`python -I -S`) that imports nothing of the project.

Why ctypes and not a maintained binding: pangocffi / pangocairocffi / cairocffi draw the very
same pixels (the same libraries underneath; RMSE 0 on Latin, Arabic, Thai and Chinese pages) at
1.1-1.4 times the time per page (`bench/native_bindings.py`), and leave the calls paging needs
(a context's language, a layout line's start, the unknown-glyph count) to their raw C
declarations anyway: three packages more, for the same C calls. PyGObject needs
libgirepository 2.0, which Debian bookworm does not have. The libraries come from the Debian
packages scripts/setup.sh and the Dockerfile name: libpango-1.0-0, libpangocairo-1.0-0,
libcairo2, libharfbuzz0b, libglib2.0-0 (GObject) and ImageMagick's libmagickwand.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class NativeUnavailable(RuntimeError):
    """A native library the captions need is not installed."""


class PangoRectangle(ctypes.Structure):
    """PangoRectangle, in Pango units."""

    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
    ]


class PangoLayoutLineHead(ctypes.Structure):
    """The public head of PangoLayoutLine: where the line starts in the text, in bytes."""

    _fields_ = [
        ("layout", ctypes.c_void_p),
        ("start_index", ctypes.c_int),
        ("length", ctypes.c_int),
    ]


class MagickExceptionHead(ctypes.Structure):
    """The first fields of ImageMagick's ExceptionInfo (the same in ImageMagick 6 and 7)."""

    _fields_ = [
        ("severity", ctypes.c_int),
        ("error_number", ctypes.c_int),
        ("reason", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
    ]


# cairo's write callback: (closure, data, length) -> cairo_status_t (0: success)
CairoWriteFunc = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_uint
)
CAIRO_FORMAT_ARGB32 = 0
PANGO_SCALE = 1024
PANGO_ALIGN_CENTER = 1  # PangoAlignment
PANGO_WRAP_WORD_CHAR = 2  # PangoWrapMode: at word boundaries, within a word if it alone is wider

_P, _S, _I, _D = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_double

# library -> (function, result type, argument types)
DECLARATIONS: dict[str, list[tuple[str, Any, list[Any]]]] = {
    "pangocairo": [
        ("pango_cairo_font_map_new", _P, []),
        ("pango_cairo_font_map_set_resolution", None, [_P, _D]),
        ("pango_cairo_show_layout", None, [_P, _P]),
    ],
    "pango": [
        ("pango_font_map_create_context", _P, [_P]),
        ("pango_language_from_string", _P, [_S]),
        ("pango_context_set_language", None, [_P, _P]),
        ("pango_layout_new", _P, [_P]),
        ("pango_font_description_from_string", _P, [_S]),
        ("pango_font_description_set_size", None, [_P, _I]),
        ("pango_font_description_free", None, [_P]),
        ("pango_layout_set_font_description", None, [_P, _P]),
        ("pango_layout_set_text", None, [_P, _S, _I]),
        ("pango_layout_set_width", None, [_P, _I]),
        ("pango_layout_set_wrap", None, [_P, _I]),
        ("pango_layout_get_extents", None, [_P, _P, ctypes.POINTER(PangoRectangle)]),
        ("pango_layout_get_line_count", _I, [_P]),
        ("pango_layout_get_line_readonly", ctypes.POINTER(PangoLayoutLineHead), [_P, _I]),
        ("pango_layout_get_unknown_glyphs_count", _I, [_P]),
        ("pango_layout_set_markup", None, [_P, _S, _I]),
        ("pango_layout_set_alignment", None, [_P, _I]),
        ("pango_version_string", _S, []),
    ],
    "cairo": [
        ("cairo_image_surface_create", _P, [_I, _I, _I]),
        ("cairo_surface_status", _I, [_P]),
        ("cairo_create", _P, [_P]),
        ("cairo_translate", None, [_P, _D, _D]),
        ("cairo_set_source_rgba", None, [_P, _D, _D, _D, _D]),
        ("cairo_surface_flush", None, [_P]),
        ("cairo_image_surface_get_data", _P, [_P]),
        ("cairo_image_surface_get_stride", _I, [_P]),
        ("cairo_image_surface_get_width", _I, [_P]),
        ("cairo_image_surface_get_height", _I, [_P]),
        ("cairo_surface_write_to_png_stream", _I, [_P, CairoWriteFunc, _P]),
        ("cairo_destroy", None, [_P]),
        ("cairo_surface_destroy", None, [_P]),
        ("cairo_version_string", _S, []),
    ],
    "gobject": [
        ("g_object_unref", None, [_P]),
    ],
    "harfbuzz": [
        ("hb_version_string", _S, []),
    ],
    # ImageMagick's MagickCore (wand.api.libmagick): the functions Wand does not declare
    "magickcore": [
        ("GetImageException", None, [_P, _P]),
        ("IdentifyImageGray", _I, [_P, _P]),
    ],
}
# ImageMagick functions we call as Wand declares them (for the ImageMagick version it found:
# MagickResizeImage lost an argument in ImageMagick 7), by library.
WAND_DECLARED = {
    "magickcore": ("AcquireExceptionInfo", "DestroyExceptionInfo"),
    "magickwand": ("GetImageFromMagickWand", "MagickResizeImage", "MagickSetSize"),
}

_SONAMES = {
    "pango": "libpango-1.0.so.0",
    "pangocairo": "libpangocairo-1.0.so.0",
    "cairo": "libcairo.so.2",
    "gobject": "libgobject-2.0.so.0",
    "harfbuzz": "libharfbuzz.so.0",
}


def _declare(library: ctypes.CDLL, declarations: list[tuple[str, Any, list[Any]]]) -> None:
    for name, result, arguments in declarations:
        function = getattr(library, name)
        function.restype = result
        function.argtypes = arguments


@dataclass(frozen=True)
class TextLibraries:
    """Pango, PangoCairo, cairo, GObject and HarfBuzz, every function declared."""

    pango: ctypes.CDLL
    pangocairo: ctypes.CDLL
    cairo: ctypes.CDLL
    gobject: ctypes.CDLL
    harfbuzz: ctypes.CDLL


@lru_cache(maxsize=1)
def text_libraries() -> TextLibraries:
    loaded: dict[str, ctypes.CDLL] = {}
    for key, soname in _SONAMES.items():
        try:
            loaded[key] = ctypes.CDLL(soname)
        except OSError as error:
            raise NativeUnavailable(
                f"{soname} is not installed ({error}): the captions need libpango-1.0-0, "
                f"libpangocairo-1.0-0, libcairo2 and libharfbuzz0b (scripts/setup.sh installs them)"
            ) from None
        _declare(loaded[key], DECLARATIONS[key])
    return TextLibraries(**loaded)


@dataclass(frozen=True)
class MagickLibraries:
    """ImageMagick's MagickCore and MagickWand as Wand loaded and declared them, with ours."""

    core: ctypes.CDLL
    wand: ctypes.CDLL


@lru_cache(maxsize=1)
def magick_libraries() -> MagickLibraries:
    from wand.api import libmagick, library

    _declare(libmagick, DECLARATIONS["magickcore"])
    return MagickLibraries(core=libmagick, wand=library)


def library_versions() -> dict[str, str]:
    """The versions of the libraries that lay out and draw the captions (for the render key)."""
    libraries = text_libraries()
    return {
        "pango": libraries.pango.pango_version_string().decode(),
        "cairo": libraries.cairo.cairo_version_string().decode(),
        "harfbuzz": libraries.harfbuzz.hb_version_string().decode(),
    }
