"""The lines a caption page is drawn in: Pango's, with no single word alone on the last line
where the words can be set otherwise, a hyphen where a hyphenated word breaks, plain spaces.

`lines_of(text) -> lines` is Pango's line breaking at the frame's width (services/media/
caption_drawing.py `caption_lines_of`); every line set here is one that Pango keeps on one line.
"""

from __future__ import annotations

from collections.abc import Callable

LinesOf = Callable[[str], list[str]]

GLUE = "\u00a0"  # joins a token's words while laid out: Pango does not break there
SOFT_HYPHEN = "\u00ad"  # where a hyphenated word may break; drawn as "-" at a line's end


def _visible_words(line: str) -> int:
    return sum(1 for word in line.replace(GLUE, " ").split() if any(c.isalnum() for c in word))


def _without_widow(lines: list[str], lines_of: LinesOf) -> list[str]:
    """The page's words in as many lines, rebalanced, when a single word would stand alone on
    its last line: the lines of most even length (in characters) whose last holds two words or
    more, each line one that `lines_of` keeps on one line. Unchanged when there is no widow or
    no such lines (a word wider than a line, text without spaces)."""
    if len(lines) < 2 or _visible_words(lines[-1]) != 1:
        return lines
    words = " ".join(lines).split(" ")
    count = len(words)
    if count < 3 or any(line.endswith(SOFT_HYPHEN) for line in lines):
        return lines

    def one_line(first: int, stop: int) -> bool:
        return len(lines_of(" ".join(words[first:stop]))) == 1

    # The longest line that starts at each word (lines_of is greedy: shorter ones fit too).
    reach, stop = [0] * count, 1
    for first in range(count):
        stop = max(stop, first + 1)
        while stop > first + 1 and not one_line(first, stop):
            stop -= 1
        while stop < count and one_line(first, stop + 1):
            stop += 1
        reach[first] = stop
    target = sum(len(word) + 1 for word in words) / len(lines)
    best = _rebalanced(words, reach, len(lines), target)
    return best if best is not None else lines


def _rebalanced(
    words: list[str], reach: list[int], line_count: int, target: float
) -> list[str] | None:
    """`words` in `line_count` lines of least squared difference from `target` characters,
    the last with two words or more; None when there are no such lines."""
    count = len(words)
    inf = float("inf")
    # best[k][stop]: least cost of words[:stop] in k lines
    best = [[inf] * (count + 1) for _ in range(line_count + 1)]
    came_from = [[0] * (count + 1) for _ in range(line_count + 1)]
    best[0][0] = 0.0
    for lines in range(1, line_count + 1):
        for first in range(count):
            if best[lines - 1][first] == inf:
                continue
            for stop in range(first + 1, reach[first] + 1):
                if lines == line_count and (
                    stop != count or _visible_words(" ".join(words[first:stop])) < 2
                ):
                    continue
                length = sum(len(word) + 1 for word in words[first:stop]) - 1
                cost = best[lines - 1][first] + (length - target) ** 2
                if cost < best[lines][stop]:
                    best[lines][stop], came_from[lines][stop] = cost, first
    if best[line_count][count] == inf:
        return None
    result, stop = [], count
    for lines in range(line_count, 0, -1):
        first = came_from[lines][stop]
        result.append(" ".join(words[first:stop]))
        stop = first
    return result[::-1]


def finished(lines: list[str], lines_of: LinesOf) -> list[str]:
    """Lines as drawn: no widow, a hyphen where a word breaks, plain spaces."""
    drawn = []
    for line in _without_widow(lines, lines_of):
        if line.endswith(SOFT_HYPHEN):
            line = line[:-1] + "-"
        drawn.append(line.replace(SOFT_HYPHEN, "").replace(GLUE, " "))
    return drawn
