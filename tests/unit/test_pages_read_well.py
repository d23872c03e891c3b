"""Pages that read well: sentence ends that know abbreviations, balanced pages, no single word
alone on a last line, hyphenated long words, short landscape lines.

The fixed-width tests wrap as a font whose every character is 10 px wide (`mono`), so a caption
can be made to fill a page exactly; the others wrap with Pango and the real caption font.
"""

from __future__ import annotations

import pytest

from services.media import caption_drawing, fonts
from services.story.hyphenation import hyphen_points
from services.story.lines import LinesOf
from services.story.paging import lay_out, paginate, wrap
from services.story.sentences import sentence_starts
from tests.unit.test_paging import LONG_CAPTION, SCRIPTS, greedy_page_count, lines_of, mono


def sentences(text: str, language: str) -> list[str]:
    cuts = [0, *sentence_starts(text, language), len(text)]
    return [text[start:end].strip() for start, end in zip(cuts, cuts[1:], strict=False)]


# --- sentence ends ------------------------------------------------------------------------------

SENTENCES = [
    ("en", ["At 5:30 p.m. the owls woke up.", "They flew to the barn."]),
    ("en", ["Mr. Badger lived under the old oak.", "He liked tea."]),
    ("en", ["Dr. Owl looked at the map.", "It was late."]),
    ("en", ["Bring something warm, e.g. a scarf.", "The night will be cold."]),
    ("en", ["The apples cost 3.50 a bag.", "Mira bought two."]),
    ("en", ["J. R. R. Tolkien wrote about hobbits.", "Mira loved his books."]),
    ("en", ["The race began at 10 a.m.", "Hare was already asleep."]),
    ("en", ["Tom was 5.", "His sister was 7."]),
    ("en", ["Wait…", "The door opened.", "Nobody was there."]),
    ("de", ["Sie brachte Obst mit, z. B. Äpfel.", "Das Picknick war lecker."]),
    ("de", ["Das Haus Nr. 5 war blau.", "Dort wohnte der Igel."]),
    ("de", ["Das war im 19. Jahrhundert.", "Damals gab es keine Autos."]),
    ("de", ["Herr Dr. Maus wohnte im Keller.", "Er mochte Käse."]),
    ("fr", ["M. Lapin habitait près du bois.", "Il aimait les carottes."]),
    ("fr", ["Mme Dupont ouvrit la porte.", "Le chat entra."]),
    ("fr", ["Le Dr. Hibou soigna la souris.", "Elle guérit vite."]),
    ("fr", ["Tu viens ?", "Oui, j'arrive !"]),
    ("es", ["La Dra. Luna curó al perro.", "Todos aplaudieron."]),
]


@pytest.mark.parametrize(("language", "expected"), SENTENCES)
def test_sentences_end_where_they_end_and_not_after_an_abbreviation(
    language: str, expected: list[str]
) -> None:
    assert sentences(" ".join(expected), language) == expected


def test_chinese_and_arabic_sentence_marks_end_sentences() -> None:
    assert sentences("这是第一句话。这是第二句话。", "zh") == ["这是第一句话。", "这是第二句话。"]
    assert sentences("هل كان ذلك حلما؟ قال Tom نعم.", "ar") == ["هل كان ذلك حلما؟", "قال Tom نعم."]


# Captions with an abbreviation that must not end a page (nor a line): the caption, and the
# words after which no page may end.
ABBREVIATED = [
    (
        "en",
        "At 5:30 p.m. the owls woke up and flew across the dark fields to where Mr. Badger "
        "and Dr. Owl waited with J. R. R. Tolkien, e.g. by the gate, and tea cost 3.50 a cup.",
        ["p.m.", "Mr.", "Dr.", "J.", "R.", "e.g.", "5:30"],
    ),
    (
        "de",
        "Sie brachte viel Obst mit, z. B. Äpfel und Birnen, und ging zum Haus Nr. 5 am 3. Mai, "
        "wo Herr Dr. Maus schon lange auf sie wartete.",
        ["z.", "B.", "Nr.", "3.", "Dr."],
    ),
    (
        "fr",
        "M. Lapin et Mme. Renard partirent à 17 h pour voir le Dr. Hibou qui habitait au bout "
        "du chemin, près de la rivière.",
        ["M.", "Mme.", "Dr.", "17"],
    ),
]


@pytest.mark.parametrize(("language", "text", "never_last"), ABBREVIATED)
@pytest.mark.parametrize("max_lines", [1, 2, 3])
def test_no_page_ends_after_an_abbreviation_initial_or_time(
    language: str, text: str, never_last: list[str], max_lines: int
) -> None:
    """At every line width from 17 characters ("J. R. R. Tolkien,") to 40."""
    for width in range(170, 410, 10):
        pages = paginate(text, mono(width), max_lines, language)
        assert " ".join(pages) == text
        for page in pages[:-1]:
            assert page.split()[-1] not in never_last, f"{width} px: page ends {page!r}"
            for line in wrap(page, mono(width), language)[:-1]:
                last = line.split()[-1]
                assert last not in never_last or last in ("e.g.", "p.m."), f"line {line!r}"


@pytest.mark.parametrize(("language", "text", "never_last"), ABBREVIATED)
@pytest.mark.parametrize(("width", "height"), [(240, 360), (480, 720), (1280, 720)])
def test_with_the_real_font_no_page_or_line_ends_on_a_title_or_initial(
    language: str, text: str, never_last: list[str], width: int, height: int
) -> None:
    layout, real_lines = real(width, height, text, language)
    titles = {"Mr.", "Dr.", "J.", "R.", "z.", "Nr.", "M.", "Mme."}
    for page in lay_out(text, real_lines, layout.max_lines, language):
        assert page.text.split()[-1] not in never_last or page.text == text, page.text
        for line in page.lines[:-1]:
            assert line.split()[-1] not in titles, f"line ends on a title: {page.lines}"


# --- balanced pages -----------------------------------------------------------------------------


def test_once_upon_a_time_is_not_a_page_of_its_own() -> None:
    """The issue's case at 1280x720 before lines were shortened: 65 characters a line, a clause
    that fills three lines after "Once upon a time,". Greedy filling showed "Once upon a time,"
    alone for a second, then three full lines."""
    opening = "Once upon a time,"
    clause = (
        "a small grey cat lived in the tall white lighthouse on the hill above the harbour "
        "where she watched the fishing boats come and go with the tide and counted the gulls on "
        "the rocks below her"
    )
    text = f"{opening} {clause}."
    width = 650  # 65 characters a line
    assert len(lines_of(clause + ".", width)) == 3 and len(lines_of(text, width)) == 4
    pages = paginate(text, mono(width), 3)
    assert pages[0] != opening
    assert len(pages) == 2
    share = len(text) / len(pages)
    assert min(len(page) for page in pages) >= share / 2, pages


def test_pages_end_at_sentence_ends_when_the_pages_stay_even() -> None:
    text = (
        "The sea was calm. Mira rowed out past the rocks. The gulls followed her boat all the "
        "way. Then the fog came in."
    )
    pages = paginate(text, mono(250), 2)
    assert all(page.endswith(".") for page in pages), pages


@pytest.mark.parametrize("seed", range(6))
def test_plain_words_share_the_fewest_pages_evenly(seed: int) -> None:
    """The rule: as few pages as greedy filling, none shorter than half the even share."""
    import random

    rng = random.Random(seed)
    words = "sea boat sky whale seagull harbour rope sail lantern island".split()
    text = " ".join(rng.choice(words) for _ in range(rng.randint(30, 90)))
    width, max_lines = rng.choice([(120, 2), (200, 3), (250, 1)])
    pages = paginate(text, mono(width), max_lines)
    assert len(pages) == greedy_page_count(text, width, max_lines)
    share = len(text) / len(pages)
    assert min(len(page) for page in pages) >= share / 2, pages


@pytest.mark.parametrize(("width", "height"), [(240, 360), (720, 1080), (1280, 720)])
def test_real_font_pages_of_a_long_caption_are_not_tiny(width: int, height: int) -> None:
    layout, real_lines = real(width, height, LONG_CAPTION, "en")
    pages = [page.text for page in lay_out(LONG_CAPTION, real_lines, layout.max_lines, "en")]
    share = len(LONG_CAPTION) / len(pages)
    assert min(len(page) for page in pages) >= share / 2, pages


# --- a single word alone on the last line -------------------------------------------------------

# Captions whose last line Pango leaves to a single word at some of these frame sizes.
WIDOWS = [
    ("en", "The rabbit hopped over the fence and into the garden."),
    ("en", "The owl opened one eye and looked at the moon."),
    ("en", "Tom found a shiny shell on the beach near the rocks."),
    ("en", "The kitten chased a butterfly all around the garden."),
    ("en", "Sophie painted a picture of her dog for her grandmother."),
    ("en", "When the rain stopped, the frogs began to sing together."),
    ("en", "Under the bridge lived a troll who loved to sing lullabies."),
    ("de", "Jeden Abend kamen die Sterne heraus, um zu spielen."),
    ("de", "Die Eule öffnete ein Auge und sah den Mond an."),
    ("de", "Der Riese nieste so laut, dass das ganze Dorf aufwachte."),
    ("fr", "Une petite souris vivait dans le vieux piano du salon."),
]


def real(
    width: int, height: int, text: str, language: str | None = None
) -> tuple[caption_drawing.CaptionLayout, LinesOf]:
    layout = caption_drawing.caption_layout(width, height, 3)
    font = fonts.caption_text_font(text, language)
    return layout, caption_drawing.caption_lines_of(layout, font)


def words_of(line: str) -> int:
    return sum(1 for word in line.split() if any(character.isalnum() for character in word))


def test_no_single_word_alone_on_a_last_line_where_pango_left_one() -> None:
    widows_before = widows_after = 0
    for width, height in [(240, 360), (480, 720), (720, 1080)]:
        for language, text in WIDOWS:
            layout, real_lines = real(width, height, text, language)
            before = real_lines(text)
            widows_before += len(before) > 1 and words_of(before[-1]) == 1
            for page in lay_out(text, real_lines, layout.max_lines, language):
                if len(page.lines) > 1 and words_of(page.lines[-1]) == 1:
                    widows_after += 1
                # Still Pango's lines: each stays one line, in order, all words kept.
                assert all(real_lines(line) == [line] for line in page.lines), page.lines
                assert " ".join(page.lines) == page.text
                assert len(page.lines) == len(real_lines(page.text))
    assert widows_before >= 15  # the set has widows to avoid (counted: 25)
    assert widows_after == 0


def test_a_widow_stays_when_it_cannot_be_avoided() -> None:
    """Two long words: the second cannot join the first's line."""
    assert wrap("extraordinarily unbelievable", mono(160)) == ["extraordinarily", "unbelievable"]


# --- hyphenation --------------------------------------------------------------------------------

LONG_WORDS = [
    ("de", "Sie gewann den Schokoladenkuchenbackwettbewerb.", "Schokoladenkuchenbackwettbewerb"),
    (
        "de",
        "Die Donaudampfschifffahrtsgesellschaft fuhr los.",
        "Donaudampfschifffahrtsgesellschaft",
    ),
    ("en", "Antidisestablishmentarianism is a long word.", "Antidisestablishmentarianism"),
    ("fr", "C'était anticonstitutionnellement interdit.", "anticonstitutionnellement"),
]


@pytest.mark.parametrize(("language", "text", "word"), LONG_WORDS)
@pytest.mark.parametrize(("width", "height"), [(240, 360), (480, 720)])
def test_a_word_wider_than_a_line_is_hyphenated_at_a_syllable(
    language: str, text: str, word: str, width: int, height: int
) -> None:
    layout, real_lines = real(width, height, text, language)
    assert len(real_lines(word)) > 1, "the word fits a line: nothing to hyphenate"
    [page] = lay_out(text, real_lines, layout.max_lines, language)
    assert page.text == text  # narrated whole, without hyphens
    broken = [index for index, line in enumerate(page.lines) if line.endswith("-")]
    assert broken, f"no hyphen: {page.lines}"
    points, position = set(hyphen_points(word, language)), 0
    for index in broken:
        piece = page.lines[index].split()[-1][:-1]
        position = word.index(piece, position) + len(piece) if piece in word else -1
        assert position in points, f"{page.lines} breaks {word!r} off its syllables"
    joined = "".join(line[:-1] if line.endswith("-") else line + " " for line in page.lines)
    assert joined.strip() == text


def test_words_that_fit_are_not_hyphenated_and_thai_or_chinese_never_are() -> None:
    layout, real_lines = real(240, 360, LONG_CAPTION, "en")
    for page in lay_out(LONG_CAPTION, real_lines, 3, "en"):
        assert not any(line.endswith("-") for line in page.lines), page.lines
    for name, language in [("thai", "th"), ("chinese", "zh"), ("japanese", "ja")]:
        layout, real_lines = real(240, 360, SCRIPTS[name], language)
        for page in lay_out(SCRIPTS[name], real_lines, 3, language):
            assert not any(line.endswith("-") for line in page.lines), page.lines


def test_hyphen_points_follow_the_language() -> None:
    word = "Schokoladenkuchenbackwettbewerb"
    assert "Schokoladen" in [word[:point] for point in hyphen_points(word, "de")]
    assert hyphen_points(word, None) == []
    assert hyphen_points("กาลครั้งหนึ่ง", "th") == []
    assert hyphen_points("„Schokoladenkuchen“,", "de")[0] >= 3  # marks stay with the ends


# --- landscape line length ----------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080), (854, 480)])
def test_landscape_lines_hold_about_forty_characters(width: int, height: int) -> None:
    layout, real_lines = real(width, height, LONG_CAPTION, "en")
    lines = [line for page in lay_out(LONG_CAPTION, real_lines, 3, "en") for line in page.lines]
    assert max(len(line) for line in lines) <= 42, lines
    assert sum(len(line) for line in lines) / len(lines) >= 25, lines  # still well filled


def test_portrait_lines_keep_the_frame_width() -> None:
    for width, height in [(720, 1080), (480, 720), (1080, 1920)]:
        layout = caption_drawing.caption_layout(width, height, 3)
        assert layout.text_width == round(width * (1 - 2 * caption_drawing.SAFE_MARGIN_ACROSS))
