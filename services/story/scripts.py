"""The writing system of text, letter by letter: which script a caption is in decides its fonts
(services/media/fonts.py) and, where one language owns the script, its language
(services/story/languages.py). One detector for both.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

# Unicode character names start with their script's name (HEBREW LETTER ALEF, THAI CHARACTER
# KO KAI...), which is all unicodedata tells about scripts. Some scripts go by other names.
_NAME_PREFIXES = [
    ("CJK UNIFIED IDEOGRAPH", "Han"),
    ("CJK COMPATIBILITY IDEOGRAPH", "Han"),
    ("HIRAGANA", "Kana"),
    ("KATAKANA", "Kana"),
    ("HALFWIDTH KATAKANA", "Kana"),
    ("HANGUL", "Hangul"),
    ("HALFWIDTH HANGUL", "Hangul"),
    ("LATIN", "Latin"),
    ("FULLWIDTH LATIN", "Latin"),
    ("ORIYA", "Oriya"),
    ("ETHIOPIC", "Ethiopic"),
]

# Chinese, Japanese and Korean: scripts whose characters take a language's forms when drawn.
CJK_SCRIPTS = frozenset({"Han", "Kana", "Hangul"})

# Japanese mixes kanji (Han) with kana; text is Japanese once this share of its Han and kana
# letters are kana (Chinese has none; Japanese prose has well over half).
_KANA_SHARE_FOR_JAPANESE = 0.05


def script_of(character: str) -> str | None:
    """The script of one letter ("Latin", "Han", "Kana", "Cyrillic"...), None for non-letters."""
    if not unicodedata.category(character).startswith("L"):
        return None
    name = unicodedata.name(character, "")
    for prefix, script in _NAME_PREFIXES:
        if name.startswith(prefix):
            return script
    first_word = name.split(" ", 1)[0].title()
    return first_word or None


def script_counts(texts: Iterable[str]) -> Counter[str]:
    """How many letters of each script the texts have."""
    return Counter(script for text in texts for script in map(script_of, text) if script)


def scripts_in(text: str) -> set[str]:
    """The scripts of the letters of one text."""
    return {script for script in map(script_of, set(text)) if script}


def deciding_script(texts: Iterable[str]) -> str | None:
    """The script of most of the texts' letters (Han with some kana counts as Kana: Japanese),
    or None when no script has a majority."""
    counts = script_counts(texts)
    kana, han = counts.pop("Kana", 0), counts.pop("Han", 0)
    if kana and kana >= _KANA_SHARE_FOR_JAPANESE * (kana + han):
        counts["Kana"] = kana + han
    elif han or kana:
        counts["Han"] = han + kana
    total = sum(counts.values())
    if not total:
        return None
    script, letters = counts.most_common(1)[0]
    return script if letters * 2 > total else None
