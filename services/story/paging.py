"""Caption paging: split a caption too long to show at once into pages, each narrated on its own,
and the lines each page is drawn in.

Pure functions over a `lines_of(text) -> lines` callable that wraps text to the frame (the product
passes Pango's own line breaking, services/media/pango_text.py; tests pass a simple fixed-width
one). The lines a page is drawn in are Pango's, with two changes made before they are drawn (so
paging and drawing use the same lines): a word wider than a line is hyphenated at a syllable of
the caption's language (services/story/hyphenation.py) instead of being cut between letters, and
a single word alone on a page's last line is avoided by setting the page's lines again
(services/story/lines.py).

A caption is cut into tokens: words, with a lone punctuation mark kept with its word (French
"va ?", "« Oui »"), an abbreviation, initial or number kept with the word after it ("Mr. Badger",
"J. R. R. Tolkien", "5:30 p.m.", "Nr. 5"), and Chinese or Japanese text cut at its own sentence
and clause marks. Sentence ends come from services/story/sentences.py. A page break may fall
between any two tokens; a token longer than a whole page (Chinese, Japanese or Thai text has no
spaces) is cut where its lines break, which respects each script's rules and never cuts a
grapheme cluster. No page is ever empty.

Balanced pages: the cut of least cost is taken, where every page costs 1 (a page turn) plus,
when it is shorter than the even share (the caption's length over its number of pages), the
square of its shortfall as a fraction of the share, and 2 more under half the share; and every
page break costs by where it falls: nothing at a sentence end, a little at a clause end (, ; :
! ? or a dash), more between two words (a little more after a short word like "the"), more
inside a token, most after a lone dash or an abbreviation. So pages end at sentence or clause
ends unless that leaves a page under half the share, and "Once upon a time," is not a page of
its own while the next holds three full lines.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from typing import Literal

from services.story.hyphenation import hyphen_points
from services.story.lines import GLUE, SOFT_HYPHEN, LinesOf, finished
from services.story.sentences import binds_to_next, sentence_starts

# Chinese and Japanese put no space after their marks: a token is cut after a sentence mark
# (and the closing quote after it) and after a clause mark.
_CJK_SENTENCE = re.compile(r"(?<=[。！？])(?![」』”’）])|(?<=[。！？][」』”’）])")
_CJK_CLAUSE = re.compile(r"(?<=[，、；：])")
_CLOSING_ONLY = re.compile(r"^[?!:;»”’)\]…,.]+$")
_OPENING_ONLY = re.compile(r"^[«„“‘(\[¿¡]+$")
_DASH_ONLY = re.compile(r"^[—–-]+$")
_CLAUSE_MARK = re.compile(r"[,;:،؛，、；：!?¡¿…؟]+[\"'»”’)\]」』）]*$")
_NUMBER = re.compile(r"\d")

# What a page costs (see the module's docstring): a page turn, a page shorter than the even share
# (the text shared evenly over the fewest pages) the square of its shortfall, more when it is
# under a third of it; a page break by where it falls.
_PER_PAGE = 1.0
_TINY_PAGE = 2.0
_AT_SENTENCE_END = 0.0
_AT_CLAUSE_END = 0.3
_BETWEEN_WORDS = 2.0
_AFTER_SHORT_WORD = 0.3  # added when the page would end on a word of up to three letters
_INSIDE_TOKEN = 3.0
_AFTER_DASH = 5.0  # a page ending on a lone dash
_AFTER_ABBREVIATION = 8.0  # a page ending on a stop that ends no sentence


@dataclass(frozen=True)
class _Token:
    start: int  # offsets in the caption's text
    end: int
    drawn: str  # as laid out: glued by no-break spaces, maybe with soft hyphens
    break_cost: float = _BETWEEN_WORDS  # of a page ending after it


@dataclass(frozen=True)
class PageLines:
    """One page: the text it narrates and the lines it is drawn in."""

    text: str
    lines: list[str]


class _Caption:
    """A caption's tokens and how they lay out (`lines_of`)."""

    def __init__(self, text: str, lines_of: LinesOf, language: str | None):
        self.text = text
        self.lines_of = lines_of
        self.language = language
        self.tokens = _tokens(text, language)

    def drawn(self, first: int, stop: int) -> str:
        """Tokens `first` to `stop` (excluded) as laid out."""
        tokens = self.tokens
        parts = [tokens[first].drawn]
        for index in range(first + 1, stop):
            parts.append(self.text[tokens[index - 1].end : tokens[index].start])
            parts.append(tokens[index].drawn)
        return "".join(parts)

    def page_text(self, first: int, stop: int) -> str:
        return self.text[self.tokens[first].start : self.tokens[stop - 1].end]

    def fit_tokens(self, max_lines: int | None) -> list[str]:
        """Tokens too wide for a line: unglued, hyphenated, and (too long for a page of
        `max_lines`) cut where their lines break. Returns the caption's lines laid out whole."""
        lines = self.lines_of(self.drawn(0, len(self.tokens)))
        straddling = _straddling(self.drawn(0, len(self.tokens)), lines, self.offsets())
        if not straddling:
            return lines
        fitted: list[_Token] = []
        for index, token in enumerate(self.tokens):
            if index not in straddling or len(self.lines_of(token.drawn)) <= 1:
                fitted.append(token)
                continue
            token = replace(token, drawn=self._fit_in_lines(token.drawn))
            if max_lines is not None and len(self.lines_of(token.drawn)) > max_lines:
                fitted.extend(self._cut(token))
            else:
                fitted.append(token)
        self.tokens = fitted
        return self.lines_of(self.drawn(0, len(self.tokens)))

    def offsets(self) -> list[tuple[int, int]]:
        """Where each token is in `drawn(0, len(tokens))`."""
        offsets, position = [], 0
        for index, token in enumerate(self.tokens):
            if index:
                position += token.start - self.tokens[index - 1].end
            offsets.append((position, position + len(token.drawn)))
            position += len(token.drawn)
        return offsets

    def _one_line(self, text: str) -> bool:
        return len(self.lines_of(text)) <= 1

    def _fit_in_lines(self, drawn: str) -> str:
        """A token wider than a line: its glued words apart again, and each word still wider
        than a line hyphenated where it fits."""
        words = drawn.replace(GLUE, " ").split(" ")
        return " ".join(word if self._one_line(word) else self._hyphenated(word) for word in words)

    def _hyphenated(self, word: str) -> str:
        """The word with a soft hyphen at each point where its language allows a break: Pango
        then breaks at the last one that fits, and a hyphen is drawn there."""
        points = hyphen_points(word, self.language)
        pieces = [word[a:b] for a, b in zip([0, *points], [*points, len(word)], strict=True)]
        return SOFT_HYPHEN.join(pieces)

    def _cut(self, token: _Token) -> list[_Token]:
        """A token longer than a page, cut where its lines break (without hyphens)."""
        plain = token.drawn.replace(SOFT_HYPHEN, "")
        pieces: list[_Token] = []
        for start, end in _cut_where_lines_break(plain, self.lines_of(plain)):
            piece = plain[start:end]
            stripped = piece.rstrip()
            pieces.append(
                _Token(
                    token.start + start,
                    token.start + start + len(stripped),
                    stripped,
                    _INSIDE_TOKEN,
                )
            )
        return [*pieces[:-1], replace(pieces[-1], break_cost=token.break_cost)]


def _straddling(drawn: str, lines: list[str], offsets: list[tuple[int, int]]) -> set[int]:
    """Indexes of the tokens a line break falls inside of."""
    breaks, position = [], 0
    for line in lines:
        found = drawn.find(line, position)
        if found < 0:
            break
        if position:
            breaks.append(found)
        position = found + len(line)
    inside = set()
    for index, (start, end) in enumerate(offsets):
        after = bisect_right(breaks, start)
        if after < len(breaks) and breaks[after] < end:
            inside.add(index)
    return inside


_CJK_MARKS = frozenset("。！？，、；：")


def _raw_pieces(text: str) -> list[tuple[int, int, float]]:
    """Words (runs without spaces) cut at Chinese and Japanese marks: start, end, and the cost
    of a page break after each, when it is one of those marks."""
    pieces: list[tuple[int, int, float]] = []
    start = 0
    for word in text.split(" "):
        if _CJK_MARKS.isdisjoint(word):
            pieces.append((start, start + len(word), _BETWEEN_WORDS))
            start += len(word) + 1
            continue
        cuts: dict[int, float] = {}
        for position in (m.start() for m in _CJK_SENTENCE.finditer(word)):
            cuts[position] = _AT_SENTENCE_END
        for position in (m.start() for m in _CJK_CLAUSE.finditer(word)):
            cuts.setdefault(position, _AT_CLAUSE_END)
        previous = 0
        for position in sorted(cut for cut in cuts if 0 < cut < len(word)):
            pieces.append((start + previous, start + position, cuts[position]))
            previous = position
        pieces.append((start + previous, start + len(word), _BETWEEN_WORDS))
        start += len(word) + 1
    return pieces


def _any_between(ordered: list[int], low: int, high: int) -> bool:
    """Whether the sorted `ordered` has a value from `low` to `high`."""
    index = bisect_left(ordered, low)
    return index < len(ordered) and ordered[index] <= high


def _tokens(text: str, language: str | None) -> list[_Token]:
    """The caption's tokens (see the module's docstring). `text` has single spaces only."""
    starts = sentence_starts(text, language)
    merged: list[list[int]] = []  # start, end
    pending: int | None = None  # start of opening marks waiting for their word
    marks: dict[int, float] = {}  # piece end -> cost of a break there (CJK marks)
    for start, end, cost in _raw_pieces(text):
        word = text[start:end]
        marks[end] = cost
        if _OPENING_ONLY.match(word):
            pending = start if pending is None else pending
            continue
        if merged and pending is None and _CLOSING_ONLY.match(word):
            merged[-1][1] = end
            continue
        merged.append([start if pending is None else pending, end])
        pending = None
    if pending is not None:
        merged.append([pending, len(text)])
    # An abbreviation, an initial or a number goes on with the word after it.
    glued: list[list[int]] = []
    for start, end in merged:
        if glued and _keeps_next(text, glued[-1], start, end, language):
            glued[-1][1] = end
        else:
            glued.append([start, end])
    tokens = []
    for index, (start, end) in enumerate(glued):
        following = glued[index + 1] if index + 1 < len(glued) else [len(text), len(text)]
        if _any_between(starts, end, following[0]):
            cost = _AT_SENTENCE_END
        else:
            cost = _break_cost(text[start:end], text[following[0] : following[1]], marks[end])
            if text[end - 1] == "." and following[0] > end:
                cost = max(cost, _AFTER_ABBREVIATION)  # "e.g.", "p.m.": the sentence goes on
        tokens.append(_Token(start, end, text[start:end].replace(" ", GLUE), cost))
    return tokens


def _keeps_next(
    text: str, token: list[int], next_start: int, next_end: int, language: str | None
) -> bool:
    """Whether `token` is glued to the next (from `next_start` to `next_end`), so that no line
    or page breaks between: an abbreviation before its word ("Mr. Badger", "J. R. R. Tolkien",
    "Nr. 5"), a number before its unit ("5:30 p.m.", "17 h", "3 km")."""
    start, end = token
    if next_start == end:
        return False
    *_, previous, word = ["", "", *text[start:end].split(" ")]
    next_word = text[next_start:next_end].split(" ", 1)[0]
    if binds_to_next(previous, word, next_word, language):
        return True
    return bool(_NUMBER.search(word)) and len(next_word) <= 4 and not _NUMBER.search(next_word)


def _break_cost(word: str, following: str, mark_cost: float) -> float:
    """What ending a page after the token `word` costs, when no sentence ends there."""
    if mark_cost != _BETWEEN_WORDS:  # a Chinese or Japanese mark
        return mark_cost
    if _DASH_ONLY.match(word):
        return _AFTER_DASH
    if _CLAUSE_MARK.search(word[-4:]) or _DASH_ONLY.match(following.split(" ", 1)[0]):
        return _AT_CLAUSE_END
    letters = sum(1 for character in word if character.isalpha())
    return _BETWEEN_WORDS + (_AFTER_SHORT_WORD if letters <= 3 else 0.0)


def _cut_where_lines_break(text: str, lines: list[str]) -> list[tuple[int, int]]:
    """`text` cut at the starts of its lines (start, end); a space it broke at stays with the
    piece before."""
    pieces: list[tuple[int, int]] = []
    start = 0
    if lines:
        end = text.find(lines[0]) + len(lines[0])
        for line in lines[1:]:
            found = text.find(line, end)
            if found < 0:
                break
            pieces.append((start, found))
            start, end = found, found + len(line)
    pieces.append((start, len(text)))
    return [(a, b) for a, b in pieces if text[a:b].strip()]


def _reach(caption: _Caption, max_lines: int) -> list[int]:
    """For each token, the end (exclusive) of the longest page that starts with it: the tokens
    in the first `max_lines` lines of the text from it (one layout per token)."""
    count = len(caption.tokens)
    whole = caption.drawn(0, count)
    offsets = caption.offsets()
    ends = [end for _, end in offsets]
    reach = [0] * count
    stop = 1
    for first in range(count):
        stop = probe = min(count, max(stop, first + 1) + 2)
        base = offsets[first][0]
        while True:
            lines = caption.lines_of(whole[base : ends[probe - 1]])
            if len(lines) > max_lines or probe == count:
                break
            probe = min(count, probe + max(2, probe - first))
        if len(lines) <= max_lines:
            stop = reach[first] = count
            continue
        line_end = _line_ends(whole[base : ends[probe - 1]], lines)[max_lines - 1] + base
        stop = reach[first] = max(first + 1, bisect_right(ends, line_end, first, probe))
    return reach


def _line_ends(drawn: str, lines: list[str]) -> list[int]:
    """Where each of `drawn`'s lines ends in it."""
    ends, position = [], 0
    for line in lines:
        found = drawn.find(line, position)
        if found < 0:
            break
        position = found + len(line)
        ends.append(position)
    return ends


def _fits(caption: _Caption, first: int, stop: int, max_lines: int) -> bool:
    return len(caption.lines_of(caption.drawn(first, stop))) <= max_lines


def _greedy(caption: _Caption, max_lines: int) -> list[int]:
    """Where pages start when each is filled while it fits (every page checked)."""
    starts, first = [0], 0
    for stop in range(2, len(caption.tokens) + 1):
        if not _fits(caption, first, stop, max_lines):
            first = stop - 1
            starts.append(first)
    return starts


def _balanced_breaks(caption: _Caption, reach: list[int]) -> list[int]:
    """Where pages start (token indexes, the first 0): the cut of least cost. The even share
    a page is measured against is the caption's length over its number of pages, found by
    cutting again with the share of the cut before (from the fewest pages) until it holds."""
    count, first, fewest = len(caption.tokens), 0, 0
    while first < count:
        first, fewest = reach[first], fewest + 1
    starts = _cheapest_cut(caption, reach, len(caption.text) / fewest)
    for _ in range(3):
        again = _cheapest_cut(caption, reach, len(caption.text) / len(starts))
        if len(again) == len(starts):
            return again
        starts = again
    return starts


def _cheapest_cut(caption: _Caption, reach: list[int], share: float) -> list[int]:
    """Where pages start in the cut of least cost against this even share."""
    tokens, count = caption.tokens, len(caption.tokens)
    best = [float("inf")] * (count + 1)
    came_from = [0] * (count + 1)
    best[0] = 0.0
    for first in range(count):
        before = best[first] + (tokens[first - 1].break_cost if first else 0.0) + _PER_PAGE
        for stop in range(first + 1, reach[first] + 1):
            length = tokens[stop - 1].end - tokens[first].start
            cost = before
            if length < share:
                cost += (1 - length / share) ** 2 + (_TINY_PAGE if 2 * length < share else 0.0)
            if cost < best[stop]:
                best[stop], came_from[stop] = cost, first
    starts, stop = [], count
    while stop:
        stop = came_from[stop]
        starts.append(stop)
    return starts[::-1]


def lay_out(
    text: str, lines_of: LinesOf, max_lines: int, language: str | None = None
) -> list[PageLines]:
    """The pages of one caption, in reading order, each with the lines it is drawn in (at most
    `max_lines`). `language` (a BCP 47 tag) decides sentence ends and hyphenation."""
    text = " ".join(text.split())
    if not text:
        return []
    caption = _Caption(text, lines_of, language)
    lines = caption.fit_tokens(max_lines)
    if len(lines) <= max_lines:
        return [PageLines(text, finished(lines, lines_of))]
    reach = _reach(caption, max_lines)
    pages = _pages(caption, _balanced_breaks(caption, reach))
    if any(len(page.lines) > max_lines for page in pages):
        # Pango wrapped a page into more lines than the longer text it was measured in (it
        # should not): the greedy pages, each checked, instead.
        pages = _pages(caption, _greedy(caption, max_lines))
    return [PageLines(page.text, finished(page.lines, lines_of)) for page in pages]


def _pages(caption: _Caption, starts: list[int]) -> list[PageLines]:
    """The pages that start at these tokens, with Pango's lines."""
    stops = [*starts[1:], len(caption.tokens)]
    return [
        PageLines(caption.page_text(first, stop), caption.lines_of(caption.drawn(first, stop)))
        for first, stop in zip(starts, stops, strict=True)
    ]


def paginate(
    text: str, lines_of: LinesOf, max_lines: int, language: str | None = None
) -> list[str]:
    """The texts of a caption's pages, in reading order (see `lay_out`)."""
    return [page.text for page in lay_out(text, lines_of, max_lines, language)]


def wrap(text: str, lines_of: LinesOf, language: str | None = None) -> list[str]:
    """The lines `text` is drawn in as one page: where `lines_of` breaks it, except that a lone
    punctuation mark stays on the line of its word (Unicode's rules allow a break inside
    "« Oui »"), a word wider than a line is hyphenated, and a single word is not left alone on
    the last line when the words can be set otherwise (services/story/lines.py)."""
    text = " ".join(text.split())
    if not text:
        return []
    caption = _Caption(text, lines_of, language)
    return finished(caption.fit_tokens(None), lines_of)


Direction = Literal["ltr", "rtl"]


def base_direction(text: str) -> Direction | None:
    """The direction of the text's first strongly directional character (Unicode bidi, rules
    P2-P3), or None when it has none (digits and punctuation only)."""
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


_MARKS: dict[Direction, str] = {"ltr": "\u200e", "rtl": "\u200f"}


def keep_direction(lines: list[str], caption: str) -> list[str]:
    """A page's lines, set in the direction of the whole caption: an Arabic caption whose second
    page starts with a Latin name still reads right to left. An invisible direction mark goes in
    front of the first line only where the page on its own would start the other way."""
    wanted = base_direction(caption)
    if not lines or wanted is None or base_direction(" ".join(lines)) in (wanted, None):
        return lines
    return [_MARKS[wanted] + lines[0], *lines[1:]]
