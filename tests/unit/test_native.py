"""Every native function the render declares (services/media/native.py), called for real.

One scenario does what the render does (lay out and draw caption text in several scripts, check
a damaged JPEG, resize a picture, tell a grey band from a coloured one), with every declared
function counted; then one test per function: it was called, with the declaration it has.
A wrong signature would crash here (or give wrong answers, which the scenario checks), not in a
render.
"""

from __future__ import annotations

import ctypes
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wand.image import Image

from services.media import native, pictures
from services.media.caption_drawing import _is_grey
from services.media.fonts import caption_text_font
from services.media.pango_text import PangoText

DECLARED = [
    (library, name) for library, functions in native.DECLARATIONS.items() for name, *_ in functions
]
WAND_DECLARED = [
    (library, name) for library, names in native.WAND_DECLARED.items() for name in names
]


def loaded(library: str) -> ctypes.CDLL:
    if library in ("magickcore", "magickwand"):
        magick = native.magick_libraries()
        return magick.core if library == "magickcore" else magick.wand
    return getattr(native.text_libraries(), library)


def counting(function: Any, name: str, calls: Counter[str]) -> Callable[..., Any]:
    def call(*arguments: Any) -> Any:
        calls[name] += 1
        return function(*arguments)

    return call


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Counter[str]:
    counted: Counter[str] = Counter()
    originals = []
    for library, name in DECLARED + WAND_DECLARED:
        handle = loaded(library)
        function = getattr(handle, name)
        originals.append((handle, name, function))
        setattr(handle, name, counting(function, name, counted))
    try:
        run_the_scenario(tmp_path_factory.mktemp("native"))
    finally:
        for handle, name, function in originals:
            setattr(handle, name, function)
    return counted


def run_the_scenario(folder: Path) -> None:
    for text, language in [
        ("The lighthouse cat counted every ship that passed.", None),
        ("كان القط يعد السفن التي تمر كل ليلة.", "ar"),
        ("แมวนับเรือทุกลำที่แล่นผ่านไป", "th"),
        ("灯塔上的猫数着每一艘经过的船。", "zh"),
    ]:
        font = caption_text_font(text, language)
        layout = PangoText(font.description, 24, font.language)
        try:
            lines = layout.lines(text, 200)
            assert len(lines) >= 2 and "".join(lines).replace(" ", "") == text.replace(" ", "")
            assert 0 < layout.width(lines[0]) <= 200
            assert layout.unknown_characters(text + "\ue000") == ["\ue000"]  # private use
            pixels = layout.draw_pixels(lines[0], (1.0, 1.0, 1.0, 1.0), 4)
            assert len(pixels.argb32) == pixels.width * pixels.height * 4
            assert max(pixels.argb32) == 255  # white, opaque glyph pixels
            assert layout.draw_png(lines[0], (1.0, 0.0, 0.0, 1.0), 4).startswith(b"\x89PNG")
        finally:
            layout.close()
    versions = native.library_versions()
    assert all(version[0].isdigit() for version in versions.values()), versions

    whole = folder / "whole.jpg"
    with Image(width=64, height=64, pseudo="gradient:red-blue") as image:
        image.format = "jpeg"
        image.save(filename=str(whole))
    cut = folder / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with Image(filename=str(whole)) as image:
        assert pictures._decoder_warning(image)[0] == 0
        pictures.resize(image, 20, 10, "triangle")
        assert image.size == (20, 10)
        assert not _is_grey(image)
    with Image(filename=str(cut)) as image:
        severity, reason = pictures._decoder_warning(image)
        assert severity > 0 and reason
    with Image(width=8, height=8, pseudo="gradient:black-white") as image:
        assert _is_grey(image)


@pytest.mark.parametrize(("library", "name"), DECLARED, ids=[name for _, name in DECLARED])
def test_each_declared_function_is_called_as_declared(
    library: str, name: str, calls: Counter[str]
) -> None:
    declared = {entry[0]: entry[1:] for entry in native.DECLARATIONS[library]}
    result, arguments = declared[name]
    function = getattr(loaded(library), name)
    assert function.restype == result and list(function.argtypes) == arguments
    assert calls[name] > 0, f"{name} was not called by the scenario"


@pytest.mark.parametrize(
    ("library", "name"), WAND_DECLARED, ids=[name for _, name in WAND_DECLARED]
)
def test_each_function_wand_declares_for_us_is_called(
    library: str, name: str, calls: Counter[str]
) -> None:
    assert getattr(loaded(library), name).argtypes is not None  # Wand declared it
    assert calls[name] > 0, f"{name} was not called by the scenario"
