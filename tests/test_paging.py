"""Caption paging: wrapping to the frame and splitting long captions into pages.

Most tests measure text with a fixed width per character, so expected pages can be worked out by
hand; the last group uses the real caption font at real frame sizes.
"""

from __future__ import annotations

import random
import re

import pytest

from services import imaging
from services.paging import paginate, wrap


def chars(text: str) -> float:
    """Every character is 10 px wide."""
    return 10.0 * len(text)


# Marks that belong to the word before them (French puts a space before ? ! : ; » …).
CLOSING = set("?!:;»”’)]…,.")
OPENING = set("«„“‘([¿¡")


def lines_of(page: str, width: float, measure=chars) -> list[str]:
    return wrap(page, measure, width)


# --- wrap ---------------------------------------------------------------------------------------


def test_wrap_is_greedy_and_keeps_words_whole() -> None:
    assert wrap("the cat sat on the mat", chars, 70) == ["the cat", "sat on", "the mat"]
    assert wrap("short", chars, 1000) == ["short"]


def test_wrap_breaks_a_word_longer_than_the_line_between_characters() -> None:
    assert wrap("see https://example.org/x", chars, 100) == ["see", "https://ex", "ample.org/", "x"]


@pytest.mark.parametrize(
    "text",
    [
        "Tu viens ? « Oui » dit-il !",
        "Qu’est-ce que c’est ? Je ne sais pas !",
        "« Bonjour » ; puis : « Au revoir » …",
        "¿ Qué pasa ? ¡ Nada !",
    ],
)
@pytest.mark.parametrize("width", [130, 160, 200, 250])
def test_wrap_never_strands_lone_punctuation(text: str, width: int) -> None:
    """Widths where every word with its marks ("« Bonjour » ;") fits on a line."""
    for line in wrap(text, chars, width):
        first, last = line.split()[0], line.split()[-1]
        assert not set(first) <= CLOSING, f"line starts with a lone {first!r}: {line!r}"
        assert not set(last) <= OPENING, f"line ends with a lone {last!r}: {line!r}"


def test_wrap_of_a_word_with_marks_wider_than_the_line_breaks_at_the_marks() -> None:
    # "« Bonjour » ;" is 13 characters, the line 9: it must break, but at its spaces.
    for line in wrap("« Bonjour » ; puis", chars, 90):
        assert line == line.strip(), f"line with a stray space: {line!r}"
        assert not set(line.split()[0]) <= CLOSING, f"line starts with a lone mark: {line!r}"


# --- paginate -----------------------------------------------------------------------------------


def test_a_caption_that_fits_is_one_page() -> None:
    assert paginate("  The cat\n sat.  ", chars, 100, 3) == ["The cat sat."]


def test_blank_text_has_no_pages() -> None:
    assert paginate("", chars, 100, 3) == []
    assert paginate(" \n\t ", chars, 100, 3) == []


def test_long_caption_splits_at_sentence_ends() -> None:
    text = "The sun rose. Mira woke up early! Was it a dream? She ran outside."
    pages = paginate(text, chars, 200, 1)
    assert pages == ["The sun rose.", "Mira woke up early!", "Was it a dream?", "She ran outside."]


def test_sentences_that_fit_together_share_a_page() -> None:
    text = "One. Two. Three. Four. Five six seven eight."
    assert paginate(text, chars, 210, 1) == ["One. Two. Three.", "Four.", "Five six seven eight."]


def test_a_long_sentence_splits_at_clause_marks_then_between_words() -> None:
    text = "When the storm came, the boats stayed home; the sea was grey and the sky was dark"
    assert paginate(text, chars, 230, 1) == [
        "When the storm came,",
        "the boats stayed home;",
        "the sea was grey and",
        "the sky was dark",
    ]


def test_a_spaced_dash_is_a_clause_boundary() -> None:
    text = "She had one wish — to see the lighthouse again"
    pages = paginate(text, chars, 200, 1)
    assert pages[0] == "She had one wish"
    assert pages[1].startswith("— to see")


def test_text_without_marks_splits_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(40))
    pages = paginate(text, chars, 120, 2)
    assert " ".join(pages) == text
    assert all(len(lines_of(page, 120)) <= 2 for page in pages)
    # Greedy: every page but the last is full (one more word would not fit).
    words = text.split()
    used = 0
    for page in pages[:-1]:
        used += len(page.split())
        assert len(lines_of(f"{page} {words[used]}", 120)) > 2


def test_cjk_text_without_spaces_splits_between_characters() -> None:
    text = "从前有一座山山里有一座庙庙里有一个老和尚在给小和尚讲故事"
    pages = paginate(text, chars, 50, 2)
    assert "".join(pages) == text
    assert all(1 <= len(page) <= 10 for page in pages)
    assert all(len(lines_of(page, 50)) <= 2 for page in pages)


def test_cjk_text_splits_at_its_own_sentence_marks() -> None:
    text = "这是第一句话。这是第二句话。"
    assert paginate(text, chars, 80, 1) == ["这是第一句话。", "这是第二句话。"]


def test_pages_never_start_with_lone_closing_punctuation() -> None:
    text = "Tu viens ? « Oui » dit-il ! Alors ?"
    for page in paginate(text, chars, 90, 1):
        assert page.split()[0] not in CLOSING, page
        assert page.split()[-1] not in OPENING, page


@pytest.mark.parametrize("text", ["…", "— — —", "?!", "« »"])
def test_punctuation_only_text_is_one_non_empty_page(text: str) -> None:
    pages = paginate(text, chars, 100, 3)
    assert pages and all(page.strip() for page in pages)


def test_random_texts_always_fit_and_keep_every_word_in_order() -> None:
    rng = random.Random(7)
    vocabulary = (
        "a an the sea boat Mira lighthouse extraordinarily, storm. quiet; waves! why?".split()
    )
    for _ in range(300):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 60)))
        width, lines = rng.choice([(80, 1), (120, 2), (200, 3)])
        pages = paginate(text, chars, width, lines)
        assert pages, text
        assert all(page.strip() for page in pages), text
        assert " ".join(pages).replace(" ", "") == text.replace(" ", ""), text
        assert all(len(lines_of(page, width)) <= lines for page in pages), text


# --- with the real font -------------------------------------------------------------------------

LONG_CAPTION = (
    "Once upon a time, in a quiet village by the sea, there lived a girl named Mira. "
    "She loved the waves more than anything; every morning she ran down to the shore, "
    "counted the boats, and waved at the fishermen. One day a storm came. "
    "The sky turned black — the wind howled — and the boats did not come home!"
)
ACCENTED = "Zoë’s café served crème brûlée; «déjà vu», said Ångström — naïve, isn’t it…?"
GERMAN = "Über den Bäumen flog die Möwe, und die Straße glänzte im Regen. „Schön!“ rief sie."


@pytest.fixture(scope="module")
def font() -> str:
    return imaging.caption_font()


@pytest.mark.parametrize(("width", "height"), [(160, 240), (240, 360), (720, 1080), (1080, 1920)])
@pytest.mark.parametrize("text", [LONG_CAPTION, ACCENTED, GERMAN, LONG_CAPTION * 3])
def test_real_font_pages_never_exceed_three_lines(
    font: str, width: int, height: int, text: str
) -> None:
    layout = imaging.caption_layout(width, height, 3)
    measure = imaging.TextMeasurer(font, layout.font_size)
    pages = paginate(text, measure, layout.text_width, layout.max_lines)
    assert pages and all(page.strip() for page in pages)
    assert " ".join(pages) == " ".join(text.split())
    for page in pages:
        page_lines = wrap(page, measure, layout.text_width)
        assert 1 <= len(page_lines) <= 3, page_lines
        assert all(measure(line) <= layout.text_width for line in page_lines), page_lines


def test_real_font_long_caption_pages_end_at_sentence_or_clause_marks(font: str) -> None:
    layout = imaging.caption_layout(240, 360, 3)
    measure = imaging.TextMeasurer(font, layout.font_size)
    pages = paginate(LONG_CAPTION, measure, layout.text_width, layout.max_lines)
    assert len(pages) >= 4
    for page in pages[:-1]:
        assert re.search(r"[.!?;:,…]$", page) or pages[pages.index(page) + 1].startswith("—"), (
            f"page breaks mid-clause: {page!r}"
        )


def test_measurer_sees_accents_and_typographic_marks(font: str) -> None:
    measure = imaging.TextMeasurer(font, 30)
    for char in "ëéèêàâçîïôûüÅåßÖÄ’‘“”«»„…—–":
        assert measure(f"x{char}x") > measure("xx"), char
