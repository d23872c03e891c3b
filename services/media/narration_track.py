"""The story's narration as one track, frame-exact: each page's speech placed at the sample where
the timeline starts it (services/timeline.py: lead-in, pauses, page turns), silence between, the
parts joined, then mixed, levelled and encoded once.

Every start and every part's length is a whole number of frames, so the story's sound can be
joined, resampled to 48 kHz (when the engine spoke at another rate: once, for
the whole story), mixed with the music (if any), brought to the target loudness and encoded to AAC
while the part clips are still being encoded. Assembly then only copies it under the joined clips.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from services import timeline
from services.media import soundtrack
from services.media.ffmpeg import AUDIO_SAMPLE_RATE
from services.settings import RenderOptions
from services.stages import TITLE_PART, PartClip, PartNarration, StorySoundtrack
from services.timeline import PartTiming, narration_timing


def write_part_audio(narration: PartNarration, timing: PartTiming, fps: int, target: Path) -> None:
    """The part's sound: each page's speech from the sample where its speech starts, silence
    around it, as long as the part's frames."""
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(narration.sample_rate)
        write_placed_pages(out, narration, timing, fps)


def write_placed_pages(
    out: wave.Wave_write,
    narration: PartNarration,
    timing: PartTiming,
    fps: int,
    first_frame: int = 0,
) -> None:
    """`write_part_audio`'s samples, into a WAV file open for writing (mono, 16-bit), for a part
    whose first frame is `first_frame` (of the file: where the sample edges fall when a frame
    is not a whole number of samples). A page's WAV past the next page's start (espeak-ng's
    trailing silence) is cut there."""
    rate = narration.sample_rate

    def sample(frame: int) -> int:
        return timeline.sample_at_frame(first_frame + frame, rate, fps)

    written = sample(0)
    edges = [*timing.speech_starts, timing.frames]
    for index, audio in enumerate(narration.pages):
        begin, until = sample(edges[index]), sample(edges[index + 1])
        out.writeframes(b"\x00\x00" * (begin - written))
        with wave.open(str(audio.wav), "rb") as spoken:
            samples = spoken.readframes(min(spoken.getnframes(), until - begin))
        out.writeframes(samples)
        written = begin + len(samples) // 2
    out.writeframes(b"\x00\x00" * (sample(timing.frames) - written))


# A part's sound: from its finished clip (re-used from an earlier run), or from its narration
# (a part being rendered now: its pages padded to their frame edges, as its clip's track is).
PartSound = PartClip | PartNarration


def join_narration(
    parts: Sequence[PartSound], options: RenderOptions, target: Path
) -> tuple[int, int, list[tuple[float, float]]]:
    """The parts' narration, one after another, as one WAV file; (samples, sample rate, where
    the narration speaks in seconds: `timeline.story_speech`).

    Each part starts at the sample where its first frame begins. At a rate where a frame is not
    a whole number of samples (espeak-ng's 22,050 Hz at 24 fps) a part's own track is rounded
    to its own length: it is cut or padded by that sample at its end, so the rounding never adds
    up over the parts."""
    if not parts:
        raise ValueError("a soundtrack needs at least one part")
    fps = options.fps
    frame = 0
    speech: list[tuple[float, float]] = []
    # The title card, when the story has one, comes first (always as its finished clip); the
    # part after it starts on its picture (timeline.part_timing's `after_title`).
    titled = isinstance(parts[0], PartClip) and parts[0].part_number == TITLE_PART
    with wave.open(str(target), "wb") as out:
        for index, part in enumerate(parts):
            if isinstance(part, PartClip):
                with wave.open(str(part.audio), "rb") as track:
                    if index == 0:
                        out.setparams(track.getparams())
                    _same_rate(out, track.getframerate(), part.part_number)
                    end = timeline.sample_at_frame(frame + part.frames, out.getframerate(), fps)
                    while out.getnframes() < end and (
                        chunk := track.readframes(min(1 << 16, end - out.getnframes()))
                    ):
                        out.writeframes(chunk)
                out.writeframes(b"\x00\x00" * (end - out.getnframes()))
                speech += timeline.story_speech([part], fps, first_frame=frame)
                frame += part.frames
                continue
            if index == 0:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(part.sample_rate)
            _same_rate(out, part.sample_rate, part.part_number)
            timing = narration_timing(
                part,
                options,
                first=index == int(titled),
                last=index == len(parts) - 1,
                after_title=titled and index == 1,
            )
            write_placed_pages(out, part, timing, fps, first_frame=frame)
            speech += [
                ((frame + start) / fps, (frame + end) / fps)
                for start, end in zip(timing.speech_starts, timing.speech_ends, strict=True)
            ]
            frame += timing.frames
        return out.getnframes(), out.getframerate(), speech


def _same_rate(out: wave.Wave_write, rate: int, part_number: int) -> None:
    if rate != out.getframerate():
        raise ValueError(
            f"part {part_number}: narration at {rate} Hz, the parts before it at "
            f"{out.getframerate()} Hz"
        )


def make_story_soundtrack(
    parts: Sequence[PartSound], options: RenderOptions, work_dir: Path, music: Path | None = None
) -> StorySoundtrack:
    """Join the parts' narration, mix in the music, level it and encode it to AAC once."""
    out_dir = work_dir / "soundtrack"
    out_dir.mkdir(parents=True, exist_ok=True)
    narration = out_dir / "narration.wav"
    joined, rate, speech = join_narration(parts, options, narration)
    # As many samples at the video's rate as the frames the pages were given.
    frames = round(Fraction(joined * options.fps, rate))
    samples = timeline.sample_at_frame(frames, AUDIO_SAMPLE_RATE, options.fps)
    sound = soundtrack.mix_soundtrack(
        narration,
        music,
        options.music_volume,
        out_dir,
        samples,
        speech=speech,
        min_pause=timeline.music_rises_after(timeline.pace_of(options.pace)),
    )
    encoded = out_dir / "soundtrack.m4a"
    loudness = soundtrack.encode_leveled(sound, encoded)
    return StorySoundtrack(
        audio=encoded,
        samples=samples,
        sample_rate=AUDIO_SAMPLE_RATE,
        loudness=loudness,
        music=sound.music,
    )
