"""The caption paging before issue 19, kept as the benchmark's baseline (bench/captions.py): greedy
pages, Pango's lines as they come, a word wider than a line cut without a hyphen.

As it was in services/story/paging.py:

Pure functions over a `lines_of(text) -> lines` callable that wraps text to the frame (the product
passes Pango's own line breaking, services/pango_text.py; tests pass a simple fixed-width one).
A caption that wraps to more lines than allowed is split at sentence ends first, then at clause
marks (, ; : — – and their Arabic and CJK forms), then between words, and a word longer than a
page (Chinese, Japanese or Thai text has no spaces) at the line breaks `lines_of` chose, which
respect each script's rules and never cut a grapheme cluster. Consecutive pieces are packed back
together while they fit. No page is ever empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable

LinesOf = Callable[[str], list[str]]

# A sentence ends after . ! ? … (or the Arabic question mark and full stop, the Devanagari danda)
# and any closing quotes or brackets, followed by a space; or right after a CJK full stop, question
# or exclamation mark (CJK text puts no space after them).
_SENTENCE_END = re.compile(
    r"(?<=[.!?…؟۔।॥])[\"'»”’)\]]*\s+"
    r"|(?<=[。！？])(?![」』”’）])\s*"
    r"|(?<=[。！？][」』”’）])\s*"
)
# A clause ends after , ; : (or their Arabic and CJK forms), or before a spaced dash.
_CLAUSE_END = re.compile(r"(?<=[,;:،؛])\s+|(?<=[，、；：])\s*|\s+(?=[—–-]\s)")

_CLOSING_ONLY = re.compile(r"^[?!:;»”’)\]…,.]+$")
_OPENING_ONLY = re.compile(r"^[«„“‘(\[¿¡—–-]+$")


def _words(text: str) -> list[str]:
    """Words, with a lone punctuation mark kept on the line of the word it belongs to
    (French "va ?", "« Oui »"), joined by a no-break space."""
    words: list[str] = []
    pending_opening = ""
    for word in text.split():
        if _OPENING_ONLY.match(word) and not word.startswith(("—", "–", "-")):
            pending_opening += word + "\u00a0"
            continue
        word = pending_opening + word
        pending_opening = ""
        if words and _CLOSING_ONLY.match(word):
            words[-1] += "\u00a0" + word
        else:
            words.append(word)
    if pending_opening:
        words.append(pending_opening.rstrip("\u00a0"))
    return words


def _split_keeping(text: str, pattern: re.Pattern[str]) -> list[str]:
    pieces = [piece.strip() for piece in pattern.split(text)]
    return [piece for piece in pieces if piece]


def wrap(text: str, lines_of: LinesOf) -> list[str]:
    """The lines `text` is drawn in: where `lines_of` breaks it, except that a lone punctuation
    mark stays on the line of its word (French "va ?", "« Oui »": Unicode's rules allow a break
    inside "« Oui »")."""
    words = [
        # A word glued to its marks that is wider than the line is broken at its own spaces
        # rather than between letters.
        _spaced(word) if "\u00a0" in word and len(lines_of(word)) > 1 else word
        for word in _words(text)
    ]
    return [_spaced(line) for line in lines_of(" ".join(words))]


def _pack(pieces: list[str], fits: Callable[[str], bool], joiner: str = " ") -> list[str]:
    """Join consecutive pieces into as few pages as fit."""
    pages: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current}{joiner}{piece}" if current else piece
        if fits(candidate):
            current = candidate
        else:
            if current:
                pages.append(current)
            current = piece
    if current:
        pages.append(current)
    return pages


def paginate(text: str, lines_of: LinesOf, max_lines: int) -> list[str]:
    """The pages of one caption, in reading order. Each page wraps to at most `max_lines`."""
    text = " ".join(text.split())
    if not text:
        return []

    def fits(candidate: str) -> bool:
        return len(wrap(candidate, lines_of)) <= max_lines

    if fits(text):
        return [text]

    def split_to_fit(piece: str, level: int) -> list[str]:
        if fits(piece):
            return [piece]
        if level == 0:
            smaller = _split_keeping(piece, _SENTENCE_END)
        elif level == 1:
            smaller = _split_keeping(piece, _CLAUSE_END)
        elif level == 2:
            smaller = _words(piece)  # punctuation stays with its word
        else:
            # One "word" longer than a whole page (Chinese, Japanese, Thai text has no spaces):
            # split where its lines break.
            pieces = _cut_where_lines_break(piece, lines_of(piece))
            return [page.strip() for page in _pack(pieces, fits, joiner="")]
        if len(smaller) <= 1:
            return split_to_fit(piece, level + 1)
        pieces = [part for chunk in smaller for part in split_to_fit(chunk, level + 1)]
        return _pack(pieces, fits)

    return [_spaced(page) for page in split_to_fit(text, 0)]


def _cut_where_lines_break(text: str, lines: list[str]) -> list[str]:
    """`text` cut at the starts of its lines; a space it broke at stays with the piece before."""
    pieces: list[str] = []
    start = 0
    if lines:
        end = text.find(lines[0]) + len(lines[0])
        for line in lines[1:]:
            found = text.find(line, end)
            if found < 0:
                break
            pieces.append(text[start:found])
            start, end = found, found + len(line)
    pieces.append(text[start:])
    return [piece for piece in pieces if piece.strip()]


def _spaced(text: str) -> str:
    """Text as drawn: the no-break spaces that glue marks to words while paging are spaces."""
    return text.replace("\u00a0", " ")
