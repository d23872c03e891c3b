"""The records the stages hand each other: a part's pages, its narration, its clip, the story's
soundtrack and its assembled video. Plain data: no stage code, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from services.read_along import WordTime
from services.timeline import Chapter, Cue


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures of a piece of audio, as ffmpeg's ebur128 filter measures them
    (services/media/audio_graph.py)."""

    integrated: float  # LUFS; -70 when nothing is loud enough to count (silence)
    true_peak: float  # dBTP (-inf for digital silence); nan when not measured
    loudness_range: float  # LU


class ClipFiles(BaseModel):
    """The two media files of a finished part; the clip stage's result type extends this with
    its timing, and the store keeps and returns that type whole."""

    video: Path
    audio: Path


class Page(BaseModel):
    """One caption page: shown, and narrated, on its own."""

    caption_number: int
    text: str
    lines: list[str]
    image: Path  # a full frame, or (zoom on) a transparent caption band
    # The font it was drawn with (Pango's description, and the language it shaped for): the
    # read-along highlight lays the page out again exactly as drawn.
    font: str = ""
    font_language: str | None = None


class PictureFit(BaseModel):
    """A part's picture as decoded, and how much it was enlarged to fit the frame (above 1: its
    pixels are spread over more of the frame's)."""

    width: int
    height: int
    enlargement: float


class PartPages(BaseModel):
    part_number: int
    pages: list[Page]
    background: Path | None = None  # set when zoom is on: pages are bands laid over it
    band_top: int = 0
    # Where the zoom heads, in fractions of the frame: the picture's subject, else the centre.
    focus: tuple[float, float] = (0.5, 0.5)
    picture: PictureFit | None = None
    blank: Path | None = None  # the picture without a caption (zoom on: an empty band)
    position: Literal["bottom", "top", "middle"] = (
        "bottom"  # where the captions were drawn (`auto` chose for the part)
    )


class PageAudio(BaseModel):
    """A page's narration: its own WAV, whose sample 0 is placed where the timeline starts the
    page's speech (`PartClip.speech_starts`)."""

    wav: Path
    samples: int
    audible: int | None = None  # samples up to the end of the last audible sound (None: all)
    # Read-along: the page's units and the sample of `wav` each is heard from (sample 0 is the
    # page's speech start); None when not asked for or not known (services/read_along.py).
    words: list[WordTime] | None = None

    @property
    def speech_samples(self) -> int:
        return self.samples if self.audible is None else self.audible


class PartNarration(BaseModel):
    part_number: int
    sample_rate: int
    pages: list[PageAudio]


class PartClip(ClipFiles):
    """A part's silent clip (`video`) and its narration track (`audio`), with its timing (from
    services/timeline.py's `part_timing`), in the part's frames.

    `speech_starts[k]`: the frame where page k's speech (sample 0 of its WAV) starts: a time in
    that WAV plus this frame's time is the time in the part; `speech_ends[k]`: the frame after
    its last audible sound; `captions[k]`: the frames its caption is on screen (first frame
    showing any of it, first showing none); `fade_in`: frames of the part's fade from black."""

    part_number: int
    frames: int
    page_texts: list[str]
    picture: PictureFit | None = None
    speech_starts: list[int]
    speech_ends: list[int]
    captions: list[tuple[int, int]]
    fade_in: int
    # Read-along: each page's units (character spans), and the frame of the part where each
    # one's highlight appears (its word time after the page's speech start, never before the
    # caption is fully visible); kept with the part in the store so a re-used part keeps its VTT
    # word timestamps. None when read-along is off.
    page_words: list[list[WordTime] | None] | None = None
    word_frames: list[list[int] | None] | None = None


class MusicTrack(BaseModel):
    """The background music of a run, fetched and checked."""

    name: str  # as the user named it: music.mp3 in the story, or the --music path
    path: Path
    seconds: float  # decoded while checking (at most the first two minutes)


class StorySoundtrack(BaseModel):
    """The story's sound, encoded: AAC in an MP4 audio file, ready to be copied under the video."""

    audio: Path
    samples: int  # exactly as long as the joined clips
    sample_rate: int  # AUDIO_SAMPLE_RATE, whatever the narration's
    loudness: Loudness  # of the encoded file
    music: bool


class AssembledVideo(BaseModel):
    video: Path
    srt: Path
    vtt: Path
    poster: Path
    duration_seconds: float
    frames: int
    cues: list[Cue]
    chapters: list[Chapter]
    loudness: Loudness  # of the finished file, after the AAC encode
    music: bool
    words_per_minute: float | None = None  # words / seconds of speech (timeline.speaking_rate)

    def files(self) -> dict[str, Path]:
        """The rendered files by output key (services.storage.sources.OUTPUTS), the record aside."""
        return {"srt": self.srt, "vtt": self.vtt, "poster": self.poster, "video": self.video}


# The title card's clip (tasks/title.py) is a PartClip with this number: it sorts before every
# part (a story's parts are numbered from 0 up) and is never a folder's number.
TITLE_PART = -1
