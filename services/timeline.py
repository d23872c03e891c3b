"""Frame-exact timing: narration lengths in samples -> page lengths in frames -> cue times.

Every page lasts a whole number of frames (its narration padded with silence up to the next frame
edge), and audio is cut at the sample that matches each frame edge. So the video, the narration and
the caption times agree exactly, part after part, with no drift however long the story is.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


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


def to_vtt(cues: list[Cue]) -> str:
    blocks = [f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{cue.text}\n" for cue in cues]
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
