"""Frame-exact timing of a read-aloud: narration lengths in samples -> every start and gap in
frames -> cue times, chapters, the poster frame and where the music may rise.

One model (`part_timing`, shaped by a `Pace`) decides, for each part, when its picture fades in,
when each page's speech starts (a lead-in after the picture is fully on screen), the pause between
captions (where the old caption fades out before the new one fades in), the page-turn pause at the
part's end, the opening before the first word and the ending after the last. The clip, the
narration track, the captions files, the chapters, the poster and the music bed all read it.

Everything is counted in whole frames, and audio is cut at the sample that matches each frame
edge. So the video, the narration and the caption times agree exactly, part after part, with no
drift however long the story is.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from services import read_along

if TYPE_CHECKING:  # records and options, for annotations only (stages.py imports Cue)
    from services.settings import RenderOptions
    from services.stages import PartClip, PartNarration


def frames_for_samples(samples: int, sample_rate: int, fps: int) -> int:
    """Whole frames needed to play `samples` of audio (rounded up; at least one frame)."""
    exact = Fraction(samples * fps, sample_rate)
    return max(1, -(-exact.numerator // exact.denominator))


def sample_at_frame(frame: int, sample_rate: int, fps: int) -> int:
    """The audio sample where `frame` begins."""
    return round(Fraction(frame * sample_rate, fps))


def crossfade_frames(fade_seconds: float, fps: int, left_frames: int, right_frames: int) -> int:
    """Length of the cross-fade between two pages: even (centred on the boundary), and never
    longer than either page, so a very short page still shows on its own."""
    wanted = round(fade_seconds * fps)
    limit = min(wanted, left_frames, right_frames)
    return max(0, limit - limit % 2)


def part_fade_frames(fade_seconds: float, fps: int, part_frames: int) -> int:
    """Fade in from and out to black at the part's ends, at most a third of the part each."""
    return max(0, min(round(fade_seconds * fps), part_frames // 3))


@dataclass(frozen=True)
class Cue:
    """A caption page on screen from `start` to `end` seconds."""

    start: float
    end: float
    text: str
    # Read-along: the text with a WebVTT timestamp before each word after the first, at the
    # frame its highlight appears; None without word times.
    timed: str | None = None


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{index}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{cue.text}\n"
        for index, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def vtt_clock(seconds: float) -> str:
    return _clock(seconds, ".")


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT; a cue with word times carries them as inline timestamps (`<00:00:01.500>word`),
    so a player can highlight the words too. The SRT stays one cue a page."""
    blocks = [
        f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{cue.timed or cue.text}\n"
        for cue in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


# --- chapters -----------------------------------------------------------------------------------

CHAPTER_TITLE_LIMIT = 48  # characters: about what a player shows beside a chapter mark


@dataclass(frozen=True)
class Chapter:
    """A chapter from `start_frame`, `frames` long."""

    start_frame: int
    frames: int
    title: str


def chapter_title(caption: str, limit: int = CHAPTER_TITLE_LIMIT) -> str:
    """The start of a caption as a chapter title: whole words, at most `limit` characters, with
    an ellipsis when it was cut."""
    text = " ".join(caption.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]  # do not end inside a word
    return cut.rstrip(" ,;:-–—") + "…"


def _metadata_escape(text: str) -> str:
    """FFMETADATA values escape '=', ';', '#', '\\' and line ends with a backslash."""
    for special in ("\\", "=", ";", "#", "\n"):
        text = text.replace(special, "\\" + special)
    return text


def _millis_not_before(frame: int, fps: int) -> int:
    # MP4 chapter tracks count milliseconds: round up, so a chapter never starts on the
    # previous frame (it lands within a millisecond after the frame's own time).
    return -(-frame * 1000 // fps)


def to_ffmetadata(chapters: list[Chapter], fps: int) -> str:
    """Chapters as an FFMETADATA file for ffmpeg's muxer."""
    lines = [";FFMETADATA1"]
    for chapter in chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={_millis_not_before(chapter.start_frame, fps)}",
            f"END={_millis_not_before(chapter.start_frame + chapter.frames, fps)}",
            f"title={_metadata_escape(chapter.title)}",
        ]
    return "\n".join(lines) + "\n"


# --- the read-aloud: pace and each part's timing -------------------------------------------------

PaceName = Literal["relaxed", "normal"]


@dataclass(frozen=True)
class Pace:
    """The gaps of a read-aloud, in seconds. Chosen by looking and listening
    (docs/how-it-works.md, "Pace")."""

    opening: float  # from the first frame (black, music starting) to the first word
    lead_in: float  # a part's picture fully on screen before its first word
    caption_pause: float  # from one caption's last word to the next caption's first
    caption_fade: float  # the old caption fades out in this, then the new one fades in
    caption_gap: float  # picture alone between the two
    page_turn: float  # from a part's last word to the next part's first (the music rises)
    min_caption: float  # the least time a caption is on screen, however short its speech
    ending_hold: float  # the last caption held after the last word ...
    ending_fade: float  # ... then the picture alone, fading out with the music


PACES: dict[str, Pace] = {
    # A bedtime read: time to look at each picture, a breath between captions, a real page turn.
    "relaxed": Pace(
        opening=1.5,
        lead_in=0.6,
        caption_pause=0.7,
        caption_fade=0.2,
        caption_gap=0.1,
        page_turn=1.6,
        min_caption=1.5,
        ending_hold=1.0,
        ending_fade=2.0,
    ),
    # Close to the earlier timing (speech right after the fades), but never over a fade.
    "normal": Pace(
        opening=0.8,
        lead_in=0.25,
        caption_pause=0.45,
        caption_fade=0.15,
        caption_gap=0.05,
        page_turn=1.1,
        min_caption=1.2,
        ending_hold=0.6,
        ending_fade=1.2,
    ),
}
DEFAULT_PACE: PaceName = "relaxed"


def pace_of(name: str) -> Pace:
    try:
        return PACES[name]
    except KeyError:
        raise ValueError(f"unknown pace {name!r} (choose {' or '.join(PACES)})") from None


@dataclass(frozen=True)
class PartTiming:
    """Where everything of one part happens, in the part's frames.

    `segments` is what the clip shows, in order: (page index, frames), or (None, frames) for the
    picture without a caption (between two captions, and at the story's end); `changes[i]` is
    the dissolve between segment i and i+1 (even, centred on their boundary; 0 for a cut). A
    caption always dissolves to or from the bare picture, never into another caption.
    `speech_starts[k]` is the frame where page k's narration (sample 0 of its WAV) begins,
    `speech_ends[k]` the frame after its last audible sound; `captions[k]` the frames page k's
    caption is on screen (first frame showing any of it, first frame showing none); `clear[k]`
    the frames it is fully visible (after its fade-in, before its fade-out: where a read-along
    highlight may appear)."""

    frames: int
    fade_in: int
    fade_out: int
    speech_starts: list[int]
    speech_ends: list[int]
    captions: list[tuple[int, int]]
    segments: list[tuple[int | None, int]]
    changes: list[int]
    clear: list[tuple[int, int]]


def _even(frames: int) -> int:
    return max(0, frames - frames % 2)


def caption_change_frames(pace: Pace, fps: int) -> tuple[int, int, int]:
    """The caption change inside a pause: (pause, dissolve, gap) in frames. The dissolve is even
    and shrinks when the pause is too short for it and a frame of quiet either side."""
    pause = max(1, round(pace.caption_pause * fps))
    gap = round(pace.caption_gap * fps)
    fade = _even(round(pace.caption_fade * fps))
    while fade and 2 * fade + gap + 2 > pause:
        fade -= 2
    if fade == 0:
        gap = max(1, gap)  # a cut still shows the picture alone for a frame
    return pause, fade, gap


def part_timing(
    speech_samples: list[int],
    sample_rate: int,
    fps: int,
    pace: Pace,
    fade_seconds: float,
    first: bool = False,
    last: bool = False,
    after_title: bool = False,
) -> PartTiming:
    """The timing of a part whose pages speak for `speech_samples` (to their last audible
    sample); `first`/`last`: it opens or ends the story; `after_title`: it follows the title
    card (`title_timing`), whose last frame is this part's picture alone: no fade from black, the
    picture stays, and the first caption fades in over it, a lead-in before its first word."""
    if not speech_samples:
        raise ValueError("a part needs at least one page")
    fade = round(fade_seconds * fps)
    lead = round(pace.lead_in * fps)
    floor = round(pace.min_caption * fps)
    pause, dissolve, gap = caption_change_frames(pace, fps)
    margin = (pause - 2 * dissolve - gap) // 2  # quiet between speech and a caption's dissolve
    start = fade + lead
    if first:
        start = max(start, round(pace.opening * fps))
    starts, ends, captions, clear = [], [], [], []
    segments: list[tuple[int | None, int]] = []
    changes: list[int] = []
    shown_from, segment_from = 0, 0  # the current caption's first frame, and its segment's
    fade_in = fade
    if after_title:
        fade_in, blank = 0, _title_blank(gap)
        segments.append((None, blank + dissolve // 2))
        changes.append(dissolve)
        segment_from = blank + dissolve // 2
        shown_from = blank + (1 if dissolve else 0)
        start = blank + dissolve + lead
    count = len(speech_samples)
    for index, samples in enumerate(speech_samples):
        end = start + (frames_for_samples(samples, sample_rate, fps) if samples else 0)
        clear_from = _clear_from(index == 0 and not after_title, fade, segment_from, dissolve)
        starts.append(start)
        ends.append(end)
        if index < count - 1:
            leaves = end + margin  # the caption starts to fade out here
            leaves += max(0, floor - (leaves + dissolve - shown_from))
            captions.append((shown_from, leaves + dissolve))
            clear.append((clear_from, leaves))
            segments.append((index, leaves + dissolve // 2 - segment_from))
            segments.append((None, dissolve + gap))
            changes += [dissolve, dissolve]
            segment_from = leaves + dissolve + gap + dissolve // 2
            shown_from = leaves + dissolve + gap + (1 if dissolve else 0)
            start = leaves + (pause - margin)
            continue
        if last:
            leaves = end + round(pace.ending_hold * fps)
            leaves += max(0, floor - (leaves + dissolve - shown_from))
            fade_out = max(fade, round(pace.ending_fade * fps))
            frames = leaves + dissolve + fade_out
            captions.append((shown_from, leaves + dissolve))
            clear.append((clear_from, leaves))
            segments.append((index, leaves + dissolve // 2 - segment_from))
            segments.append((None, frames - (leaves + dissolve // 2)))
            changes.append(dissolve)
        else:
            fade_out = fade
            next_start = fade + lead
            hold = max(1, round(pace.page_turn * fps) - fade_out - next_start)
            frames = end + hold + fade_out
            frames += max(0, floor - (frames - shown_from))
            captions.append((shown_from, frames))
            clear.append(
                (
                    clear_from,
                    frames - fade_out,
                )
            )
            segments.append((index, frames - segment_from))
    return PartTiming(
        frames=frames,
        fade_in=fade_in,
        fade_out=fade_out,
        speech_starts=starts,
        speech_ends=ends,
        captions=captions,
        segments=segments,
        changes=changes,
        clear=clear,
    )


def _title_blank(gap: int) -> int:
    """Frames of the first part's picture alone, after the title card, before its first caption
    starts to fade in."""
    return max(1, gap)


def title_timing(
    speech_samples: int, sample_rate: int, fps: int, pace: Pace, fade_seconds: float
) -> PartTiming:
    """The title card's timing, as one page: the first part's picture fades in from black with
    the title on it, the narrator reads the title after the opening, the title stays a moment,
    fades out, and the picture stays alone until the first part (`part_timing` with
    `after_title`) fades its first caption in. From the title's last sound to the first part's
    first word is a page turn."""
    fade = round(fade_seconds * fps)
    lead = round(pace.lead_in * fps)
    floor = round(pace.min_caption * fps)
    pause, dissolve, gap = caption_change_frames(pace, fps)
    margin = (pause - 2 * dissolve - gap) // 2
    start = max(fade + lead, round(pace.opening * fps))
    end = start + (frames_for_samples(speech_samples, sample_rate, fps) if speech_samples else 0)
    leaves = end + margin  # the title starts to fade out here
    leaves += max(0, floor - (leaves + dissolve))
    part_lead = _title_blank(gap) + dissolve + lead  # the first part's frames before its word
    turn = round(pace.page_turn * fps)
    tail = max(_title_blank(gap), turn - (leaves - end) - dissolve - part_lead)
    frames = leaves + dissolve + tail
    return PartTiming(
        frames=frames,
        fade_in=fade,
        fade_out=0,
        speech_starts=[start],
        speech_ends=[end],
        captions=[(0, leaves + dissolve)],
        segments=[(0, leaves + dissolve // 2), (None, frames - leaves - dissolve // 2)],
        changes=[dissolve],
        clear=[(fade, leaves)],
    )


def _clear_from(with_the_part: bool, fade: int, segment_from: int, dissolve: int) -> int:
    """The first frame a caption is fully visible: after the part's fade from black (a first
    page that fades in with its part), or after the dissolve from the bare picture centred on
    its segment's start (every other page, and a first page after the title card)."""
    return fade if with_the_part else segment_from + dissolve // 2


def music_rises_after(pace: Pace) -> float:
    """Pauses at least this long let the music rise (page turns, the opening and the ending);
    shorter ones (between captions) keep it down."""
    return (pace.caption_pause + pace.page_turn) / 2


def narration_timing(
    narration: PartNarration,
    options: RenderOptions,
    first: bool,
    last: bool,
    after_title: bool = False,
) -> PartTiming:
    """`part_timing` of a narrated part, with the options' pace and fades."""
    return part_timing(
        [page.speech_samples for page in narration.pages],
        narration.sample_rate,
        options.fps,
        pace_of(options.pace),
        options.fade_seconds,
        first=first,
        last=last,
        after_title=after_title,
    )


def narrated_title_timing(narration: PartNarration, options: RenderOptions) -> PartTiming:
    """`title_timing` of the narrated title (one page), with the options' pace and fades."""
    return title_timing(
        narration.pages[0].speech_samples,
        narration.sample_rate,
        options.fps,
        pace_of(options.pace),
        options.fade_seconds,
    )


# --- a story's cues, chapters, poster frame and speech, from its parts' clips -------------------


def story_cues(clips: list[PartClip], fps: int) -> list[Cue]:
    """Each caption page from the first frame that shows any of it to the first that shows none."""
    cues: list[Cue] = []
    first_frame = 0
    for clip in clips:
        words = clip.page_words or [None] * len(clip.page_texts)
        lit = clip.word_frames or [None] * len(clip.page_texts)
        for (on, off), text, page_words, page_lit in zip(
            clip.captions, clip.page_texts, words, lit, strict=True
        ):
            timed = None
            if page_words and page_lit:
                # The highlights' frames (of the part) from the cue's first frame.
                frames = [frame - on for frame in page_lit]
                timed = read_along.vtt_text(
                    text, page_words, first_frame + on, fps, frames, vtt_clock
                )
            cues.append(Cue((first_frame + on) / fps, (first_frame + off) / fps, text, timed))
        first_frame += clip.frames
    return cues


def story_chapters(clips: list[PartClip]) -> list[Chapter]:
    """One chapter per part, from its first frame, titled with the start of its first caption
    (the title card, when the story has one, is a chapter of its own, titled with the title)."""
    chapters, first_frame = [], 0
    for clip in clips:
        title = chapter_title(clip.page_texts[0]) if clip.page_texts else ""
        chapters.append(Chapter(start_frame=first_frame, frames=clip.frames, title=title))
        first_frame += clip.frames
    return chapters


def poster_frame(clip: PartClip) -> int:
    """A frame of the part's first page with the picture fully faded in and the caption fully on
    screen: halfway from the end of the fade-in to the end of the first page's speech. Given the
    title card's clip, the title over the first picture."""
    return (clip.fade_in + max(clip.fade_in, clip.speech_ends[0])) // 2


def story_speech(
    clips: list[PartClip], fps: int, first_frame: int = 0
) -> list[tuple[float, float]]:
    """Where the narration speaks, in seconds (page by page), for clips from `first_frame`: the
    music ducks there."""
    spans = []
    for clip in clips:
        spans += [
            ((first_frame + start) / fps, (first_frame + end) / fps)
            for start, end in zip(clip.speech_starts, clip.speech_ends, strict=True)
        ]
        first_frame += clip.frames
    return spans


def speech_start_seconds(clips: list[PartClip], fps: int) -> list[list[float]]:
    """For each part, each page's speech start in the video, in seconds: a time measured in a
    page's WAV (from its sample 0) plus this is its time in the video."""
    starts, first_frame = [], 0
    for clip in clips:
        starts.append([(first_frame + start) / fps for start in clip.speech_starts])
        first_frame += clip.frames
    return starts


def speaking_rate(clips: list[PartClip], fps: int) -> float | None:
    """Words a minute while the narration speaks: words over the seconds from each page's
    speech start to its last audible sound (None when nothing is spoken)."""
    words = sum(len(text.split()) for clip in clips for text in clip.page_texts)
    seconds = sum(end - start for start, end in story_speech(clips, fps))
    return round(words / seconds * 60, 1) if seconds > 0 else None
