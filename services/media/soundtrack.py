"""The finished video's sound: background music ducked under the narration, at a standard loudness.

Everything here happens once per story, on the joined narration (PCM): finished parts never
depend on it, so adding, changing or removing music re-renders no part.

- **Music bed.** The music is decoded only as far as the video needs (a file of hours costs no
  more than a short one), looped without a seam when it is shorter (its end cross-fades into its
  beginning), faded in and out, and set to sit BED_BELOW_VOICE_DB under the voice where nobody
  speaks (plus the `music_volume` option).
- **Ducking.** Under speech the music drops DUCK_DB further, so it stays at least 12 dB under the
  voice. Where speech is comes from the timeline (services/timeline.py), which placed it: the
  music rises in the page-turn pauses, the opening and the ending, not between captions (without
  the timeline's spans, from silences of MIN_PAUSE seconds or more found by silencedetect); the
  gain follows a fixed envelope with gentle ramps, starting to
  fall before speech begins (the whole track is known in advance). A computed envelope, unlike a
  side-chain compressor keyed by the voice, does not pump between words and is the same every run.
- **Loudness.** Measure, then apply: the mix's integrated loudness is measured, a gain brings it
  to TARGET_LUFS, and a look-ahead limiter keeps peaks under a ceiling below the true-peak
  limit; the gain is corrected by measuring the limited result. The finished file is
  measured again after the AAC encode (`audio_graph.measure_loudness`).
"""

from __future__ import annotations

import array
import logging
import math
import wave
from dataclasses import dataclass, replace
from pathlib import Path

from services.media import audio_graph, ffmpeg, mux
from services.media.audio_graph import MusicBed
from services.media.ffmpeg import AUDIO_SAMPLE_RATE
from services.media.wav import wav_sample_count
from services.stages import Loudness

log = logging.getLogger(__name__)

TARGET_LUFS = -16.0
LOUDNESS_TOLERANCE = 1.0  # LU either side of the target
TRUE_PEAK_LIMIT = -1.0  # dBTP the finished file must stay under
LIMITER_CEILING = -2.3  # dBFS sample peak: room for peaks between samples and AAC's overshoot
SILENCE_LUFS = -69.0  # ebur128 says -70 when nothing is loud enough to measure
MAX_GAIN_DB = 30.0  # never lift a near-silent track further than this
LEVEL_PRECISION = 0.3  # LU: close enough to the target while finding the gain
# Gains tried side by side in one run, above the plain gain that would reach the target without
# the limiter: where the limiter takes little, the plain gain is close enough (music under the
# voice); espeak-ng's narration needs about 3 dB more. Each gain costs a limiter and a loudness
# meter over the whole track (as much as decoding it again), so two, not more.
LEVEL_CANDIDATES_DB = (0.0, 3.0)
LEVEL_ROUNDS = 3  # runs at most, when the target lies beyond the candidates

BED_BELOW_VOICE_DB = 8.0  # music where nobody speaks, under the voice's loudness
DUCK_DB = 12.0  # how much further the music drops under speech
MUSIC_FADE_IN = 1.0
MUSIC_FADE_OUT = 2.0
LOOP_CROSSFADE = 1.0  # seconds of the music's end laid over its beginning at a loop

SPEECH_SILENCE_DB = -50.0  # quieter than this is no speech
MIN_PAUSE = 1.0  # shorter pauses (between words, sentences) keep the music down
# In a page-turn pause of the relaxed pace (1.6 s) the music is up for 0.6 s.
DUCK_LEAD = 0.1  # the music is down this long before speech starts ...
DUCK_FALL = 0.3  # ... after falling for this long
DUCK_HOLD = 0.1  # it stays down this long after speech ends ...
DUCK_RISE = 0.5  # ... then rises for this long
ENVELOPE_RATE = 1000  # samples per second of the ducking envelope (ffmpeg interpolates)

MUSIC_CHECK_SECONDS = 120.0  # how much of a music file is decoded to check it
MIN_MUSIC_SECONDS = 1.0
SILENT_MUSIC_DB = -60.0  # a music file whose loudest sample is quieter than this is silent


class MusicProblem(ValueError):
    """The music file cannot be used; the message says why (without the file's name)."""


@dataclass(frozen=True)
class Soundtrack:
    """The audio to encode, and the gain that brings it to the target loudness."""

    audio: Path
    gain_db: float
    channels: int
    before: Loudness  # as mixed, before the gain
    music: bool


def check_music(path: Path) -> float:
    """Decode the start of a music file; return how many seconds were decoded, or raise
    MusicProblem (no audio, does not decode, too short, silent)."""
    try:
        checked = audio_graph.check_audio(path, MUSIC_CHECK_SECONDS)
    except ffmpeg.FfmpegError as error:
        reason = str(error).split(" | ")[-1].removeprefix(f"{path}:").strip()
        if reason == "it has no audio stream":
            raise MusicProblem("has no audio stream") from None
        raise MusicProblem(f"does not decode as audio (ffmpeg: {reason})") from None
    if checked.seconds == 0:
        raise MusicProblem("does not decode as audio (no sound could be read from it)")
    if checked.seconds < MIN_MUSIC_SECONDS:
        raise MusicProblem(f"is too short to play under the story (under {MIN_MUSIC_SECONDS:g} s)")
    if checked.peak_db < SILENT_MUSIC_DB:
        raise MusicProblem(
            f"is silent (no sound above {SILENT_MUSIC_DB:g} dBFS in its first "
            f"{min(checked.seconds, MUSIC_CHECK_SECONDS):.0f} s)"
        )
    return checked.seconds


def speech_spans(
    silences: list[tuple[float, float | None]], duration: float
) -> list[tuple[float, float]]:
    """Where someone speaks: the stretches between the long pauses."""
    spans: list[tuple[float, float]] = []
    position = 0.0
    for start, end in silences:
        if start > position:
            spans.append((position, min(start, duration)))
        position = duration if end is None else end
    if position < duration:
        spans.append((position, duration))
    return [(start, end) for start, end in spans if end > start]


def merged_spans(
    speech: list[tuple[float, float]], min_pause: float, duration: float
) -> list[tuple[float, float]]:
    """Speech spans with the pauses shorter than `min_pause` between them filled in."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(speech):
        start, end = max(0.0, start), min(duration, end)
        if end <= start:
            continue
        if merged and start - merged[-1][1] < min_pause:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def duck_gain(seconds: float, spans: list[tuple[float, float]]) -> float:
    """Music gain (0..1) at a time: 1 in pauses, -DUCK_DB under speech, ramps between."""
    low = 10 ** (-DUCK_DB / 20)
    depth = 0.0  # 0: full level, 1: ducked
    for start, end in spans:
        down_from, down_to = start - DUCK_LEAD - DUCK_FALL, start - DUCK_LEAD
        up_from, up_to = end + DUCK_HOLD, end + DUCK_HOLD + DUCK_RISE
        if seconds < down_from or seconds > up_to:
            continue
        if seconds < down_to:
            depth = max(depth, (seconds - down_from) / DUCK_FALL)
        elif seconds <= up_from:
            return low
        else:
            depth = max(depth, 1 - (seconds - up_from) / DUCK_RISE)
    # Ramps are linear in decibels, which sounds even.
    return 10 ** (-DUCK_DB * depth / 20)


def write_envelope(spans: list[tuple[float, float]], duration: float, target: Path) -> None:
    """The ducking gain as a mono 16-bit WAV at ENVELOPE_RATE."""
    count = math.ceil(duration * ENVELOPE_RATE) + 1
    values = array.array("h", bytes(2 * count))
    position = 0
    for start, end in spans:  # only samples near speech need computing; the rest stay at 1
        first = max(position, math.floor((start - DUCK_LEAD - DUCK_FALL) * ENVELOPE_RATE))
        for index in range(position, max(position, first)):
            values[index] = 32767
        last = min(count, math.ceil((end + DUCK_HOLD + DUCK_RISE) * ENVELOPE_RATE) + 1)
        for index in range(max(position, first), last):
            values[index] = round(32767 * duck_gain(index / ENVELOPE_RATE, spans))
        position = max(position, last)
    for index in range(position, count):
        values[index] = 32767
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(ENVELOPE_RATE)
        out.writeframes(values.tobytes())


def bed_gain_db(voice: Loudness, music: Loudness, music_volume: float) -> float:
    """Gain that sets the music BED_BELOW_VOICE_DB under the voice (plus taste) in pauses."""
    if music.integrated <= SILENCE_LUFS:
        return 0.0
    voice_level = voice.integrated if voice.integrated > SILENCE_LUFS else TARGET_LUFS
    return voice_level - BED_BELOW_VOICE_DB + music_volume - music.integrated


def mix_soundtrack(
    narration: Path,
    music: Path | None,
    music_volume: float,
    work_dir: Path,
    samples: int | None = None,
    speech: list[tuple[float, float]] | None = None,
    min_pause: float = MIN_PAUSE,
) -> Soundtrack:
    """The narration, with the music bed under it when there is music, and its loudness gain.

    `speech`: where the narration speaks (seconds), as the timeline placed it; the music ducks
    there and rises in pauses of at least `min_pause` (page turns, opening, ending). Without it,
    speech is found in the narration (silences of MIN_PAUSE or more).

    `narration` is mono 16-bit WAV at any rate; at another rate than AUDIO_SAMPLE_RATE it is
    resampled in the pass that measures it, to `samples` samples (by default, its own length at
    the new rate)."""
    with wave.open(str(narration), "rb") as audio:
        rate, count = audio.getframerate(), audio.getnframes()
    if rate == AUDIO_SAMPLE_RATE:
        total = count
        if music is None:
            voice = audio_graph.measure_loudness(narration, true_peak=False)
            return _leveled(narration, voice, channels=1, music=False)
        voice, silences = audio_graph.analyse_speech(narration, SPEECH_SILENCE_DB, MIN_PAUSE)
    else:
        total = samples or round(count * AUDIO_SAMPLE_RATE / rate)
        resampled = work_dir / f"{narration.stem}-{AUDIO_SAMPLE_RATE}.wav"
        voice, silences = audio_graph.analyse_speech(
            narration, SPEECH_SILENCE_DB, MIN_PAUSE, resampled, total
        )
        narration = resampled
        if music is None:
            return _leveled(narration, voice, channels=1, music=False)
    duration = total / AUDIO_SAMPLE_RATE

    decoded = work_dir / "music-decoded.wav"
    music_loudness = audio_graph.decode_music(music, duration + 0.1, decoded)
    envelope = work_dir / "ducking.wav"
    spans = (
        speech_spans(silences, duration)
        if speech is None
        else merged_spans(speech, min_pause, duration)
    )
    write_envelope(spans, duration, envelope)
    music_samples = wav_sample_count(decoded)
    bed = MusicBed(
        music=decoded,
        music_samples=music_samples,
        envelope=envelope,
        gain_db=bed_gain_db(voice, music_loudness, music_volume),
        fade_in=min(MUSIC_FADE_IN, duration / 4),
        fade_out=min(MUSIC_FADE_OUT, duration / 4),
        crossfade=min(round(LOOP_CROSSFADE * AUDIO_SAMPLE_RATE), music_samples // 4),
    )
    mixed = work_dir / "mix.wav"
    loudness = audio_graph.mix_music(narration, bed, total, mixed)
    return _leveled(mixed, loudness, channels=2, music=True)


def _leveled(audio: Path, measured: Loudness, *, channels: int, music: bool) -> Soundtrack:
    """Measure, then apply: the gain that brings the track to the target through the limiter."""
    if measured.integrated <= SILENCE_LUFS:
        return Soundtrack(audio, 0.0, channels, measured, music)  # nothing to bring up
    return Soundtrack(audio, limited_gain(audio, measured), channels, measured, music)


def limited_gain(audio: Path, measured: Loudness) -> float:
    """The gain that, with the limiter after it, brings `audio` to TARGET_LUFS.

    The limiter takes loudness off the peaks it lowers, the more so the higher the gain (speech
    with strong peaks, like espeak-ng's, loses a dB or more), so the gain is found by measuring the
    limited result: at a few gains side by side in one run (LEVEL_CANDIDATES_DB above the plain
    gain), then between the two that straddle the target; only when the target lies beyond them
    is another run made, stepping along the measured slope.
    """
    plain = min(MAX_GAIN_DB, TARGET_LUFS - measured.integrated)
    gains = sorted({min(MAX_GAIN_DB, plain + step) for step in LEVEL_CANDIDATES_DB})
    tried: dict[float, float] = {}
    gain = plain
    for _ in range(LEVEL_ROUNDS):
        results = audio_graph.leveled_loudnesses(audio, gains, LIMITER_CEILING)
        tried.update((g, result.integrated) for g, result in zip(gains, results, strict=True))
        if any(result <= SILENCE_LUFS for result in tried.values()):
            return plain  # nothing loud enough to measure: nothing to find
        gain, found = gain_for_target(tried)
        if found or gain in tried:
            break
        gains = [gain]
    return gain


def gain_for_target(tried: dict[float, float]) -> tuple[float, bool]:
    """From limited loudness measured at some gains (gain -> LUFS): the gain for TARGET_LUFS,
    and whether it is found (measured close enough, or between two measured gains) rather than
    guessed along the slope."""
    points = sorted(tried.items())
    closest = min(points, key=lambda point: abs(point[1] - TARGET_LUFS))
    if abs(closest[1] - TARGET_LUFS) <= LEVEL_PRECISION:
        return closest[0], True
    for (low_gain, low), (high_gain, high) in zip(points, points[1:], strict=False):
        if low <= TARGET_LUFS <= high and high > low:
            return low_gain + (TARGET_LUFS - low) * (high_gain - low_gain) / (high - low), True
    # Beyond the measured gains: along the slope of the nearest two (one LU per dB at most, as
    # without the limiter; at least 0.2, as the hardest-limited speech measured).
    near = points[-2:] if TARGET_LUFS > points[-1][1] else points[:2]
    slope = 1.0
    if len(near) == 2 and near[1][0] != near[0][0]:
        slope = min(1.0, max(0.2, (near[1][1] - near[0][1]) / (near[1][0] - near[0][0])))
    edge_gain, edge = near[-1] if TARGET_LUFS > points[-1][1] else near[0]
    return min(MAX_GAIN_DB, edge_gain + (TARGET_LUFS - edge) / slope), False


def level_filters(soundtrack: Soundtrack, ceiling: float = LIMITER_CEILING) -> str:
    return audio_graph.level_filters(soundtrack.gain_db, ceiling)


def within_target(loudness: Loudness) -> bool:
    """Whether a finished file meets the loudness target and the true-peak limit."""
    return (
        abs(loudness.integrated - TARGET_LUFS) <= LOUDNESS_TOLERANCE
        and loudness.true_peak <= TRUE_PEAK_LIMIT
    )


def encode_leveled(sound: Soundtrack, target: Path, ceiling: float = LIMITER_CEILING) -> Loudness:
    """Encode the soundtrack at its level to AAC (`target`, an .m4a) and measure the encoded
    file; should it miss the target, encode it once more with the gain corrected (and the
    ceiling lowered by any true-peak overshoot). Returns the loudness of the file written."""
    mux.encode_soundtrack(
        sound.audio,
        target,
        audio_filters=level_filters(sound, ceiling),
        audio_bitrate=ffmpeg.AUDIO_BITRATE if sound.channels == 1 else ffmpeg.STEREO_BITRATE,
    )
    loudness = audio_graph.measure_loudness(target)
    if sound.before.integrated <= SILENCE_LUFS or within_target(loudness):
        return loudness
    if ceiling != LIMITER_CEILING:
        log.warning(
            "the soundtrack measures %.1f LUFS, true peak %.1f dBTP (target %.0f LUFS, %.0f dBTP)",
            loudness.integrated,
            loudness.true_peak,
            TARGET_LUFS,
            TRUE_PEAK_LIMIT,
        )
        return loudness
    corrected = replace(sound, gain_db=sound.gain_db + TARGET_LUFS - loudness.integrated)
    overshoot = max(0.0, loudness.true_peak - TRUE_PEAK_LIMIT + 0.3)
    return encode_leveled(corrected, target, ceiling - overshoot - 0.01)
