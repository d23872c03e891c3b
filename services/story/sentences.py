"""Where sentences end in a caption, per language: a full stop after "Mr.", "p.m.", "e.g.", an
initial or the "19." of a German date does not end one.

The boundaries come from sentencex (Wikimedia's rule-based segmenter: abbreviation lists for
about 300 languages, Chinese and Japanese marks, a fallback chain for languages it lacks). A small
table of our own adds what it misses on our held-out captions (bench/sentences.py): titles before
a name ("M. Lapin", "Dr. Hibou", "Vol. 2"), single-letter initials and a German ordinal after an
article or preposition ("im 19. Jahrhundert"); and an ellipsis before a capital letter ends a
sentence ("Wait… The door opened.").
"""

from __future__ import annotations

import re

import sentencex

# Words with a full stop that never end a sentence when a word follows, in any Latin-script
# language (titles before a name, a number's label), and per language. Lower case, no stop.
_NEVER_LAST_ANYWHERE = {"mr", "mrs", "ms", "dr", "prof", "st", "mt", "ca"}
_NEVER_LAST = {
    "en": {"capt", "col", "gen", "gov", "jr", "sr", "lt", "rev", "sgt", "ft", "fig", "approx"},
    # and the first letters of "z. B.", "d. h.", "u. a.", "v. a.", "o. ä."
    "de": {
        "hr",
        "fr",
        "str",
        "bzw",
        "vgl",
        "evtl",
        "inkl",
        "ggf",
        "geb",
        "abs",
        "z",
        "d",
        "u",
        "v",
        "o",
    },
    "fr": {"mme", "mlle", "mm", "me", "pr", "chap", "ste", "env", "cf"},
    "es": {"sr", "sra", "srta", "dra", "ud", "uds", "sto", "sta", "pág", "núm"},
    "it": {"sig", "sigg", "dott", "ing", "avv", "pag"},
    "nl": {"dhr", "mevr", "blz", "nr"},
    "pt": {"sr", "sra", "dra", "pág"},
}
# Labels that never end a sentence before a number ("No. 7", "Vol. 2", "S. 12", "chap. 3").
_BEFORE_NUMBER = {"no", "nr", "vol", "p", "pp", "s", "chap", "fig", "art", "bd", "n°"}
# German (and Danish, Norwegian...) write ordinals with a full stop: "am 3. Mai", "im 19.
# Jahrhundert". After one of these words a number with a stop is an ordinal, not an end.
_ORDINAL_AFTER = {
    "de": {"am", "im", "vom", "zum", "zur", "bis", "ab", "seit", "der", "die", "das", "dem", "den"},
    "da": {"den", "det", "til", "fra"},
    "nb": {"den", "det", "til", "fra"},
    "no": {"den", "det", "til", "fra"},
}

# Initials: "J.", "M.", "J.-P.", "J.R.R."; a single small letter: "p." of "p. m.", "h." of "8 h."
_INITIALS = re.compile(r"^(?:[^\W\d_]\.-?)+$")
_NUMBER_STOP = re.compile(r"^\d+\.$")
_ELLIPSIS_THEN_CAPITAL = re.compile(r"…[\"'»”’)\]]*\s+(?=[\"'«„“‘(\[]*[A-ZÀ-ÖØ-Þ])")
_OPENING = "\"'«„“‘([¿¡"


def _base(language: str | None) -> str:
    return (language or "en").split("-", 1)[0].lower()


def binds_to_next(previous: str, word: str, following: str, language: str | None) -> bool:
    """Whether `word` (after `previous`, before `following`) is an abbreviation that belongs
    with the word after it: no sentence ends after it, and no line or page should break there.
    Initials ("J. R. R. Tolkien", "M. Lapin"; a small letter only before a small word: "p. m.
    cuando"), a title before a name ("Mr. Badger", "Dr. Owl", "Mme. Lapin"), a label before a
    number ("No. 7", "S. 12") and, in German and the Nordic languages, an ordinal after an
    article or preposition ("am 3. Mai")."""
    code = _base(language)
    word = word.lstrip(_OPENING)
    if not word.endswith(".") or not following:
        return False
    stem = word[:-1].lower()
    if stem in _NEVER_LAST_ANYWHERE or stem in _NEVER_LAST.get(code, ()):
        return True
    if _INITIALS.match(word):
        return word[0].isupper() or not following[:1].isupper()
    if stem in _BEFORE_NUMBER and following[:1].isdigit():
        return True
    return bool(_NUMBER_STOP.match(word)) and previous.lower() in _ORDINAL_AFTER.get(code, ())


def sentence_starts(text: str, language: str | None = None) -> list[int]:
    """The offsets in `text` where a sentence after the first one starts (after any spaces)."""
    starts: set[int] = set()
    for boundary in sentencex.get_sentence_boundaries(_base(language), text):
        end = boundary["end_index"]
        if not 0 < end < len(text):
            continue
        *_, previous, word = ["", "", *text[max(0, end - 80) : end].split()]
        following = text[end : end + 40].split(" ", 1)[0]
        if not binds_to_next(previous, word, following, language):
            starts.add(end)
    for match in _ELLIPSIS_THEN_CAPITAL.finditer(text):
        starts.add(match.end())
    return sorted(starts)
