"""Read-along: which piece of a page's text is spoken when, and which words are highlighted on
which frame. Plain data and arithmetic: no synthesis, no drawing.

A page's word times (`WordTime`) are character spans of the page's text with the sample of its
own WAV where the voice starts speaking them: the page's speech starts at sample 0, and the
timeline decides where in the video that is (today: the page's first frame). The units are the
ones the voice speaks: words between spaces, and in scripts written without spaces (Chinese,
Japanese, Thai) the pieces espeak-ng reports a word event for.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

# How long a highlight stays at least (a shorter one reads as a flicker).
HOLD_SECONDS = 0.15


class WordTime(BaseModel):
    """A unit of a page's text, `text[start:end]`, spoken from `sample` of the page's WAV."""

    start: int
    end: int
    sample: int


@dataclass(frozen=True)
class Event:
    """A word event: `length` characters from `position` of the text, heard from `sample`."""

    position: int
    length: int
    sample: int


_TOKEN = re.compile(r"\S+")


# Thai and Lao vowels written after (or above) their consonant, and those written before it:
# a unit never starts with the first nor ends with the second (espeak-ng's Thai events cut there).
_FOLLOWING_VOWELS = frozenset("\u0e30\u0e31\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")
_LEADING_VOWELS = frozenset("\u0e40\u0e41\u0e42\u0e43\u0e44\u0ec0\u0ec1\u0ec2\u0ec3\u0ec4")


def _cannot_start(character: str) -> bool:
    return unicodedata.category(character).startswith("M") or character in _FOLLOWING_VOWELS


def _speakable(text: str) -> bool:
    return any(character.isalnum() for character in text)


def _snap(text: str, position: int, low: int, high: int) -> int:
    """`position` moved off a place no unit may start (a combining mark, a Thai vowel that
    follows its consonant) and from just after a vowel that precedes its consonant, kept within
    (low, high]."""
    while low < position < high and _cannot_start(text[position]):
        position += 1
    while low < position - 1 and text[position - 1] in _LEADING_VOWELS:
        position -= 1
    return position


def word_units(text: str, events: Sequence[Event], total_samples: int) -> list[WordTime]:
    """The page's units in text order, each with the sample where it is first heard.

    Units are the text's space-separated tokens, cut further where a word event starts inside
    one (scripts without spaces); a token without letters or digits joins the unit before it.
    Events map onto units by character offset: an empty event (espeak-ng gives one for an
    opening quote) belongs to the unit it precedes. A unit no event reached (small words sharing
    a neighbour's event) gets a time interpolated by character offset between the nearest timed
    units; the times never decrease in text order."""
    tokens = [(match.start(), match.end()) for match in _TOKEN.finditer(text)]
    if not tokens:
        return []
    events = sorted(
        (event for event in events if 0 <= event.position <= len(text)),
        key=lambda event: (event.sample, event.position),
    )
    spans = _split_tokens(text, tokens, events)
    onsets: list[int | None] = [None] * len(spans)
    for event in events:
        index = _unit_at(spans, event.position)
        if index is None:
            continue
        known = onsets[index]
        if known is None or event.sample < known:
            onsets[index] = event.sample
    _spread_shared(text, spans, onsets, events)
    times = _interpolate(spans, onsets, total_samples)
    return [
        WordTime(start=start, end=end, sample=sample)
        for (start, end), sample in zip(spans, times, strict=True)
    ]


def _split_tokens(
    text: str, tokens: list[tuple[int, int]], events: Sequence[Event]
) -> list[tuple[int, int]]:
    cuts = sorted({event.position for event in events if event.length > 0})
    spans: list[tuple[int, int]] = []
    for start, end in tokens:
        inside = [_snap(text, cut, start, end) for cut in cuts if start < cut < end]
        edges = [start, *sorted({cut for cut in inside if start < cut < end}), end]
        for low, high in zip(edges, edges[1:], strict=False):
            if spans and not _speakable(text[low:high]) and spans[-1][1] >= low - 1:
                spans[-1] = (spans[-1][0], high)  # punctuation alone: part of the unit before
            else:
                spans.append((low, high))
    # A leading unit of punctuation only (an opening quote) joins the unit after it.
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for start, end in spans:
        if not _speakable(text[start:end]) and pending is None and not merged:
            pending = start
            continue
        merged.append((pending if pending is not None else start, end))
        pending = None
    return merged or spans


def _unit_at(spans: list[tuple[int, int]], position: int) -> int | None:
    """The unit holding `position`, or the first one after it (empty events, spaces)."""
    for index, (_, end) in enumerate(spans):
        if position < end:
            return index
    return None


def _spread_shared(
    text: str, spans: list[tuple[int, int]], onsets: list[int | None], events: Sequence[Event]
) -> None:
    """Several events for one and the same span (espeak-ng's Japanese reports one per character,
    all naming the whole sentence): the span is cut into as many pieces, one per event."""
    by_span: dict[tuple[int, int], list[int]] = {}
    for event in events:
        by_span.setdefault((event.position, event.length), []).append(event.sample)
    for (position, length), samples in by_span.items():
        index = _unit_at(spans, position)
        if len(samples) < 2 or index is None or spans[index] != (position, position + length):
            continue
        start, end = spans[index]
        pieces = min(len(samples), end - start)
        edges = [start + round(step * (end - start) / pieces) for step in range(pieces + 1)]
        edges = sorted({_snap(text, edge, start, end) for edge in edges})
        new = list(zip(edges, edges[1:], strict=False))
        spans[index : index + 1] = new
        onsets[index : index + 1] = list(sorted(samples)[: len(new)])


def _interpolate(
    spans: list[tuple[int, int]], onsets: list[int | None], total_samples: int
) -> list[int]:
    known = [(index, sample) for index, sample in enumerate(onsets) if sample is not None]
    if not known:
        # No event at all: spread the units over the speech by character offset.
        length = max(1, spans[-1][1])
        return [round(total_samples * start / length) for start, _ in spans]
    anchors = [(-1, 0, 0)] if known[0][0] != 0 else []
    anchors += [(index, spans[index][0], sample) for index, sample in known]
    anchors.append((len(spans), spans[-1][1], max(total_samples, known[-1][1])))
    times: list[int] = []
    for (low, low_char, low_sample), (high, high_char, high_sample) in zip(
        anchors, anchors[1:], strict=False
    ):
        if low >= 0:
            times.append(low_sample)
        for index in range(low + 1, high):
            share = (spans[index][0] - low_char) / max(1, high_char - low_char)
            times.append(round(low_sample + share * (high_sample - low_sample)))
    for index in range(1, len(times)):  # never earlier than the unit before
        times[index] = max(times[index], times[index - 1])
    return times[: len(spans)]


def to_sound(words: Sequence[WordTime], sounding: Sequence[bool], window: int) -> list[WordTime]:
    """The word times moved from silence to where the voice is heard: `sounding[i]` says
    whether samples `i * window` to `(i + 1) * window` of the page's WAV are audible.

    espeak-ng's word event marks where the word's first phoneme starts, and a word that begins
    with a stop (p, t, k, b, d, g; the Chinese, Thai and Hindi aspirated ones too) begins with
    its closure: silence. So a word time that falls in silence is moved to the first audible
    window after it, as long as that comes before the next unit's time (otherwise the word is
    kept where the event put it: it is not heard on its own). Measured at the children's rate
    (-s 110) on words spoken one sentence each in en, de, fr, es, hi, ar, zh and th
    (bench/word_onsets.py): the events came up to 70-90 ms before the onset heard, most for
    words opening with a stop; moved, a word time is within a few milliseconds of its first
    sound at -40 dB."""
    moved: list[WordTime] = []
    for index, word in enumerate(words):
        following = next((w.sample for w in words[index + 1 :] if w.sample > word.sample), None)
        at = word.sample // window
        if 0 <= at < len(sounding) and not sounding[at]:
            heard = next((i for i in range(at + 1, len(sounding)) if sounding[i]), None)
            if heard is not None and (following is None or heard * window <= following):
                word = word.model_copy(update={"sample": heard * window})
        if moved and word.sample < moved[-1].sample:
            word = word.model_copy(update={"sample": moved[-1].sample})
        moved.append(word)
    return moved


# --- frames ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Highlight:
    """From frame `first` (of the page) on, the units `current` are highlighted (indexes into
    the page's word times; empty: none)."""

    first: int
    current: tuple[int, ...]


def onset_frame(sample: int, sample_rate: int, fps: int) -> int:
    """The frame on which a unit heard from `sample` is highlighted: the frame showing at that
    moment (it starts at or before it). Word times are where the sound starts (`to_sound`), so
    the highlight leads the voice by less than a frame (42 ms at 24 fps) and never trails it."""
    return sample * fps // sample_rate


def highlights(
    words: Sequence[WordTime],
    sample_rate: int,
    fps: int,
    page_frames: int,
    hold_seconds: float = HOLD_SECONDS,
) -> list[Highlight]:
    """The page's highlight states, in order, each from its first frame to the next one's.

    Each unit is highlighted from the frame it is heard on until the next unit is heard (a pause
    inside the page keeps the last word lit), and for at least the hold: a unit heard less than
    the hold after the one before shares the highlight with it for the rest of that one's hold,
    rather than being late or the highlight flickering. The last unit stays lit to the page's
    end."""
    if not words:
        return [Highlight(0, ())]
    hold = math.ceil(hold_seconds * fps - 1e-9)
    starts = [min(page_frames - 1, onset_frame(word.sample, sample_rate, fps)) for word in words]
    ends = []
    for index, start in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else page_frames
        ends.append(min(page_frames, max(following, start + hold)))
    edges = sorted({0, *starts, *ends} - {page_frames})
    states: list[Highlight] = []
    for frame in edges:
        lit = tuple(i for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if s <= frame < e)
        if states and states[-1].current == lit:
            continue
        states.append(Highlight(frame, lit))
    return states


def first_frames(
    words: Sequence[WordTime], sample_rate: int, fps: int, page_frames: int
) -> list[int]:
    """The frame of the page where each unit's highlight appears."""
    return [min(page_frames - 1, onset_frame(word.sample, sample_rate, fps)) for word in words]


def in_part(
    words: Sequence[WordTime],
    sample_rate: int,
    fps: int,
    speech_start: int,
    clear: tuple[int, int],
) -> tuple[list[Highlight], list[int]]:
    """A page's highlight states and each unit's first lit frame, in frames of the part: a word
    time counts from the page's speech start (`speech_start`, sample 0 of its WAV), and nothing
    lights outside `clear`, the frames its caption is fully visible (a highlight due during the
    caption's fade-in waits for its end; one due after the fade-out starts comes on its first
    frame, i.e. the last clear frame)."""
    first, after = clear
    window = max(1, after - speech_start)
    states = [
        Highlight(min(after - 1, max(first, speech_start + state.first)), state.current)
        for state in highlights(words, sample_rate, fps, window)
    ]
    # A state pushed onto the same frame as the next one is never shown.
    shown = [
        state
        for index, state in enumerate(states)
        if index + 1 == len(states) or states[index + 1].first > state.first
    ]
    frames = [
        min(after - 1, max(first, speech_start + frame))
        for frame in first_frames(words, sample_rate, fps, window)
    ]
    return shown, frames


def vtt_text(
    text: str,
    words: Sequence[WordTime],
    start_frame: int,
    fps: int,
    frames: Sequence[int],
    clock: Callable[[float], str],
) -> str:
    """The cue's text with a WebVTT timestamp before each unit, at the frame its highlight
    appears (`frames`, counted from the cue's first frame `start_frame`); `clock` formats
    seconds as a WebVTT time. WebVTT wants each timestamp after the cue's start and after the one
    before: a unit lit on the cue's first frame, or on the same frame as the unit before it, gets
    none (it is lit with what comes before it)."""
    pieces: list[str] = []
    cursor = 0
    last = start_frame
    for word, frame in zip(words, frames, strict=True):
        at = start_frame + frame
        pieces.append(text[cursor : word.start])
        if at > last:
            pieces.append(f"<{clock(at / fps)}>")
            last = at
        cursor = word.start
    pieces.append(text[cursor:])
    return "".join(pieces)
