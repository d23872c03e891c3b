"""Frame-exact timing: narration lengths in samples -> page lengths in frames -> cue times.

Every page lasts a whole number of frames (its narration padded with silence up to the next frame
edge), and audio is cut at the sample that matches each frame edge. So the video, the narration and
the caption times agree exactly, part after part, with no drift however long the story is.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

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


def cue_times(page_frames: list[int], first_frame: int, fps: int) -> list[tuple[float, float]]:
    """Start and end seconds of consecutive pages beginning at `first_frame`."""
    times = []
    frame = first_frame
    for frames in page_frames:
        times.append((frame / fps, (frame + frames) / fps))
        frame += frames
    return times


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


def page_frames_of(narration: PartNarration, fps: int) -> list[int]:
    """How many frames each page lasts: the whole number of frames its speech needs."""
    return [
        frames_for_samples(audio.samples, narration.sample_rate, fps) for audio in narration.pages
    ]


# --- a story's cues, chapters and poster frame, from its parts' clips -------------------------


def speech_start_frames(page_frames: list[int], first_frame: int) -> list[int]:
    """The frame (of the video) where each page's speech starts, sample 0 of its own WAV: the
    page's first frame, for pages beginning at `first_frame`."""
    starts, frame = [], first_frame
    for frames in page_frames:
        starts.append(frame)
        frame += frames
    return starts


def story_cues(clips: list[PartClip], fps: int) -> list[Cue]:
    cues: list[Cue] = []
    first_frame = 0
    for clip in clips:
        times = cue_times(clip.page_frames, first_frame, fps)
        speech = speech_start_frames(clip.page_frames, first_frame)
        words = clip.page_words or [None] * len(clip.page_texts)
        for index, ((start, end), text) in enumerate(zip(times, clip.page_texts, strict=True)):
            timed = None
            page_words = words[index]
            if page_words and clip.word_rate:
                page_start = round(start * fps)
                lit = read_along.first_frames(
                    page_words, clip.word_rate, fps, clip.page_frames[index]
                )
                frames = [speech[index] - page_start + frame for frame in lit]
                timed = read_along.vtt_text(text, page_words, page_start, fps, frames, vtt_clock)
            cues.append(Cue(start=start, end=end, text=text, timed=timed))
        first_frame += clip.frames
    return cues


def story_chapters(clips: list[PartClip]) -> list[Chapter]:
    """One chapter per part, from its first frame, titled with the start of its first caption."""
    chapters, first_frame = [], 0
    for clip in clips:
        title = chapter_title(clip.page_texts[0]) if clip.page_texts else ""
        chapters.append(Chapter(start_frame=first_frame, frames=clip.frames, title=title))
        first_frame += clip.frames
    return chapters


def poster_frame(clip: PartClip, options: RenderOptions) -> int:
    """A frame of the part's first page clear of its fade-in and of the cross-fade that ends the
    page: the middle of that stretch."""
    first_page = clip.page_frames[0]
    clear_from = part_fade_frames(options.fade_seconds, options.fps, clip.frames)
    clear_to = first_page
    if len(clip.page_frames) > 1:
        clear_to -= (
            crossfade_frames(options.fade_seconds, options.fps, first_page, clip.page_frames[1])
            // 2
        )
    else:
        clear_to -= clear_from  # the part fades out at its end
    if clear_to <= clear_from:
        return first_page // 2
    return (clear_from + clear_to) // 2
