"""Between stages 3 and 5: the story's soundtrack, made as soon as every part's narration exists.

A page lasts the whole number of frames its speech needs, which the narration alone decides, so
the story's sound can be joined, mixed with the music (if any), brought to the target loudness
and encoded to AAC while the part clips are still being encoded. Assembly then only copies it
under the joined clips (see tasks/assembly.py).
"""

from __future__ import annotations

import wave
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from services import soundtrack
from services.ffmpeg import Loudness
from services.settings import RenderOptions
from tasks.clips import PartClip, page_frames_of, write_padded_pages
from tasks.narration import PartNarration

# A part's sound: from its finished clip (re-used from an earlier run), or from its narration
# (a part being rendered now: its pages padded to their frame edges, as its clip's track is).
PartSound = PartClip | PartNarration


class StorySoundtrack(BaseModel):
    """The story's sound, encoded: AAC in an MP4 audio file, ready to be copied under the video."""

    audio: Path
    samples: int  # at the narration's sample rate: exactly as long as the joined clips
    sample_rate: int
    loudness: Loudness  # of the encoded file
    music: bool


def join_narration(parts: list[PartSound], fps: int, target: Path) -> tuple[int, int]:
    """The parts' narration, one after another, as one WAV file; (samples, sample rate)."""
    if not parts:
        raise ValueError("a soundtrack needs at least one part")
    with wave.open(str(target), "wb") as out:
        for index, part in enumerate(parts):
            if isinstance(part, PartClip):
                with wave.open(str(part.audio), "rb") as track:
                    if index == 0:
                        out.setparams(track.getparams())
                    while chunk := track.readframes(1 << 16):
                        out.writeframes(chunk)
                continue
            if index == 0:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(part.sample_rate)
            write_padded_pages(out, part, page_frames_of(part, fps), fps)
        return out.getnframes(), out.getframerate()


def make_story_soundtrack(
    parts: list[PartSound], options: RenderOptions, work_dir: Path, music: Path | None = None
) -> StorySoundtrack:
    """Join the parts' narration, mix in the music, level it and encode it to AAC once."""
    out_dir = work_dir / "soundtrack"
    out_dir.mkdir(parents=True, exist_ok=True)
    narration = out_dir / "narration.wav"
    samples, rate = join_narration(parts, options.fps, narration)
    sound = soundtrack.mix_soundtrack(narration, music, options.music_volume, out_dir)
    encoded = out_dir / "soundtrack.m4a"
    loudness = soundtrack.encode_leveled(sound, encoded)
    return StorySoundtrack(
        audio=encoded, samples=samples, sample_rate=rate, loudness=loudness, music=sound.music
    )


@task(name="make-soundtrack", cache_policy=NO_CACHE)
def make_soundtrack(
    parts: list[PartSound], options: RenderOptions, work_dir: Path, music: Path | None = None
) -> StorySoundtrack:
    return make_story_soundtrack(parts, options, work_dir, music)
