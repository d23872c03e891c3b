"""Caption paging: wrap a caption to the frame, and split one too long to show at once into pages.

Pure functions over a `measure(text) -> width in pixels` callable, so they are tested without fonts.
A caption that wraps to more lines than allowed is split at sentence ends first, then at clause
marks (, ; : — –), then between words; consecutive pieces are packed back together while they fit.
No page is ever empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Measure = Callable[[str], float]

# A sentence ends after . ! ? … (and any closing quotes or brackets) followed by a space, or right
# after a CJK full stop, question or exclamation mark (CJK text puts no space after them).
_SENTENCE_END = re.compile(
    r"(?<=[.!?…])[\"'»”’)\]]*\s+"
    r"|(?<=[。！？])(?![」』”’）])\s*"
    r"|(?<=[。！？][」』”’）])\s*"
)
# A clause ends after , ; : (or their CJK forms), or before a spaced dash.
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|(?<=[，、；：])\s*|\s+(?=[—–-]\s)")

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


def _break_word(word: str, measure: Measure, max_width: float) -> list[str]:
    """Cut a word wider than the line into pieces that fit. A cut never leaves a space or a
    closing mark at the start of the next piece (a word glued to its marks is one "word")."""
    pieces: list[str] = []
    rest = word
    while rest:
        fit = 1
        while fit < len(rest) and measure(rest[: fit + 1]) <= max_width:
            fit += 1
        cut = fit
        while 1 < cut < len(rest) and (rest[cut].isspace() or _CLOSING_ONLY.match(rest[cut])):
            cut -= 1
        if cut <= 1 < fit:
            cut = fit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return pieces


def wrap(text: str, measure: Measure, max_width: float) -> list[str]:
    """Greedy word wrap. A word wider than the line is broken between characters."""
    lines: list[str] = []
    current = ""
    for word in _words(text):
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if measure(word) <= max_width:
            current = word
            continue
        # An over-long word (a URL, CJK text without spaces) is broken between characters.
        pieces = _break_word(word, measure, max_width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return [line.replace("\u00a0", " ") for line in lines]


def _split_keeping(text: str, pattern: re.Pattern[str]) -> list[str]:
    pieces = [piece.strip() for piece in pattern.split(text)]
    return [piece for piece in pieces if piece]


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


def paginate(text: str, measure: Measure, max_width: float, max_lines: int) -> list[str]:
    """The pages of one caption, in reading order. Each page wraps to at most `max_lines`."""
    text = " ".join(text.split())
    if not text:
        return []

    def fits(candidate: str) -> bool:
        return len(wrap(candidate, measure, max_width)) <= max_lines

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
            # One word longer than a whole page (CJK text has no spaces): split between characters.
            return _pack(list(piece), fits, joiner="")
        if len(smaller) <= 1:
            return split_to_fit(piece, level + 1)
        pieces = [part for chunk in smaller for part in split_to_fit(chunk, level + 1)]
        return _pack(pieces, fits)

    return [page.replace("\u00a0", " ") for page in split_to_fit(text, 0)]
