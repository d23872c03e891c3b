"""The records the stages hand each other: a part's pages, its narration, its clip, the story's
soundtrack and its assembled video. Plain data: no stage code, no I/O."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from services.media.audio_graph import Loudness
from services.read_along import WordTime
from services.timeline import Chapter, Cue


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


class PartPages(BaseModel):
    part_number: int
    pages: list[Page]
    background: Path | None = None  # set when zoom is on: pages are bands laid over it
    band_top: int = 0


class PageAudio(BaseModel):
    wav: Path
    samples: int
    # Read-along: the page's units and the sample of `wav` each is heard from; None when not
    # asked for or not known (services/read_along.py).
    words: list[WordTime] | None = None


class PartNarration(BaseModel):
    part_number: int
    sample_rate: int
    pages: list[PageAudio]


class PartClip(ClipFiles):
    """A part's silent clip (`video`) and its narration track (`audio`), with page timing."""

    part_number: int
    frames: int
    page_frames: list[int]
    page_texts: list[str]
    # Read-along: each page's word times (samples of the page's own speech, at `word_rate`),
    # kept with the part in the store so a re-used part keeps its VTT word timestamps.
    page_words: list[list[WordTime] | None] | None = None
    word_rate: int | None = None


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

    def files(self) -> dict[str, Path]:
        """The rendered files by output key (services.storage.sources.OUTPUTS), the record aside."""
        return {"srt": self.srt, "vtt": self.vtt, "poster": self.poster, "video": self.video}
