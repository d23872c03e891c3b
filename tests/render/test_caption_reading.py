"""Pages that read well, read back from the drawn pixels by OCR: no single word alone on a
page's last line where Pango's own lines left one, and a long German word hyphenated.

Pages are drawn as the caption stage draws them (`page_caption`, `compose_pages`) at 720x1080,
where the caption font is 45 px and tesseract reads each line; the lines are OCR's, not ours.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.media import caption_drawing, fonts, pictures
from tasks.captions import page_caption
from tests import media
from tests.stories import write_picture

WIDTH, HEIGHT = 720, 1080
LAYOUT = caption_drawing.caption_layout(WIDTH, HEIGHT, 3)
BAND = (LAYOUT.band_top, HEIGHT)

# Captions whose last line Pango alone leaves to one word at 720x1080 (checked below); the
# French one is read with the English model (no accents in it; tesseract-ocr-fra is not installed).
WIDOWED = [
    ("en", "eng", "The rabbit hopped over the fence and into the garden."),
    ("en", "eng", "Tom found a shiny shell on the beach near the rocks."),
    ("en", "eng", "When the rain stopped, the frogs began to sing together."),
    ("de", "deu", "Jeden Abend kamen die Sterne heraus, um zu spielen."),
    ("fr", "eng", "Une petite souris vivait dans le vieux piano du salon."),
]


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reading")
    write_picture(folder / "picture.png", (70, 110, 60), (320, 480))
    target = folder / "background.ppm"
    pictures.compose_background(folder / "picture.png", WIDTH, HEIGHT, target)
    return target


def ocr_lines(frame: media.Frame, language: str) -> list[list[str]]:
    """The words of each line OCR reads in the caption band."""
    seen = media.read_text(frame, *BAND, language)
    return [words for line in seen.splitlines() if (words := line.split())]


def draw(background: Path, lines: list[str], language: str, target: Path) -> media.Frame:
    font = fonts.caption_text_font(" ".join(lines), language)
    page = caption_drawing.CaptionText(tuple(lines), font)
    caption_drawing.compose_pages(background, [page], LAYOUT, [target])
    return media.read_png(target)


@pytest.mark.parametrize(("language", "ocr_language", "text"), WIDOWED)
def test_no_page_ends_with_a_single_word_line(
    background: Path, tmp_path: Path, language: str, ocr_language: str, text: str
) -> None:
    font = fonts.caption_text_font(text, language)
    pango_lines = caption_drawing.caption_lines_of(LAYOUT, font)(text)
    assert len(pango_lines) > 1 and len(pango_lines[-1].split()) == 1, pango_lines

    [page] = page_caption(text, LAYOUT, language)
    frame = draw(background, list(page.drawn.lines), language, tmp_path / "page.png")
    lines = ocr_lines(frame, ocr_language)
    assert len(lines) == len(pango_lines), lines  # as many lines as Pango's
    assert len(lines[-1]) >= 2, f"a single word alone on the last line: {lines}"
    assert media.text_similarity(" ".join(map(" ".join, lines)), text) >= 0.9, lines


def test_the_check_sees_a_single_word_line_in_pangos_own_lines(
    background: Path, tmp_path: Path
) -> None:
    """The same check on the lines as Pango broke them: OCR reads the lone last word."""
    language, ocr_language, text = WIDOWED[0]
    font = fonts.caption_text_font(text, language)
    pango_lines = caption_drawing.caption_lines_of(LAYOUT, font)(text)
    frame = draw(background, pango_lines, language, tmp_path / "pango.png")
    assert len(ocr_lines(frame, ocr_language)[-1]) == 1


def test_a_long_german_word_is_drawn_hyphenated(background: Path, tmp_path: Path) -> None:
    text = "Sie gewann den Schokoladenkuchenbackwettbewerb im Dorf."
    [page] = page_caption(text, LAYOUT, "de")
    frame = draw(background, list(page.drawn.lines), "de", tmp_path / "hyphen.png")
    lines = ocr_lines(frame, "deu")
    broken = [line[-1] for line in lines[:-1] if line[-1].endswith(("-", "—", "–"))]
    assert broken, f"no line ends with a hyphen: {lines}"
    joined = "".join(" ".join(line).rstrip("-—–") for line in lines)
    assert "Schokoladenkuchenbackwettbewerb" in joined.replace(" ", ""), lines
