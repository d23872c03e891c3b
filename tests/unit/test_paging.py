"""Caption paging: wrapping to the frame and splitting long captions into pages.

Most tests wrap text as a fixed-width font would (10 px a character), so expected pages can be
worked out by hand; the last groups wrap with Pango and the real fonts at real frame sizes, in
every script a story may be written in.
"""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from services.media import caption_drawing, fonts, pango_text
from services.story.lines import LinesOf
from services.story.paging import base_direction, keep_direction, paginate, wrap


def mono(width: float) -> LinesOf:
    """Lines of a font whose every character is 10 px wide: greedy at spaces, a word longer than
    the line cut between characters."""
    per_line = max(1, int(width // 10))

    def lines_of(text: str) -> list[str]:
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            if not word:
                continue
            candidate = f"{current} {word}" if current else word
            if len(candidate) <= per_line:
                current = candidate
                continue
            if current:
                lines.append(current)
            while len(word) > per_line:
                lines.append(word[:per_line])
                word = word[per_line:]
            current = word
        if current:
            lines.append(current)
        return lines

    return lines_of


# Marks that belong to the word before them (French puts a space before ? ! : ; » …).
CLOSING = set("?!:;»”’)]…,.")
OPENING = set("«„“‘([¿¡")


def lines_of(page: str, width: float) -> list[str]:
    return wrap(page, mono(width))


# --- wrap ---------------------------------------------------------------------------------------


def test_wrap_keeps_the_lines_it_is_given() -> None:
    assert wrap("the cat sat on the mat", mono(70)) == ["the cat", "sat on", "the mat"]
    assert wrap("short", mono(1000)) == ["short"]


@pytest.mark.parametrize(
    "text",
    [
        "Tu viens ? « Oui » dit-il !",
        "Qu’est-ce que c’est ? Je ne sais pas !",
        "« Bonjour » ; puis : « Au revoir » …",
        "¿ Qué pasa ? ¡ Nada !",
    ],
)
@pytest.mark.parametrize("width", [90, 120, 150, 200])
def test_wrap_never_strands_lone_punctuation_with_the_real_font(text: str, width: int) -> None:
    """Unicode's line breaking allows "« Bonjour" / "» ;" (Pango breaks there); we do not.
    Widths where every word with its marks ("« Bonjour » ;") fits on a line."""
    font = fonts.caption_text_font()
    measurer = pango_text.shared(font.description, 12)
    for line in wrap(text, lambda page: measurer.lines(page, width)):
        first, last = line.split()[0], line.split()[-1]
        assert not set(first) <= CLOSING, f"line starts with a lone {first!r}: {line!r}"
        assert not set(last) <= OPENING, f"line ends with a lone {last!r}: {line!r}"


def test_a_word_glued_to_its_marks_wider_than_the_line_breaks_at_its_spaces() -> None:
    font = fonts.caption_text_font()
    measurer = pango_text.shared(font.description, 12)
    width = measurer.width("« Bonjou")  # "« Bonjour" does not fit, "Bonjour" does
    lines = wrap("« Bonjour » ; puis", lambda page: measurer.lines(page, width))
    assert len(lines) >= 2
    assert any("Bonjour" in line for line in lines), f"the word is cut: {lines}"
    assert all(line == line.strip() for line in lines), lines


# --- paginate -----------------------------------------------------------------------------------


def test_a_caption_that_fits_is_one_page() -> None:
    assert paginate("  The cat\n sat.  ", mono(100), 3) == ["The cat sat."]


def test_blank_text_has_no_pages() -> None:
    assert paginate("", mono(100), 3) == []
    assert paginate(" \n\t ", mono(100), 3) == []


def test_long_caption_splits_at_sentence_ends() -> None:
    text = "The sun rose. Mira woke up early! Was it a dream? She ran outside."
    pages = paginate(text, mono(200), 1)
    assert pages == ["The sun rose.", "Mira woke up early!", "Was it a dream?", "She ran outside."]


def test_sentences_that_fit_together_share_a_page() -> None:
    """Shared evenly: greedy filling gave "One. Two. Three." / "Four." / "Five six seven eight."."""
    text = "One. Two. Three. Four. Five six seven eight."
    assert paginate(text, mono(210), 1) == ["One. Two.", "Three. Four.", "Five six seven eight."]


def test_a_long_sentence_splits_at_clause_marks_then_between_words() -> None:
    text = "When the storm came, the boats stayed home; the sea was grey and the sky was dark"
    assert paginate(text, mono(230), 1) == [
        "When the storm came,",
        "the boats stayed home;",
        "the sea was grey",  # rather than end a page on "and"
        "and the sky was dark",
    ]


def test_a_spaced_dash_is_a_clause_boundary() -> None:
    text = "She had one wish — to see the lighthouse again"
    pages = paginate(text, mono(200), 1)
    assert pages[0] == "She had one wish"
    assert pages[1].startswith("— to see")


def greedy_page_count(text: str, width: int, max_lines: int) -> int:
    """How many pages filling each page while the next word fits takes."""
    pages, current = 1, ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if len(lines_of(candidate, width)) > max_lines:
            pages, candidate = pages + 1, word
        current = candidate
    return pages


def test_text_without_marks_splits_between_words_into_even_pages() -> None:
    text = " ".join(f"word{i}" for i in range(40))
    pages = paginate(text, mono(120), 2)
    assert " ".join(pages) == text
    assert all(len(lines_of(page, 120)) <= 2 for page in pages)
    # As few pages as greedy filling, shared evenly: no page shorter than half the even share.
    assert len(pages) == greedy_page_count(text, 120, 2)
    share = len(text) / len(pages)
    assert min(len(page) for page in pages) >= share / 2, pages


def test_cjk_text_without_spaces_splits_between_characters() -> None:
    text = "从前有一座山山里有一座庙庙里有一个老和尚在给小和尚讲故事"
    pages = paginate(text, mono(50), 2)
    assert "".join(pages) == text
    assert all(1 <= len(page) <= 10 for page in pages)
    assert all(len(lines_of(page, 50)) <= 2 for page in pages)


def test_cjk_text_splits_at_its_own_sentence_marks() -> None:
    text = "这是第一句话。这是第二句话。"
    assert paginate(text, mono(80), 1) == ["这是第一句话。", "这是第二句话。"]


def test_pages_never_start_with_lone_closing_punctuation() -> None:
    text = "Tu viens ? « Oui » dit-il ! Alors ?"
    for page in paginate(text, mono(90), 1):
        assert page.split()[0] not in CLOSING, page
        assert page.split()[-1] not in OPENING, page


@pytest.mark.parametrize("text", ["…", "— — —", "?!", "« »"])
def test_punctuation_only_text_is_one_non_empty_page(text: str) -> None:
    pages = paginate(text, mono(100), 3)
    assert pages and all(page.strip() for page in pages)


def test_random_texts_always_fit_and_keep_every_word_in_order() -> None:
    rng = random.Random(7)
    vocabulary = (
        "a an the sea boat Mira lighthouse extraordinarily, storm. quiet; waves! why?".split()
    )
    for _ in range(300):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 60)))
        width, lines = rng.choice([(80, 1), (120, 2), (200, 3)])
        pages = paginate(text, mono(width), lines)
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


# One long caption per script, with its own sentence and clause marks.
SCRIPTS = {
    "arabic": "كان يا ما كان، في قديم الزمان، قطة صغيرة تعيش في منارة على شاطئ البحر. "
    "كانت تحب الأمواج كثيرا؛ وكل صباح تركض إلى الشاطئ وتعد القوارب. هل كان ذلك حلما؟ "
    "قال Tom إن عمره 12 سنة.",
    "hebrew": "פעם אחת, לפני הרבה שנים, חתול קטן גר במגדלור ליד הים. הוא אהב את הגלים; "
    "כל בוקר רץ אל החוף וספר את הסירות. האם זה היה חלום?",
    "hindi": "एक बार की बात है, समुद्र के किनारे एक प्रकाशस्तंभ में एक छोटी बिल्ली रहती थी। "
    "उसे लहरें बहुत पसंद थीं; हर सुबह वह किनारे पर दौड़ती और नावें गिनती थी। क्षत्रिय राजा मुस्कुराया।",
    "thai": "กาลครั้งหนึ่งนานมาแล้วมีแมวตัวเล็กอาศัยอยู่ในประภาคารริมทะเล "
    "มันชอบคลื่นมากทุกเช้ามันวิ่งไปที่ชายหาดและนับเรือที่แล่นผ่านไปมาอย่างมีความสุข",
    "chinese": "从前，有一只小猫住在海边的灯塔里。它很喜欢大海，每天早上都跑到海滩上数船只。"
    "有一天，暴风雨来了，天空变得漆黑，船只没有回家！",
    "traditional": "從前，有一隻小貓住在海邊的燈塔裡。牠很喜歡大海，每天早上都跑到海灘上數船隻。",
    "japanese": "むかしむかし、海のそばの灯台に小さな猫が住んでいました。猫は波が大好きで、"
    "毎朝浜辺へ走って船を数えました。ある日、嵐が来ました！",
    "korean": "옛날 옛적에 바닷가 등대에 작은 고양이가 살았어요. 고양이는 파도를 아주 좋아했어요; "
    "매일 아침 바닷가로 달려가 배를 세었어요. 어느 날 폭풍이 왔어요!",
    "greek": "Μια φορά κι έναν καιρό, σε ένα χωριό δίπλα στη θάλασσα, ζούσε μια μικρή γάτα. "
    "Αγαπούσε τα κύματα; κάθε πρωί έτρεχε στην ακτή.",
    "russian": "Жила-была маленькая кошка в маяке у моря. Она любила волны; каждое утро она "
    "бежала на берег и считала лодки. Однажды пришла буря!",
    "emoji": "The cat 😺 saw a ship 🚢 and waved 👋🏽! Then the family 👨‍👩‍👧 came home 🏠.",
}

# A line or page never starts inside a grapheme cluster: not with a combining mark, a joiner or
# a variation selector, and never ends on a joiner.
_CLUSTER_CONTINUATION = re.compile("^[\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff]")


def _starts_inside_a_cluster(text: str) -> bool:
    return bool(
        text
        and (
            unicodedata.category(text[0]).startswith("M")
            or _CLUSTER_CONTINUATION.match(text)
            or text.endswith("\u200d")
        )
    )


def _real_lines(
    width: int, height: int, text: str = ""
) -> tuple[caption_drawing.CaptionLayout, LinesOf]:
    """The layout of a frame size, and how `text` wraps in it (with the font chosen for it)."""
    layout = caption_drawing.caption_layout(width, height, 3)
    return layout, caption_drawing.caption_lines_of(layout, fonts.caption_text_font(text))


@pytest.mark.parametrize(("width", "height"), [(160, 240), (240, 360), (720, 1080), (1080, 1920)])
@pytest.mark.parametrize(
    "text", [LONG_CAPTION, ACCENTED, GERMAN, LONG_CAPTION * 3, *SCRIPTS.values()]
)
def test_real_font_pages_never_exceed_three_lines(width: int, height: int, text: str) -> None:
    layout, real_lines = _real_lines(width, height, text)
    measurer = pango_text.shared(fonts.caption_text_font(text).description, layout.font_size)
    pages = paginate(text, real_lines, layout.max_lines)
    assert pages and all(page.strip() for page in pages)
    # Nothing lost, nothing added: pages joined give the text (spaced scripts join with a space,
    # Chinese, Japanese and Thai split where there is none).
    assert "".join(pages).replace(" ", "") == text.replace(" ", "")
    for page in pages:
        page_lines = wrap(page, real_lines)
        assert 1 <= len(page_lines) <= 3, page_lines
        for line in page_lines:
            assert measurer.width(line) <= layout.text_width, line
            assert not _starts_inside_a_cluster(line), f"line cuts a cluster: {line!r}"
        assert not _starts_inside_a_cluster(page), f"page cuts a cluster: {page!r}"


def test_real_font_long_caption_pages_end_at_sentence_or_clause_marks() -> None:
    layout, real_lines = _real_lines(240, 360)
    pages = paginate(LONG_CAPTION, real_lines, layout.max_lines)
    assert len(pages) >= 4
    for page in pages[:-1]:
        assert re.search(r"[.!?;:,…]$", page) or pages[pages.index(page) + 1].startswith("—"), (
            f"page breaks mid-clause: {page!r}"
        )


@pytest.mark.parametrize(
    ("script", "marks"),
    [("arabic", "،؛.؟"), ("hindi", "।;,"), ("chinese", "，。！"), ("japanese", "、。！")],
)
def test_pages_of_other_scripts_end_at_their_own_sentence_and_clause_marks(
    script: str, marks: str
) -> None:
    layout, real_lines = _real_lines(240, 360, SCRIPTS[script])
    pages = paginate(SCRIPTS[script], real_lines, layout.max_lines)
    assert len(pages) >= 2, pages
    for page in pages[:-1]:
        assert page[-1] in marks, f"{script} page breaks mid-clause: {page!r}"


THAI_WORDS = ["แมว", "ตัว", "เล็ก", "อาศัย", "อยู่", "ใน", "ประภาคาร", "ริม", "ทะเล"]


@pytest.mark.parametrize("width", [160, 240, 480])
def test_thai_without_spaces_breaks_lines_and_pages_between_words(width: int) -> None:
    """Thai writes no space between words: Pango finds them with libthai's dictionary. Every
    line and page boundary falls between two of the words the text was made of."""
    text = "".join(THAI_WORDS * 6)
    boundaries = {0}
    for word in THAI_WORDS * 6:
        boundaries.add(max(boundaries) + len(word))
    layout, real_lines = _real_lines(width, width * 3 // 2)
    pages = paginate(text, real_lines, layout.max_lines)
    assert len(pages) >= 2 and "".join(pages) == text
    position = 0
    for page in pages:
        for line in wrap(page, real_lines):
            assert position in boundaries, f"line starts inside a word: {line!r}"
            position += len(line)
    assert position == len(text)


def test_a_long_run_of_emoji_sequences_and_accents_is_cut_between_clusters() -> None:
    layout, real_lines = _real_lines(160, 240)
    for text in ["👨‍👩‍👧" * 40, "e\u0301" * 80, "👋🏽" * 40]:
        pages = paginate(text, real_lines, layout.max_lines)
        assert len(pages) >= 2 and "".join(pages) == text
        for page in pages:
            assert not _starts_inside_a_cluster(page), page
            assert all(not _starts_inside_a_cluster(line) for line in wrap(page, real_lines))


# --- direction ----------------------------------------------------------------------------------


def test_base_direction_is_that_of_the_first_strong_character() -> None:
    assert base_direction("Hello שלום") == "ltr"
    assert base_direction("12 — שלום world") == "rtl"
    assert base_direction("قال Tom") == "rtl"
    assert base_direction("123 …") is None


def test_a_page_keeps_the_direction_of_its_caption() -> None:
    caption = "قال Tom إن عمره 12 سنة. Tom Sawyer قال ذلك."
    # The second page starts with a Latin name: a right-to-left mark keeps it right to left.
    assert keep_direction(["Tom Sawyer قال ذلك."], caption) == ["\u200fTom Sawyer قال ذلك."]
    assert keep_direction(["قال Tom", "إن عمره"], caption) == ["قال Tom", "إن عمره"]
    assert keep_direction(["שלום"], "Hello שלום") == ["\u200eשלום"]
    assert keep_direction(["Hello"], "Hello") == ["Hello"]
