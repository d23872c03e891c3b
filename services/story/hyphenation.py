"""Where a word too long for a caption line may be hyphenated, by the caption's language.

pyphen applies the hyphenation patterns LibreOffice ships (about 70 languages, among them en, de,
fr, es, it, nl, pt, ru, pl and the Nordic languages; GPL/LGPL/MPL, as LibreOffice's). A word is
only offered for hyphenation when it alone is wider than a line: children's captions otherwise
keep every word whole. Thai, Chinese and Japanese are never hyphenated (Pango breaks them between
words by dictionary or between characters); neither is a language pyphen has no patterns for.
Loading a language's patterns takes up to a second, once per process and language, and only when
a caption of that language has a word wider than a line.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache

import pyphen

# Scripts where a word broken across lines takes no hyphen.
_NEVER = {"th", "lo", "km", "my", "zh", "ja", "ko", "yue", "bo"}
# Letters kept together at the start and end of a word (one-letter pieces read badly).
_LEFT, _RIGHT = 2, 3

_loading = threading.Lock()


def _dictionary_name(language: str | None) -> str | None:
    if not language:
        return None
    tag = language.replace("-", "_")
    if tag.split("_", 1)[0].lower() in _NEVER:
        return None
    found: str | None = pyphen.language_fallback(tag)
    return found


@lru_cache(maxsize=32)
def _hyphenator(name: str) -> pyphen.Pyphen:
    with _loading:
        return pyphen.Pyphen(lang=name, left=_LEFT, right=_RIGHT)


def can_hyphenate(language: str | None) -> bool:
    """Whether words of this language (a BCP 47 tag) are hyphenated."""
    return _dictionary_name(language) is not None


def _is_letter(character: str) -> bool:
    return unicodedata.category(character)[0] in ("L", "M")


def hyphen_points(word: str, language: str | None) -> list[int]:
    """Offsets in `word` where it may be broken with a hyphen, in order; none when the language
    is not hyphenated. Marks around the word ("„Schokoladenkuchen“,") stay with its ends, and
    only a run of letters is hyphenated (a word with digits is not)."""
    name = _dictionary_name(language)
    if name is None:
        return []
    start = 0
    while start < len(word) and not _is_letter(word[start]):
        start += 1
    end = len(word)
    while end > start and not _is_letter(word[end - 1]):
        end -= 1
    core = word[start:end]
    if len(core) < _LEFT + _RIGHT or not all(_is_letter(character) for character in core):
        return []
    return [start + point for point in _hyphenator(name).positions(core)]
